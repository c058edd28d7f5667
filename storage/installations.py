"""Installs into many workspaces: slack-sdk's SQLAlchemy installation and OAuth state stores on the app's own
engine, whether a workspace is installed, and the deletion of an uninstalled workspace's rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, MetaData, and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Base, Workspace
from storage.queries import ensure_workspace

logger = logging.getLogger(__name__)

INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"
OAUTH_STATES_TABLE = "slack_oauth_states"

# The stores' tables exactly as the stores build them, for migration 0012 and for `alembic check`
# (storage/migrations/env.py compares them beside Base.metadata).
INSTALLATION_METADATA = MetaData()
SQLAlchemyInstallationStore.build_installations_table(INSTALLATION_METADATA, INSTALLATIONS_TABLE)
SQLAlchemyInstallationStore.build_bots_table(INSTALLATION_METADATA, BOTS_TABLE)
SQLAlchemyOAuthStateStore.build_oauth_states_table(INSTALLATION_METADATA, OAUTH_STATES_TABLE)
ALL_METADATA = [Base.metadata, INSTALLATION_METADATA]


class WorkspaceInstallationStore(SQLAlchemyInstallationStore):
    """slack-sdk's store; saving an installation also marks its workspace installed (again), so that a
    reinstall within the retention period keeps the workspace's data."""

    def __init__(self, *, client_id: str, engine: Engine):
        super().__init__(client_id=client_id, engine=engine, logger=logger)
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def save(self, installation: Installation) -> None:
        super().save(installation)
        # An org-wide install has no team: its workspaces are recorded from auth.teams.list (bot/installs.py), or
        # as their requests arrive.
        if installation.team_id:
            with self.sessions.begin() as session:
                mark_installed(session=session, team_id=installation.team_id,
                               enterprise_id=installation.enterprise_id, name=installation.team_name)


def oauth_state_store(engine: Engine, expiration_seconds: int) -> SQLAlchemyOAuthStateStore:
    return SQLAlchemyOAuthStateStore(expiration_seconds=expiration_seconds, engine=engine, logger=logger)


NAME_LENGTH = Workspace.__table__.c.name.type.length


def mark_installed(*, session: Session, team_id: str, enterprise_id: str | None = None,
                   name: str | None = None) -> None:
    """The workspace is installed: it exists (with its defaults) and carries no uninstall mark; `name`, when
    Slack gave one, is kept (else the one known stays)."""
    ensure_workspace(session=session, team_id=team_id)
    values: dict = dict(uninstalled_at=None, enterprise_id=enterprise_id)
    if name:
        values["name"] = name[:NAME_LENGTH]
    session.execute(update(Workspace).where(Workspace.team_id == team_id).values(**values))


def rename_workspace(*, session: Session, team_id: str, name: str) -> None:
    """Slack says the workspace is now called `name` (a workspace Crossfeed doesn't know stays unknown)."""
    session.execute(update(Workspace).where(Workspace.team_id == team_id).values(name=name[:NAME_LENGTH]))


def mark_uninstalled(*, session: Session, team_id: str, now: datetime) -> None:
    """The workspace was uninstalled at `now` (the first time Slack said so counts)."""
    session.execute(update(Workspace).where(Workspace.team_id == team_id, Workspace.uninstalled_at.is_(None))
                    .values(uninstalled_at=now))


def mark_org_uninstalled(*, session: Session, enterprise_id: str, now: datetime,
                         team_ids: Sequence[str] | None = None) -> list[str]:
    """An org-wide install was removed (or, with `team_ids`, its access to those workspaces revoked): each
    workspace of the org it served (of those) is uninstalled at `now`, unless it has an install of its own; the
    workspaces so marked."""
    bots = INSTALLATION_METADATA.tables[BOTS_TABLE]
    own_install = select(bots.c.id).where(bots.c.team_id == Workspace.team_id, bots.c.bot_token.is_not(None))
    query = (update(Workspace)
             .where(Workspace.enterprise_id == enterprise_id, Workspace.uninstalled_at.is_(None),
                    ~own_install.exists()))
    if team_ids is not None:
        query = query.where(Workspace.team_id.in_(list(team_ids)))
    return list(session.scalars(query.values(uninstalled_at=now).returning(Workspace.team_id)).all())


def note_org_workspaces(*, session: Session, enterprise_id: str,
                        teams: Sequence[tuple[str, str | None]]) -> None:
    """The org-wide install speaks in these workspaces of the org, (team id, name or None) each: they exist,
    installed, in their org (so that jobs find the org's token for them), named when Slack gave a name."""
    for team_id, name in teams:
        mark_installed(session=session, team_id=team_id, enterprise_id=enterprise_id, name=name)


