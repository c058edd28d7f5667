"""/alignment: teams and admins (setup, digest and export come with later issues)."""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.app import Crossfeed, error_reply
from bot.blocks.alignment import help_message, notice, roster_message
from bot.teams import (
    add_admins,
    add_members,
    mentioned_usergroups,
    mentioned_users,
    remove_members,
    require_admin,
    roster,
    set_usergroup,
    side_named,
    sync_from_usergroup,
    usergroups,
)
from storage.teams import set_timezone_if_unset


class Alignment:
    """Listeners for /alignment."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed
        self.report = error_reply(crossfeed)

    def on_command(self, ack: Ack, body: dict, context) -> None:
        raw = body.get("text", "")
        words = raw.casefold().split()
        command = " ".join(words[:2])
        team_id, user_id = context.team_id, context.user_id
        if command in ("team list", "admin list") or not words or words[0] == "help":
            return self._show(ack, team_id, words)
        if command not in ("team add", "team remove", "team sync", "team group", "admin add"):
            return self._show(ack, team_id, ["help"])
        with self.cf.transaction() as session:
            check = require_admin(session=session, team_id=team_id, user_id=user_id,
                                  configured=self.cf.settings.admin_user_ids)
            users = mentioned_users(raw)
            if command == "team add":
                side = side_named(raw)
                add_members(session=session, team_id=team_id, user_ids=users, side=side)
                done = f"Added {len(users)} {'person' if len(users) == 1 else 'people'} to {side}."
            elif command == "team remove":
                removed = remove_members(session=session, team_id=team_id, user_ids=users)
                done = f"Removed {removed} of {len(users)} from their team."
            elif command == "team group":
                groups = mentioned_usergroups(raw)
                if len(groups) != 1:
                    return ack(text="Mention one user group, e.g. `/alignment team group @sales-team sales`.",
                               response_type="ephemeral")
                side = side_named(raw)
                set_usergroup(session=session, team_id=team_id, side=side, usergroup_id=groups[0])
                done = f"{side.title()} now follows <!subteam^{groups[0]}>. Run `/alignment team sync` to read it."
            elif command == "team sync":
                groups = usergroups(session=session, team_id=team_id)
                done = ("Syncing teams from their user groups…" if groups else
                        "No team has a user group yet: `/alignment team group @group sales|marketing`.")
            else:
                add_admins(session=session, team_id=team_id, user_ids=users, added_by=user_id)
                done = f"{', '.join(f'<@{u}>' for u in users)} can now run admin commands."
        text, blocks = notice(done, first_admin=check.became_first_admin)
        ack(text=text, blocks=blocks, response_type="ephemeral")
        if check.became_first_admin:
            self.cf.after_ack.run(self._adopt_timezone, team_id, user_id, on_error=self._reporter(body))
        if command == "team sync" and groups:
            self.cf.after_ack.run(self._sync, body, team_id, groups, on_error=self._reporter(body))

    def _show(self, ack: Ack, team_id: str, words: list[str]) -> None:
        if words[:1] in (["team"], ["admin"]):
            with self.cf.transaction() as session:
                text, blocks = roster_message(roster(session=session, team_id=team_id,
                                                     configured_admins=self.cf.settings.admin_user_ids))
        else:
            text, blocks = help_message()
        ack(text=text, blocks=blocks, response_type="ephemeral")

    # --- after ack -------------------------------------------------------------------------------

    def _sync(self, body: dict, team_id: str, groups: dict[str, str]) -> None:
        members = {side: self.cf.client.usergroups_users_list(usergroup=group)["users"]
                   for side, group in groups.items()}
        with self.cf.transaction() as session:
            for side, user_ids in members.items():
                sync_from_usergroup(session=session, team_id=team_id, side=side, user_ids=user_ids)
        summary = ", ".join(f"{side}: {len(ids)} from the user group" for side, ids in members.items())
        self.cf.webhook(body["response_url"]).send(text=f"Teams synced ({summary}).", response_type="ephemeral",
                                                   replace_original=False)

    def _adopt_timezone(self, team_id: str, user_id: str) -> None:
        # The first admin is, in practice, whoever installed Crossfeed: their time zone is the default.
        if self.cf.settings.workspace_timezone:
            return
        zone = self.cf.client.users_info(user=user_id)["user"].get("tz")
        if zone:
            with self.cf.transaction() as session:
                set_timezone_if_unset(session=session, team_id=team_id, timezone=zone)

    def _reporter(self, body: dict):
        def report(error: Exception) -> None:
            self.report(error=error, body={**body, "type": "after_ack"}, request=None, response=None)

        return report

    def register(self, app: App) -> None:
        app.command("/alignment")(self.on_command)


def register(app: App, crossfeed: Crossfeed) -> None:
    Alignment(crossfeed).register(app)
