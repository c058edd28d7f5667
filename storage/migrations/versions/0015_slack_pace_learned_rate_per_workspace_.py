"""slack pace: the calls a second learned per workspace and method, beside its pause

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 10:01:04.405856
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('slack_pauses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rate', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('slack_pauses', schema=None) as batch_op:
        batch_op.drop_column('rate')
