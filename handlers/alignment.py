"""/alignment: setup, teams, admins, schedules, the digest, export and data rights."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from slack_bolt import Ack, App
from sqlalchemy.orm import Session

from bot.blocks.alignment import (
    forget_confirmation,
    forgotten_message,
    help_message,
    notice,
    roster_message,
    status_message,
)
from bot.blocks.digest import digest_message
from bot.blocks.ids import AlignmentIds, SetupIds
from bot.blocks.setup import NO_GROUP, setup_modal, setup_saved_view
from bot.container import Crossfeed
from bot.digest import build_weekly_digest, digest_week
from bot.digest_posting import post_digest
from bot.errors import InvalidInput, parse
from bot.export import export_csvs, export_weeks
from bot.setup import SetupForm, codes_in, save_setup, setup_state
from bot.teams import (
    add_admins,
    add_members,
    mentioned_channels,
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
from bot.workspace import set_digest_schedule, set_pulse_schedule, set_timezone, workspace_status
from storage.outbox import queue_home_refresh
from storage.teams import forget_person, set_timezone_if_unset, workspace_config


def _now() -> datetime:
    return datetime.now(UTC)


def _input_value(element: dict) -> object:
    """What one modal input holds, whatever its kind (empty selects send null)."""
    kind = element.get("type")
    if kind == "checkboxes":
        return [option.get("value") for option in element.get("selected_options") or []]
    if kind == "static_select":
        value = (element.get("selected_option") or {}).get("value")
        return None if value == NO_GROUP else value
    for key in ("selected_conversations", "selected_users"):
        if key in element:
            return element[key] or []
    for key in ("selected_conversation", "selected_time"):
        if key in element:
            return element[key]
    return element.get("value")


# What an admin command hands back: the confirmation, and optional work to do after ack.
Outcome = tuple[str, Callable[[dict], None] | None]


class Alignment:
    """Listeners for /alignment."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed
        self.admin_commands: dict[str, Callable[[Session, str, str, str, list[str]], Outcome]] = {
            "team add": self._team_add,
            "team remove": self._team_remove,
            "team group": self._team_group,
            "team sync": self._team_sync,
            "admin add": self._admin_add,
            "pulse schedule": self._pulse_schedule,
            "timezone": self._timezone,
            "digest post": self._digest_post,
            "digest channels": self._digest_channels,
            "digest schedule": self._digest_schedule,
            "export": self._export,
        }

    def on_command(self, ack: Ack, body: dict, context) -> None:
        raw = body.get("text", "")
        words = raw.casefold().split()
        name = words[0] if words[:1] in (["timezone"], ["forget"], ["export"], ["setup"]) else " ".join(words[:2])
        if name == "forget":
            return self._ask_to_forget(ack, context, raw)
        if name == "setup":
            return self._open_setup(ack, body, context)
        command = self.admin_commands.get(name)
        if command is None:
            return self._show(ack, context.team_id, words)
        with self.cf.transaction() as session:
            check = require_admin(
                session=session,
                team_id=context.team_id,
                user_id=context.user_id,
                configured=self.cf.settings.admin_user_ids,
            )
            done, follow_up = command(session, context.team_id, context.user_id, raw, words)
            queue_home_refresh(session=session, team_id=context.team_id, user_ids=[context.user_id], now=_now())
        text, blocks = notice(done, first_admin=check.became_first_admin)
        ack(text=text, blocks=blocks, response_type="ephemeral")
        if check.became_first_admin:
            self.cf.later(body, lambda: self._adopt_timezone(context.team_id, context.user_id))
        if follow_up:
            self.cf.later(body, lambda: follow_up(body))

    def _show(self, ack: Ack, team_id: str, words: list[str]) -> None:
        """`team list`, `admin list`, `digest [last]` previews, or help for anything else."""
        if words[:1] == ["digest"] and words[1:] in ([], ["last"]):
            with self.cf.transaction() as session:
                week, partial = digest_week(
                    session=session,
                    team_id=team_id,
                    now=_now(),
                    which=" ".join(words[1:]),
                    default_zone=self.cf.settings.workspace_timezone,
                )
                # The preview skips the 12-week trend so it answers within Slack's 3 seconds.
                digest = build_weekly_digest(
                    session=session, team_id=team_id, week=week, partial=partial, with_trend=False
                )
            text, blocks = digest_message(digest)
        elif words == ["status"]:
            with self.cf.transaction() as session:
                status = workspace_status(
                    session=session, team_id=team_id, now=_now(), configured_admins=self.cf.settings.admin_user_ids,
                    default_zone=self.cf.settings.workspace_timezone,
                    default_sales_channel=self.cf.settings.sales_channel,
                    default_lead_feed_channel=self.cf.settings.lead_feed_channel,
                )
            text, blocks = status_message(status)
        elif words[:1] in (["team"], ["admin"]) and words[1:2] == ["list"]:
            with self.cf.transaction() as session:
                text, blocks = roster_message(
                    roster(session=session, team_id=team_id, configured_admins=self.cf.settings.admin_user_ids)
                )
        else:
            text, blocks = help_message()
        ack(text=text, blocks=blocks, response_type="ephemeral")

    def _ask_to_forget(self, ack: Ack, context, raw: str) -> None:
        """`/alignment forget @user`: a confirmation step first (admins only)."""
        users = mentioned_users(raw)
        if len(users) != 1:
            raise InvalidInput({"user": "Mention one person, e.g. `/alignment forget @jane`."})
        with self.cf.transaction() as session:
            require_admin(session=session, team_id=context.team_id, user_id=context.user_id,
                          configured=self.cf.settings.admin_user_ids)
        text, blocks = forget_confirmation(users[0])
        ack(text=text, blocks=blocks, response_type="ephemeral")

    def _open_setup(self, ack: Ack, body: dict, context) -> None:
        """`/alignment setup` (admins): the configuration modal, prefilled."""
        with self.cf.transaction() as session:
            check = require_admin(session=session, team_id=context.team_id, user_id=context.user_id,
                                  configured=self.cf.settings.admin_user_ids)
        if not check.became_first_admin:
            ack()
            return self.cf.later(body, lambda: self._show_setup_modal(context.team_id, body["trigger_id"]))
        text, blocks = notice("Opening setup…", first_admin=True)
        ack(text=text, blocks=blocks, response_type="ephemeral")

        def adopt_then_show() -> None:
            # The modal shows the time zone just adopted, so saving it doesn't put UTC back.
            self._adopt_timezone(context.team_id, context.user_id)
            self._show_setup_modal(context.team_id, body["trigger_id"])

        self.cf.later(body, adopt_then_show)

    def _show_setup_modal(self, team_id: str, trigger_id: str) -> None:
        groups = self.cf.usergroup_choices()
        with self.cf.transaction() as session:
            state = setup_state(
                session=session, team_id=team_id, default_zone=self.cf.settings.workspace_timezone,
                default_sales_channel=self.cf.settings.sales_channel,
                default_lead_feed_channel=self.cf.settings.lead_feed_channel,
            )
        self.cf.client.views_open(trigger_id=trigger_id, view=setup_modal(state, usergroups=groups))

    def on_setup_submitted(self, ack: Ack, body: dict, view: dict, context) -> None:
        fields = {block: _input_value(element)
                  for block, elements in view["state"]["values"].items() for element in elements.values()}
        # What the modal showed when it opened (Slack sends the view back): only those codes can be retired.
        opened = {b.get("block_id"): (b.get("element") or {}).get("initial_value") for b in view.get("blocks", [])}
        shown = dict(
            shown_reasons=codes_in(opened.get(SetupIds.BAD_REASONS)) | codes_in(opened.get(SetupIds.GOOD_REASONS)),
            shown_sources=codes_in(opened.get(SetupIds.SOURCES)),
        )
        try:
            form = parse(SetupForm, {**fields, **shown})
            with self.cf.transaction() as session:
                require_admin(session=session, team_id=context.team_id, user_id=context.user_id,
                              configured=self.cf.settings.admin_user_ids)
                saved = save_setup(session=session, team_id=context.team_id, form=form, now=_now())
                queue_home_refresh(session=session, team_id=context.team_id, user_ids=[context.user_id], now=_now())
        except InvalidInput as invalid:
            blocks = set(fields)
            return ack(response_action="errors", errors={
                field if field in blocks else SetupIds.TIMEZONE: message for field, message in invalid.fields.items()
            })
        ack(response_action="update", view=setup_saved_view(saved))
        if saved.groups_to_sync:
            self.cf.later(body, lambda: self._read_usergroups(context.team_id, saved.groups_to_sync))

    def on_forget_confirmed(self, ack: Ack, action: dict, context, respond) -> None:
        ack()
        user_id = action["value"]
        with self.cf.transaction() as session:
            require_admin(session=session, team_id=context.team_id, user_id=context.user_id,
                          configured=self.cf.settings.admin_user_ids)
            deleted = forget_person(session=session, team_id=context.team_id, user_id=user_id)
        respond(text=forgotten_message(user_id, deleted), replace_original=True)

    def on_forget_cancelled(self, ack: Ack, respond) -> None:
        ack()
        respond(text="Cancelled: nothing was deleted.", replace_original=True)

    # --- admin commands ------------------------------------------------------------------------

    def _team_add(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        users, side = mentioned_users(raw), side_named(raw)
        add_members(session=session, team_id=team_id, user_ids=users, side=side)
        return f"Added {len(users)} {'person' if len(users) == 1 else 'people'} to {side}.", None

    def _team_remove(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        users = mentioned_users(raw)
        removed = remove_members(session=session, team_id=team_id, user_ids=users)
        return f"Removed {removed} of {len(users)} from their team.", None

    def _team_group(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        groups = mentioned_usergroups(raw)
        if len(groups) != 1:
            raise InvalidInput({"group": "Mention one user group, e.g. `/alignment team group @sales-team sales`."})
        side = side_named(raw)
        set_usergroup(session=session, team_id=team_id, side=side, usergroup_id=groups[0])
        return f"{side.title()} now follows <!subteam^{groups[0]}>. Run `/alignment team sync` to read it.", None

    def _team_sync(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        groups = usergroups(session=session, team_id=team_id)
        if not groups:
            return "No team has a user group yet: `/alignment team group @group sales|marketing`.", None
        return "Syncing teams from their user groups…", lambda body: self._sync(body, team_id, groups)

    def _admin_add(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        users = mentioned_users(raw)
        add_admins(session=session, team_id=team_id, user_ids=users, added_by=user_id)
        return f"{', '.join(f'<@{u}>' for u in users)} can now run admin commands.", None

    def _pulse_schedule(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        reads = set_pulse_schedule(session=session, team_id=team_id, words=words[2:])
        return f"Pulse checks now open {reads}, workspace time, from the next round on.", None

    def _timezone(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        zone = set_timezone(session=session, team_id=team_id, name=(raw.split()[1:2] or [""])[0])
        return f"Workspace time zone set to {zone}: schedules now follow it.", None

    def _digest_post(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        channels = list(workspace_config(session=session, team_id=team_id).digest_channels or [])
        if not channels:
            raise InvalidInput({"channels": "No digest channel yet: `/alignment digest channels #leadership`."})
        week, _ = digest_week(
            session=session, team_id=team_id, now=_now(), which="last", default_zone=self.cf.settings.workspace_timezone
        )

        def post(body: dict) -> None:
            outcomes = post_digest(self.cf.sessions, self.cf.client_for(team_id), team_id=team_id, channels=channels,
                                   week=week, now=_now())
            summary = ", ".join(f"<#{o.channel}>: {o.result}" for o in outcomes)
            self.cf.webhook(body["response_url"]).send(
                text=f"Digest {week.label}: {summary}.", response_type="ephemeral", replace_original=False
            )

        return f"Posting the digest of {week.label}…", post

    def _digest_channels(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        channels = mentioned_channels(raw)
        if not channels:
            raise InvalidInput({"channels": "Mention the channels, e.g. `/alignment digest channels #leadership`."})
        workspace_config(session=session, team_id=team_id).digest_channels = channels
        listed = ", ".join(f"<#{c}>" for c in channels)
        return f"The weekly digest will be posted to {listed}. Invite Crossfeed to private channels.", None

    def _digest_schedule(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        reads = set_digest_schedule(session=session, team_id=team_id, words=words[2:])
        return f"The weekly digest will be posted {reads}, workspace time.", None

    def _export(self, session: Session, team_id: str, user_id: str, raw: str, words: list[str]) -> Outcome:
        weeks = export_weeks(" ".join(words[1:]))

        def send(body: dict) -> None:
            with self.cf.transaction() as export_session:
                files = export_csvs(session=export_session, team_id=team_id, now=_now(), weeks=weeks,
                                    default_zone=self.cf.settings.workspace_timezone)
            dm = self.cf.client.conversations_open(users=user_id)["channel"]["id"]
            self.cf.client.files_upload_v2(
                channel=dm, initial_comment=f"Crossfeed export: the last {weeks} complete weeks and this week so far.",
                file_uploads=[{"content": text, "filename": name, "title": name} for name, text in files.items()],
            )

        return (f"Preparing the export of the last {weeks} complete weeks and this week so far; "
                "it will arrive in your DMs."), send

    # --- after ack -------------------------------------------------------------------------------

    def _sync(self, body: dict, team_id: str, groups: dict[str, str]) -> None:
        members = self._read_usergroups(team_id, groups)
        summary = ", ".join(f"{side}: {count} from the user group" for side, count in members.items())
        self.cf.webhook(body["response_url"]).send(
            text=f"Teams synced ({summary}).", response_type="ephemeral", replace_original=False
        )

    def _read_usergroups(self, team_id: str, groups: dict[str, str]) -> dict[str, int]:
        """Make each team's synced members its user group's members; returns how many each has."""
        members = {
            side: self.cf.client.usergroups_users_list(usergroup=group)["users"] for side, group in groups.items()
        }
        with self.cf.transaction() as session:
            for side, user_ids in members.items():
                sync_from_usergroup(session=session, team_id=team_id, side=side, user_ids=user_ids)
        return {side: len(user_ids) for side, user_ids in members.items()}

    def _adopt_timezone(self, team_id: str, user_id: str) -> None:
        # The first admin is, in practice, whoever installed Crossfeed: their time zone is the default.
        if self.cf.settings.workspace_timezone:
            return
        zone = self.cf.client.users_info(user=user_id)["user"].get("tz")
        if zone:
            with self.cf.transaction() as session:
                set_timezone_if_unset(session=session, team_id=team_id, timezone=zone)
                queue_home_refresh(session=session, team_id=team_id, user_ids=[user_id], now=_now())

    def register(self, app: App) -> None:
        app.command("/alignment")(self.on_command)
        app.action(AlignmentIds.FORGET_CONFIRM)(self.on_forget_confirmed)
        app.action(AlignmentIds.FORGET_CANCEL)(self.on_forget_cancelled)
        app.view(SetupIds.MODAL)(self.on_setup_submitted)


def register(app: App, crossfeed: Crossfeed) -> None:
    Alignment(crossfeed).register(app)
