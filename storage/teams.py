"""Queries for admins, team membership and workspace configuration."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.models import Admin, TeamMember, Workspace, WorkspaceConfig
from storage.queries import dialect_insert, ensure_workspace


def workspace_config(*, session: Session, team_id: str) -> WorkspaceConfig:
    """The workspace's configuration, created with defaults on first use (reading it writes nothing)."""
    config = session.get(WorkspaceConfig, team_id)
    if config is not None:
        return config
    ensure_workspace(session=session, team_id=team_id)
    session.execute(dialect_insert(session, WorkspaceConfig).values(team_id=team_id).on_conflict_do_nothing())
    return session.get(WorkspaceConfig, team_id, populate_existing=True)


def workspace_configs(*, session: Session, team_ids: Collection[str]) -> dict[str, WorkspaceConfig]:
    """Each workspace's configuration in one query; one not configured yet is created with defaults as above."""
    configs = {config.team_id: config for config in session.scalars(
        select(WorkspaceConfig).where(WorkspaceConfig.team_id.in_(team_ids)))} if team_ids else {}
    return {team_id: configs.get(team_id) or workspace_config(session=session, team_id=team_id) for team_id in team_ids}


def workspace_since(*, session: Session, team_id: str) -> datetime | None:
    """When Crossfeed first heard from the workspace."""
    workspace = session.get(Workspace, team_id)
    return workspace.created_at if workspace else None


def all_configs(*, session: Session) -> Sequence[WorkspaceConfig]:
    """The configuration of every workspace the clock works for: not those that uninstalled Crossfeed."""
    return session.scalars(select(WorkspaceConfig).join(Workspace, Workspace.team_id == WorkspaceConfig.team_id)
                           .where(Workspace.uninstalled_at.is_(None)).order_by(WorkspaceConfig.team_id)).all()


def workspaces_by_id(*, session: Session, team_ids: Iterable[str]) -> dict[str, Workspace]:
    """team id → its workspace row (its Grid org, its name), for those that exist."""
    return {w.team_id: w for w in session.scalars(select(Workspace).where(Workspace.team_id.in_(list(team_ids))))}


def admin_ids(*, session: Session, team_id: str) -> list[str]:
    return list(session.scalars(select(Admin.user_id).where(Admin.team_id == team_id).order_by(Admin.id)))


def add_admins(*, session: Session, team_id: str, user_ids: Iterable[str], added_by: str | None) -> None:
    rows = [dict(team_id=team_id, user_id=user_id, added_by=added_by) for user_id in dict.fromkeys(user_ids)]
    if rows:
        session.execute(dialect_insert(session, Admin).on_conflict_do_nothing(), rows)


def claim_first_admin(*, session: Session, team_id: str, user_id: str) -> bool:
    """Make `user_id` the workspace's first admin, unless someone already is (race-safe)."""
    claimed = session.execute(
        update(WorkspaceConfig)
        .where(WorkspaceConfig.team_id == team_id, WorkspaceConfig.first_admin_user_id.is_(None))
        .values(first_admin_user_id=user_id)
    ).rowcount
    if claimed:
        add_admins(session=session, team_id=team_id, user_ids=[user_id], added_by=None)
    return bool(claimed)


def team_members(*, session: Session, team_id: str) -> Sequence[TeamMember]:
    return session.scalars(
        select(TeamMember).where(TeamMember.team_id == team_id).order_by(TeamMember.side, TeamMember.id)
    ).all()


def put_members(*, session: Session, team_id: str, user_ids: Iterable[str], side: str, origin: str) -> None:
    """Put people in a team (moving them out of the other one); an explicit add wins over a sync."""
    statement = dialect_insert(session, TeamMember)
    rows = [dict(team_id=team_id, user_id=user_id, side=side, origin=origin) for user_id in dict.fromkeys(user_ids)]
    if not rows:
        return
    changes = dict(side=statement.excluded.side, origin=statement.excluded.origin)
    upsert = statement.on_conflict_do_update(index_elements=["team_id", "user_id"], set_=changes)
    if origin == "usergroup":
        upsert = statement.on_conflict_do_update(
            index_elements=["team_id", "user_id"], set_=changes, where=TeamMember.origin == "usergroup"
        )
    session.execute(upsert, rows)


def remove_members(*, session: Session, team_id: str, user_ids: Iterable[str]) -> int:
    return session.execute(
        delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id.in_(list(user_ids)))
    ).rowcount


def remove_members_except(*, session: Session, team_id: str, side: str, origin: str, keep: Iterable[str]) -> int:
    """Drop `side`'s members who came by `origin` ("usergroup" or "explicit") and are not in `keep`."""
    return session.execute(
        delete(TeamMember).where(
            TeamMember.team_id == team_id, TeamMember.side == side, TeamMember.origin == origin,
            TeamMember.user_id.not_in(list(keep)),
        )
    ).rowcount


def set_timezone_if_unset(*, session: Session, team_id: str, timezone: str) -> None:
    workspace_config(session=session, team_id=team_id)
    session.execute(
        update(WorkspaceConfig)
        .where(WorkspaceConfig.team_id == team_id, WorkspaceConfig.timezone.is_(None))
        .values(timezone=timezone)
    )


def forget_person(*, session: Session, team_id: str, user_id: str) -> dict[str, int]:
    """Delete what Crossfeed holds about one person; reasons and usage go with their rows (ON DELETE CASCADE)."""
    from storage.intel import forget_intel
    from storage.models import LeadRating, MessagingAnswer, OutboxMessage, PulseParticipation
    from storage.people import forget_person as forget_time

    deleted = {}
    for name, model, column in (
        ("lead ratings", LeadRating, LeadRating.rater_user_id),
        ("messaging answers", MessagingAnswer, MessagingAnswer.rep_user_id),
        ("pulse participation rows", PulseParticipation, PulseParticipation.user_id),
        ("queued DMs", OutboxMessage, OutboxMessage.channel),
    ):
        deleted[name] = session.execute(delete(model).where(model.team_id == team_id, column == user_id)).rowcount
    deleted["field intel items"] = forget_intel(session=session, team_id=team_id, user_id=user_id)
    deleted["time zone and time-off records"] = forget_time(session=session, team_id=team_id, user_id=user_id)
    return deleted