def uninstalled_at(*, session: Session, team_id: str, lock: bool = False) -> datetime | None:
    """When the workspace was uninstalled (None: it is installed, or unknown); `lock` holds its row until the
    transaction ends, so that a reinstall waits for a deletion that has begun."""
    query = select(Workspace.uninstalled_at).where(Workspace.team_id == team_id)
    return session.scalar(query.with_for_update() if lock else query)


def bot_token_for(*, session: Session, client_id: str, team_id: str) -> str | None:
    """The newest bot token that speaks for the workspace: its own install's, or its Enterprise Grid org's
    org-wide install's (the workspace's org as recorded when it was installed or first seen), unless the org's
    access to the workspace was revoked since (it is marked uninstalled)."""
    bots = INSTALLATION_METADATA.tables[BOTS_TABLE]
    org = (select(Workspace.enterprise_id).where(Workspace.team_id == team_id, Workspace.uninstalled_at.is_(None))
           .scalar_subquery())
    query = (select(bots.c.bot_token)
             .where(bots.c.client_id == client_id, bots.c.bot_token.is_not(None),
                    or_(bots.c.team_id == team_id,
                        and_(bots.c.team_id.is_(None), bots.c.is_enterprise_install.is_(True),
                             bots.c.enterprise_id == org)))
             # The workspace's own install first, then the newest.
             .order_by(bots.c.team_id.is_(None), bots.c.installed_at.desc(), bots.c.id.desc())
             .limit(1))
    return session.scalar(query)


FORGOTTEN_INSTALLER = ""  # slack-sdk's installations need a user id: an installer forgotten has an empty one


def forget_installer(*, session: Session, team_id: str, user_id: str) -> int:
    """Remove the person as the installer of the workspace's installations (its own, and its org's org-wide ones),
    with any user token of theirs; how many installations named them. The bot tokens stay: the app keeps working."""
    installations = INSTALLATION_METADATA.tables[INSTALLATIONS_TABLE]
    org = select(Workspace.enterprise_id).where(Workspace.team_id == team_id).scalar_subquery()
    result = session.execute(
        update(installations)
        .where(installations.c.user_id == user_id,
               or_(installations.c.team_id == team_id,
                   and_(installations.c.team_id.is_(None), installations.c.is_enterprise_install.is_(True),
                        installations.c.enterprise_id == org)))
        .values(user_id=FORGOTTEN_INSTALLER, user_token=None, user_scopes=None, user_refresh_token=None,
                user_token_expires_at=None))
    return result.rowcount


def org_bot_token(*, session: Session, client_id: str, enterprise_id: str) -> str | None:
    """The newest bot token of the org's org-wide install, if it has one."""
    bots = INSTALLATION_METADATA.tables[BOTS_TABLE]
    return session.scalar(select(bots.c.bot_token)
                          .where(bots.c.client_id == client_id, bots.c.enterprise_id == enterprise_id,
                                 bots.c.team_id.is_(None), bots.c.is_enterprise_install.is_(True),
                                 bots.c.bot_token.is_not(None))
                          .order_by(bots.c.installed_at.desc(), bots.c.id.desc()).limit(1))


def uninstalled_before(*, session: Session, cutoff: datetime) -> Sequence[str]:
    """Workspaces uninstalled at or before `cutoff`, whose retention period has run out."""
    return session.scalars(select(Workspace.team_id).where(Workspace.uninstalled_at <= cutoff)
                           .order_by(Workspace.team_id)).all()


def delete_expired_oauth_states(*, session: Session, now: datetime) -> None:
    """Install links nobody finished: slack-sdk's state store deletes a state when it is used, never when it
    expires. Its times are naive UTC."""
    states = INSTALLATION_METADATA.tables[OAUTH_STATES_TABLE]
    session.execute(delete(states).where(states.c.expire_at < now.astimezone(UTC).replace(tzinfo=None)))


def delete_workspace(*, session: Session, team_id: str) -> int:
    """Every row of the workspace, in every table (dependents first), its workspace row last; the number of
    rows deleted."""
    deleted = 0
    for table in [*INSTALLATION_METADATA.sorted_tables, *reversed(Base.metadata.sorted_tables)]:
        if "team_id" in table.columns:
            deleted += session.execute(delete(table).where(table.c.team_id == team_id)).rowcount or 0
    return deleted
