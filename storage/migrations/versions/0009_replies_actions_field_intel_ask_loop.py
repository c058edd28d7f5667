"""replies, actions, field intel; ask reminders, versions and what we changed

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 01:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=150), nullable=False),
    sa.Column('owner_user_id', sa.String(length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=7), nullable=False),
    sa.Column('prompt_kind', sa.String(length=16), nullable=False),
    sa.Column('prompt_ref', sa.String(length=200), nullable=True),
    sa.Column('prompt_label', sa.String(length=200), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.CheckConstraint("prompt_kind IN ('source', 'reason', 'campaign', 'ask', 'pulse', 'intel', 'rating', 'talking_point', 'none')", name=op.f('ck_actions_prompt_kind')),
    sa.CheckConstraint("status IN ('open', 'done', 'dropped')", name=op.f('ck_actions_status')),
    sa.ForeignKeyConstraint(['team_id'], ['workspaces.team_id'], name=op.f('fk_actions_team_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions')),
    sa.UniqueConstraint('team_id', 'submission_key', name=op.f('uq_actions_team_id_submission_key'))
    )
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index('ix_actions_team_owner', ['team_id', 'owner_user_id'], unique=False)
        batch_op.create_index('ix_actions_team_status_due', ['team_id', 'status', 'due_on'], unique=False)

    op.create_table('feedback_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('subject_kind', sa.String(length=8), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('replied_by', sa.String(length=32), nullable=False),
    sa.Column('subject_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_replied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('on_it', 'fixed', 'wont_fix', 'replied')", name=op.f('ck_feedback_replies_status')),
    sa.CheckConstraint("subject_kind IN ('rating', 'intel')", name=op.f('ck_feedback_replies_subject_kind')),
    sa.ForeignKeyConstraint(['team_id'], ['workspaces.team_id'], name=op.f('fk_feedback_replies_team_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_replies')),
    sa.UniqueConstraint('team_id', 'subject_kind', 'subject_id', name=op.f('uq_feedback_replies_team_id_subject_kind_subject_id'))
    )
    with op.batch_alter_table('feedback_replies', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_replies_team_subject_at', ['team_id', 'subject_at'], unique=False)

    op.create_table('field_intel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=11), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=True),
    sa.Column('topic_key', sa.String(length=100), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('permalink', sa.String(length=500), nullable=True),
    sa.Column('message_channel', sa.String(length=32), nullable=True),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.CheckConstraint("kind IN ('competitor', 'objection', 'trend', 'customer', 'product_gap')", name=op.f('ck_field_intel_kind')),
    sa.ForeignKeyConstraint(['team_id'], ['workspaces.team_id'], name=op.f('fk_field_intel_team_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_field_intel')),
    sa.UniqueConstraint('team_id', 'submission_key', name=op.f('uq_field_intel_team_id_submission_key'))
    )
    with op.batch_alter_table('field_intel', schema=None) as batch_op:
        batch_op.create_index('ix_field_intel_team_created', ['team_id', 'created_at'], unique=False)

    with op.batch_alter_table('messaging_asks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remind_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminders_queued', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('previous_ask_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('change_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('change_link', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_messaging_asks_previous_ask_id_messaging_asks'), 'messaging_asks', ['previous_ask_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ask_reminder_hours', sa.Integer(), nullable=False, server_default='24'))



def downgrade() -> None:
    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.drop_column('ask_reminder_hours')

    with op.batch_alter_table('messaging_asks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_messaging_asks_previous_ask_id_messaging_asks'), type_='foreignkey')
        batch_op.drop_column('changed_at')
        batch_op.drop_column('change_link')
        batch_op.drop_column('change_note')
        batch_op.drop_column('previous_ask_id')
        batch_op.drop_column('reminders_queued')
        batch_op.drop_column('remind_at')

    with op.batch_alter_table('field_intel', schema=None) as batch_op:
        batch_op.drop_index('ix_field_intel_team_created')

    op.drop_table('field_intel')
    with op.batch_alter_table('feedback_replies', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_replies_team_subject_at')

    op.drop_table('feedback_replies')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index('ix_actions_team_status_due')
        batch_op.drop_index('ix_actions_team_owner')

    op.drop_table('actions')
