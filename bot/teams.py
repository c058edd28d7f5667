"""Teams (sales and marketing) and admins: who is asked, and who may change things."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.errors import NotAllowed
from bot.results.teams import SIDES, Roster
from storage import teams as store


@dataclass(frozen=True)
class AdminCheck:
    became_first_admin: bool


def require_admin(*, session: Session, team_id: str, user_id: str, configured: frozenset[str],
                  make_first_admin: bool = True) -> AdminCheck:
    """Let an admin through; in a workspace with no admin yet, make this person the first one (or, without
    `make_first_admin`, only let them through)."""
    store.workspace_config(session=session, team_id=team_id)
    admins = set(store.admin_ids(session=session, team_id=team_id)) | configured
    if user_id in admins:
        return AdminCheck(became_first_admin=False)
    if not admins and not make_first_admin:
        return AdminCheck(became_first_admin=False)
    if not admins and store.claim_first_admin(session=session, team_id=team_id, user_id=user_id):
        return AdminCheck(became_first_admin=True)
    admins = set(store.admin_ids(session=session, team_id=team_id)) | configured
    listed = ", ".join(f"<@{admin}>" for admin in sorted(admins))
    raise NotAllowed(f"Only Crossfeed admins can do that. Ask one of them: {listed}.")


def add_admins(*, session: Session, team_id: str, user_ids: list[str], added_by: str) -> None:
    store.add_admins(session=session, team_id=team_id, user_ids=user_ids, added_by=added_by)


def add_members(*, session: Session, team_id: str, user_ids: list[str], side: str) -> None:
    store.workspace_config(session=session, team_id=team_id)
    store.put_members(session=session, team_id=team_id, user_ids=user_ids, side=side, origin="explicit")


def remove_members(*, session: Session, team_id: str, user_ids: list[str]) -> int:
    return store.remove_members(session=session, team_id=team_id, user_ids=user_ids)


def set_usergroup(*, session: Session, team_id: str, side: str, usergroup_id: str) -> None:
    config = store.workspace_config(session=session, team_id=team_id)
    setattr(config, f"{side}_usergroup_id", usergroup_id)


def usergroups(*, session: Session, team_id: str) -> dict[str, str]:
    """side → user group id, for the teams that have one."""
    config = store.workspace_config(session=session, team_id=team_id)
    return {side: group for side in SIDES if (group := getattr(config, f"{side}_usergroup_id"))}


def sync_from_usergroup(*, session: Session, team_id: str, side: str, user_ids: list[str]) -> None:
    """Make the synced members of `side` exactly the user group's members; explicit ones stay."""
    store.remove_members_except(session=session, team_id=team_id, side=side, origin="usergroup", keep=user_ids)
    store.put_members(session=session, team_id=team_id, user_ids=user_ids, side=side, origin="usergroup")


def roster(*, session: Session, team_id: str, configured_admins: frozenset[str]) -> Roster:
    config = store.workspace_config(session=session, team_id=team_id)
    members: dict[str, list[tuple[str, str]]] = {side: [] for side in SIDES}
    for member in store.team_members(session=session, team_id=team_id):
        members[member.side].append((member.user_id, member.origin))
    return Roster(
        names={"sales": config.sales_name, "marketing": config.marketing_name},
        members=members,
        usergroups=usergroups(session=session, team_id=team_id),
        admins=sorted(set(store.admin_ids(session=session, team_id=team_id)) | configured_admins),
    )
