"""lead handoff: leads, owner emails, SLA and working week settings

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 04:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('slack_user_emails',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('looked_up_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['workspaces.team_id'], name=op.f('fk_slack_user_emails_team_id_workspaces')),
    sa.PrimaryKeyConstraint('team_id', 'email', name=op.f('pk_slack_user_emails'))
    )
    op.create_table('leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('crm_id', sa.String(length=200), nullable=False),
    sa.Column('lead_key', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('source_text', sa.String(length=75), nullable=True),
    sa.Column('campaign', sa.String(length=150), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('owner_given', sa.String(length=320), nullable=True),
    sa.Column('owner_user_id', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('routing_pending', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sla_minutes', sa.Integer(), nullable=False),
    sa.Column('remind_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accept_minutes', sa.Integer(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rate_prompt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rate_prompted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rate_reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('unassigned', 'assigned', 'accepted')", name=op.f('ck_leads_status')),
    sa.ForeignKeyConstraint(['source_id'], ['lead_sources.id'], name=op.f('fk_leads_source_id_lead_sources')),
    sa.ForeignKeyConstraint(['team_id'], ['workspaces.team_id'], name=op.f('fk_leads_team_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
    sa.UniqueConstraint('team_id', 'crm_id', name=op.f('uq_leads_team_id_crm_id'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_leads_team_lead_key', ['team_id', 'lead_key'], unique=False)
        batch_op.create_index('ix_leads_team_owner_status', ['team_id', 'owner_user_id', 'status'], unique=False)
        batch_op.create_index('ix_leads_team_received', ['team_id', 'received_at'], unique=False)

    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_sla_minutes', sa.Integer(), server_default='60', nullable=False))
        batch_op.add_column(sa.Column('work_start', sa.String(length=5), server_default='09:00', nullable=False))
        batch_op.add_column(sa.Column('work_end', sa.String(length=5), server_default='17:00', nullable=False))
        batch_op.add_column(sa.Column('work_days', sa.JSON(), server_default='["mon", "tue", "wed", "thu", "fri"]', nullable=False))
        batch_op.add_column(sa.Column('holidays', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('lead_escalation_user_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('lead_rate_after_days', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('qualified_lead_definition', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('workspace_configs', schema=None) as batch_op:
        batch_op.drop_column('qualified_lead_definition')
        batch_op.drop_column('lead_rate_after_days')
        batch_op.drop_column('lead_escalation_user_id')
        batch_op.drop_column('holidays')
        batch_op.drop_column('work_days')
        batch_op.drop_column('work_end')
        batch_op.drop_column('work_start')
        batch_op.drop_column('lead_sla_minutes')

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_team_received')
        batch_op.drop_index('ix_leads_team_owner_status')
        batch_op.drop_index('ix_leads_team_lead_key')
        batch_op.drop_index('ix_leads_status_due')

    op.drop_table('leads')
    op.drop_table('slack_user_emails')
