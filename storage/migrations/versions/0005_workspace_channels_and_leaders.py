"""workspace channels and leaders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sales_channel', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('lead_feed_channel', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('leader_user_ids', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.drop_column('leader_user_ids')
        batch_op.drop_column('lead_feed_channel')
        batch_op.drop_column('sales_channel')
