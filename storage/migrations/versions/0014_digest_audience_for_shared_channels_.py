"""digest audience for shared channels, workspace names

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:54:11

A channel shared between the workspaces of an Enterprise Grid org gets one digest a week, so a digest
claim is unique per audience (the workspace, or its org) rather than per workspace. Existing claims were
all made per workspace: their audience is their workspace.
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('digest_posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('posted_for', sa.String(length=32), nullable=True))
    op.execute("UPDATE digest_posts SET posted_for = team_id")
    with op.batch_alter_table('digest_posts', schema=None) as batch_op:
        batch_op.alter_column('posted_for', existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_digest_posts_team_id_channel_id_week'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_digest_posts_posted_for_channel_id_week'), ['posted_for', 'channel_id', 'week'])

    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.drop_column('name')

    with op.batch_alter_table('digest_posts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_digest_posts_posted_for_channel_id_week'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_digest_posts_team_id_channel_id_week'), ['team_id', 'channel_id', 'week'])
        batch_op.drop_column('posted_for')
