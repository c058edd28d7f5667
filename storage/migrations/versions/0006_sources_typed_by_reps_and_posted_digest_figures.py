"""sources typed by reps, and the digest's figures as posted

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allow_new_sources', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('lead_ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_text', sa.String(length=75), nullable=True))
    op.create_table('digest_weeks',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['workspaces.team_id'], name=op.f('fk_digest_weeks_team_id_workspaces')),
    sa.PrimaryKeyConstraint('team_id', 'week', name=op.f('pk_digest_weeks'))
    )


def downgrade() -> None:
    op.drop_table('digest_weeks')
    with op.batch_alter_table('lead_ratings', schema=None) as batch_op:
        batch_op.drop_column('source_text')
    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.drop_column('allow_new_sources')
