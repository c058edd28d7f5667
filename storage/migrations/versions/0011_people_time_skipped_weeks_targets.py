"""people's time (zones, status, time off), per-person pulse times, skipped weeks, ask duration and targets

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('people',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('status_text', sa.String(length=150), nullable=True),
    sa.Column('status_emoji', sa.String(length=100), nullable=True),
    sa.Column('status_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('away_until', sa.Date(), nullable=True),
    sa.Column('profile_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['workspaces.team_id'], name=op.f('fk_people_team_id_workspaces')),
    sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_people'))
    )
    with op.batch_alter_table('pulse_participation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prompt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('remind_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('away', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('pulse_rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prompted_through', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminded_through', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('answers_sealed', sa.Boolean(), server_default=sa.false(), nullable=False))

    # Rounds opened before: everyone was prompted at the opening and reminded at the round's reminder time.
    op.execute("UPDATE pulse_rounds SET prompted_through = opens_at")
    op.execute("UPDATE pulse_rounds SET reminded_through = closes_at WHERE reminders_queued")
    op.execute("UPDATE pulse_participation SET "
               "prompt_at = (SELECT opens_at FROM pulse_rounds r WHERE r.id = pulse_participation.round_id), "
               "remind_at = (SELECT remind_at FROM pulse_rounds r WHERE r.id = pulse_participation.round_id)")

    # On SQLite this rebuilds pulse_rounds: storage.db.migrate runs it with foreign keys off, so the rebuild's
    # DROP TABLE doesn't cascade to the answers.
    with op.batch_alter_table('pulse_rounds', schema=None) as batch_op:
        batch_op.drop_column('reminders_queued')

    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skipped_pulse_weeks', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('ask_open_days', sa.Integer(), server_default='14', nullable=False))
        batch_op.add_column(sa.Column('alignment_target', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lead_quality_target', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lead_quality_target_kind', sa.String(length=8), server_default='average',
                                      nullable=False))
        batch_op.create_check_constraint(op.f('ck_workspace_configs_lead_quality_target_kind'),
                                         "lead_quality_target_kind IN ('average', 'good')")


def downgrade() -> None:
    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_workspace_configs_lead_quality_target_kind'), type_='check')
        batch_op.drop_column('lead_quality_target_kind')
        batch_op.drop_column('lead_quality_target')
        batch_op.drop_column('alignment_target')
        batch_op.drop_column('ask_open_days')
        batch_op.drop_column('skipped_pulse_weeks')

    with op.batch_alter_table('pulse_rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders_queued', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE pulse_rounds SET reminders_queued = (reminded_through IS NOT NULL)")
    with op.batch_alter_table('pulse_rounds', schema=None) as batch_op:
        batch_op.drop_column('answers_sealed')
        batch_op.drop_column('reminded_through')
        batch_op.drop_column('prompted_through')

    with op.batch_alter_table('pulse_participation', schema=None) as batch_op:
        batch_op.drop_column('away')
        batch_op.drop_column('remind_at')
        batch_op.drop_column('prompt_at')

    op.drop_table('people')
