"""slack pauses: a workspace's 429 for a method, honoured by every outbox worker

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 08:05:19
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('slack_pauses',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('method', sa.String(length=40), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['workspaces.team_id'], name=op.f('fk_slack_pauses_team_id_workspaces')),
    sa.PrimaryKeyConstraint('team_id', 'method', name=op.f('pk_slack_pauses'))
    )


def downgrade() -> None:
    op.drop_table('slack_pauses')
