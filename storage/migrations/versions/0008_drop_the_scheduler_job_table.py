"""drop the scheduler's job table: the clock keeps its jobs in memory

APScheduler's SQLAlchemyJobStore created `apscheduler_jobs` itself (never a migration of ours), so it
exists only where a clock ran before this revision. Downgrading leaves it absent: an older clock
creates it again when it starts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 20:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table('apscheduler_jobs'):
        op.drop_table('apscheduler_jobs')


def downgrade() -> None:
    pass
