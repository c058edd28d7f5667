"""The admin service behind `/alignment`: teams, admins, schedules, the digest, setup, export and forgetting.

It takes what it needs, not the app container: a way to open a transaction, `client_for` for its Slack
calls (reading user groups, a person's time zone, uploading the export) and how to post a digest. It hands
back plain results; the listener renders them and says the follow-ups' words through the response_url.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot import admin_commands as commands
from bot.actions import forget_in_actions
from bot.digest import build_weekly_digest, digest_week
from bot.errors import InvalidInput
from bot.export import export_csvs
from bot.replies import forget_replies
from bot.results.digest import Week, WeeklyDigest
from bot.results.setup import SavedSetup, SetupState
from bot.results.teams import Roster
from bot.results.workspace import WorkspaceStatus
from bot.setup import SetupForm, save_setup, setup_state
from bot.skipped_weeks import skip_week, skipped_weeks, unskip_week
from bot.teams import (
    AdminCheck,
    add_admins,
    add_members,
    remove_members,
    require_admin,
    roster,
    set_usergroup,
    sync_from_usergroup,
    usergroups,
)
from bot.workspace import (
    digest_channels,
    set_digest_channels,
    set_digest_schedule,
    set_pulse_schedule,
    set_timezone,
    workspace_status,
)
from storage.handoff import forget_in_leads
from storage.installations import forget_installer
from storage.outbox import queue_home_refresh
from storage.teams import forget_person, set_timezone_if_unset

if TYPE_CHECKING:
    from bot.container import ClientFor
    from bot.settings import Settings

Transaction = Callable[[], AbstractContextManager[Session]]
# Posts a week's digest to channels, once each; returns what happened in each ("posted", "already posted", …).
PostDigest = Callable[..., list]
# After-ack work; what it returns, if anything, is said to the admin through the command's response_url.
FollowUp = Callable[[], str | None]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AdminOutcome:
    """What an admin command did: its confirmation, whether it made the first admin, and work for after the ack."""

    done: str
    became_first_admin: bool
    follow_up: FollowUp | None = None


class AdminService:
    def __init__(self, *, transaction: Transaction, client_for: ClientFor, settings: Settings,
                 post_digest: PostDigest, now: Callable[[], datetime] = _now):
        self.transaction = transaction
        self.client_for = client_for
        self.settings = settings
        self.post_digest = post_digest
        self.now = now

    # --- who may ---------------------------------------------------------------------------------

    def require_admin(self, *, team_id: str, user_id: str) -> AdminCheck:
        """Let an admin through (in a workspace with none yet, this person becomes the first); NotAllowed if not."""
        with self.transaction() as session:
            return self._require_admin(session, team_id, user_id)

    def refuse_unless_admin(self, *, team_id: str, user_id: str) -> None:
        """NotAllowed for someone who may not run admin commands; changes nothing, so no first admin is made."""
        with self.transaction() as session:
            require_admin(session=session, team_id=team_id, user_id=user_id, configured=self.settings.admin_user_ids,
                          make_first_admin=False)

    def _require_admin(self, session: Session, team_id: str, user_id: str) -> AdminCheck:
        return require_admin(session=session, team_id=team_id, user_id=user_id,
                             configured=self.settings.admin_user_ids)

    # --- admin commands ------------------------------------------------------------------------

    def run(self, command: commands.Command, *, team_id: str, user_id: str) -> AdminOutcome:
        """Run an admin command in one transaction with the admin check: all of it, or (refused) none of it."""
        with self.transaction() as session:
            check = self._require_admin(session, team_id, user_id)
            done, follow_up = self._apply(session, command, team_id, user_id)
            queue_home_refresh(session=session, team_id=team_id, user_ids=[user_id], now=self.now())
        return AdminOutcome(done=done, became_first_admin=check.became_first_admin, follow_up=follow_up)

    def _apply(self, session: Session, command: commands.Command, team_id: str,
               user_id: str) -> tuple[str, FollowUp | None]:
        match command:
            case commands.TeamAdd(users=users, side=side):
                add_members(session=session, team_id=team_id, user_ids=users, side=side)
                return f"Added {len(users)} {'person' if len(users) == 1 else 'people'} to {side}.", None
            case commands.TeamRemove(users=users):
                removed = remove_members(session=session, team_id=team_id, user_ids=users)
                return f"Removed {removed} of {len(users)} from their team.", None
            case commands.TeamGroup(group=group, side=side):
                set_usergroup(session=session, team_id=team_id, side=side, usergroup_id=group)
                return f"{side.title()} now follows <!subteam^{group}>. Run `/alignment team sync` to read it.", None
            case commands.TeamSync():
                groups = usergroups(session=session, team_id=team_id)
                if not groups:
                    return "No team has a user group yet: `/alignment team group @group sales|marketing`.", None
                return "Syncing teams from their user groups…", lambda: self._synced(team_id, groups)
            case commands.AdminAdd(users=users):
                add_admins(session=session, team_id=team_id, user_ids=users, added_by=user_id)
                return f"{', '.join(f'<@{u}>' for u in users)} can now run admin commands.", None
            case commands.PulseSchedule(cadence=cadence, day=day, time=time):
                reads = set_pulse_schedule(session=session, team_id=team_id, cadence=cadence, day=day, time=time)
                return f"Pulse checks now open {reads}, workspace time, from the next round on.", None
            case commands.PulseSkip(week=None):
                return skipped_weeks(session=session, team_id=team_id, now=self.now(),
                                     default_zone=self.settings.workspace_timezone), None
            case commands.PulseSkip(week=week):
                return skip_week(session=session, team_id=team_id, label=week, now=self.now(),
                                 default_zone=self.settings.workspace_timezone), None
            case commands.PulseUnskip(week=week):
                return unskip_week(session=session, team_id=team_id, label=week, now=self.now(),
                                   default_zone=self.settings.workspace_timezone), None
            case commands.Timezone(name=name):
                set_timezone(session=session, team_id=team_id, name=name)
                return f"Workspace time zone set to {name}: schedules now follow it.", None
            case commands.DigestPost():
                return self._digest_post(session, team_id)
            case commands.DigestChannels(channels=channels):
                set_digest_channels(session=session, team_id=team_id, channels=channels)
                listed = ", ".join(f"<#{c}>" for c in channels)
                return f"The weekly digest will be posted to {listed}. Invite Crossfeed to private channels.", None
            case commands.DigestSchedule(day=day, time=time):
                reads = set_digest_schedule(session=session, team_id=team_id, day=day, time=time)
                return f"The weekly digest will be posted {reads}, workspace time.", None
            case commands.Export(weeks=weeks):
                return (f"Preparing the export of the last {weeks} complete weeks and this week so far; "
                        "it will arrive in your DMs."), lambda: self.send_export(team_id, user_id, weeks)
        raise TypeError(f"not an admin command: {type(command).__name__}")

    def _digest_post(self, session: Session, team_id: str) -> tuple[str, FollowUp]:
        channels = digest_channels(session=session, team_id=team_id)
        if not channels:
            raise InvalidInput({"channels": "No digest channel yet: `/alignment digest channels #leadership`."})
        week, _ = digest_week(session=session, team_id=team_id, now=self.now(), which="last",
                              default_zone=self.settings.workspace_timezone)
        return f"Posting the digest of {week.label}…", lambda: self._posted(team_id, week)

    # --- after the ack -----------------------------------------------------------------------------

    def _posted(self, team_id: str, week: Week) -> str:
        outcomes = self.post_digest(team_id=team_id, week=week, now=self.now())
        summary = ", ".join(f"<#{o.channel}>: {o.result}" for o in outcomes)
        return f"Digest {week.label}: {summary}."

    def _synced(self, team_id: str, groups: dict[str, str]) -> str:
        members = self.sync_usergroups(team_id, groups)
        summary = ", ".join(f"{side}: {count} from the user group" for side, count in members.items())
        return f"Teams synced ({summary})."

    def sync_usergroups(self, team_id: str, groups: dict[str, str]) -> dict[str, int]:
        """Make each team's synced members its user group's members; returns how many each has."""
        client = self.client_for(team_id)
        members = {side: client.usergroups_users_list(usergroup=group)["users"] for side, group in groups.items()}
        with self.transaction() as session:
            for side, user_ids in members.items():
                sync_from_usergroup(session=session, team_id=team_id, side=side, user_ids=user_ids)
        return {side: len(user_ids) for side, user_ids in members.items()}

    def send_export(self, team_id: str, user_id: str, weeks: int) -> None:
        """The CSVs, uploaded to the admin's DM."""
        with self.transaction() as session:
            files = export_csvs(session=session, team_id=team_id, now=self.now(), weeks=weeks,
                                default_zone=self.settings.workspace_timezone)
        client = self.client_for(team_id)
        dm = client.conversations_open(users=user_id)["channel"]["id"]
        client.files_upload_v2(
            channel=dm, initial_comment=f"Crossfeed export: the last {weeks} complete weeks and this week so far.",
            file_uploads=[{"content": text, "filename": name, "title": name} for name, text in files.items()],
        )

    def adopt_timezone(self, team_id: str, user_id: str) -> None:
        """The first admin is, in practice, whoever installed Crossfeed: their time zone becomes the default."""
        if self.settings.workspace_timezone:
            return
        zone = self.client_for(team_id).users_info(user=user_id)["user"].get("tz")
        if zone:
            with self.transaction() as session:
                set_timezone_if_unset(session=session, team_id=team_id, timezone=zone)
                queue_home_refresh(session=session, team_id=team_id, user_ids=[user_id], now=self.now())

    # --- what anyone may read ----------------------------------------------------------------------

    def digest_preview(self, team_id: str, which: str) -> WeeklyDigest:
        """`/alignment digest [last]`: this week so far, or last week."""
        with self.transaction() as session:
            week, partial = digest_week(session=session, team_id=team_id, now=self.now(), which=which,
                                        default_zone=self.settings.workspace_timezone)
            # The preview skips the 12-week trend so it answers within Slack's 3 seconds.
            return build_weekly_digest(session=session, team_id=team_id, week=week, partial=partial,
                                       with_trend=False)

    def status(self, team_id: str) -> WorkspaceStatus:
        with self.transaction() as session:
            return workspace_status(
                session=session, team_id=team_id, now=self.now(), configured_admins=self.settings.admin_user_ids,
                default_zone=self.settings.workspace_timezone, default_sales_channel=self.settings.sales_channel,
                default_lead_feed_channel=self.settings.lead_feed_channel,
            )

    def roster(self, team_id: str) -> Roster:
        with self.transaction() as session:
            return roster(session=session, team_id=team_id, configured_admins=self.settings.admin_user_ids)

    # --- setup and forgetting ----------------------------------------------------------------------

    def setup_state(self, team_id: str) -> SetupState:
        with self.transaction() as session:
            return setup_state(session=session, team_id=team_id, default_zone=self.settings.workspace_timezone,
                               default_sales_channel=self.settings.sales_channel,
                               default_lead_feed_channel=self.settings.lead_feed_channel)

    def save_setup(self, *, team_id: str, user_id: str, form: SetupForm) -> SavedSetup:
        """The whole form, by an admin, in one transaction."""
        with self.transaction() as session:
            self._require_admin(session, team_id, user_id)
            queue_home_refresh(session=session, team_id=team_id, user_ids=[user_id], now=self.now())
            return save_setup(session=session, team_id=team_id, form=form, now=self.now())

    def forget(self, *, team_id: str, user_id: str, person: str) -> dict[str, int]:
        """Delete what Crossfeed holds about `person` (admins only); returns how many rows of each kind went."""
        with self.transaction() as session:
            self._require_admin(session, team_id, user_id)
            # Replies first: which are theirs is read through their ratings, which go next.
            replies = forget_replies(session=session, team_id=team_id, user_id=person, now=self.now())
            deleted = forget_person(session=session, team_id=team_id, user_id=person)
            installed = forget_installer(session=session, team_id=team_id, user_id=person)
            return {**deleted, "replies to feedback": replies,
                    **forget_in_actions(session=session, team_id=team_id, person=person, admin=user_id),
                    **forget_in_leads(session=session, team_id=team_id, user_id=person),
                    # Only where it applies: a workspace installed by OAuth, by this person.
                    **({"installation records naming them as the installer": installed} if installed else {})}
