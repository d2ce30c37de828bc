"""member lifecycle: PCP assignments, continuation elections, plan years and mappings, open-enrollment
elections; a transaction's completes_on (backfilled from its effective date); a span's continuation kind

Revision ID: ros0003
Revises: ros0002
Create Date: 2026-11-23 04:32:24.054613
"""
from alembic import op
import sqlalchemy as sa


revision = 'ros0003'
down_revision = 'ros0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('plan_years',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('plan_year_start', sa.Date(), nullable=False),
    sa.Column('plan_year_end', sa.Date(), nullable=False),
    sa.Column('loaded_by', sa.String(length=64), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('renewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'plan_year_start', name='uq_plan_years')
    )
    op.create_table('plan_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_year_id', sa.Integer(), nullable=False),
    sa.Column('from_plan_id', sa.Integer(), nullable=False),
    sa.Column('to_plan_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['from_plan_id'], ['plans.id'], ),
    sa.ForeignKeyConstraint(['plan_year_id'], ['plan_years.id'], ),
    sa.ForeignKeyConstraint(['to_plan_id'], ['plans.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_year_id', 'from_plan_id', name='uq_plan_mappings')
    )
    with op.batch_alter_table('plan_mappings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_mappings_plan_year_id'), ['plan_year_id'], unique=False)

    op.create_table('continuation_elections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=5), nullable=False),
    sa.Column('qualifying_event', sa.String(length=1), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('notice_date', sa.Date(), nullable=False),
    sa.Column('election_date', sa.Date(), nullable=False),
    sa.Column('coverage_from', sa.Date(), nullable=False),
    sa.Column('coverage_through', sa.Date(), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('disability_extended', sa.Boolean(), nullable=False),
    sa.Column('member_ids', sa.JSON(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ),
    sa.ForeignKeyConstraint(['holder_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['subscriber_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['transaction_id'], ['enrollment_transactions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('continuation_elections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_continuation_elections_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_continuation_elections_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('open_enrollment_elections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('plan_year_start', sa.Date(), nullable=False),
    sa.Column('choice', sa.String(length=10), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('member_ids', sa.JSON(), nullable=True),
    sa.Column('decline_reason', sa.String(length=40), nullable=True),
    sa.Column('alternate_plan', sa.String(length=120), nullable=True),
    sa.Column('superseded', sa.Boolean(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('elected_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ),
    sa.ForeignKeyConstraint(['subscriber_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['transaction_id'], ['enrollment_transactions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('open_enrollment_elections', schema=None) as batch_op:
        batch_op.create_index('ix_oe_elections_group_year', ['group_id', 'plan_year_start'], unique=False)
        batch_op.create_index(batch_op.f('ix_open_enrollment_elections_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('pcp_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_through', sa.Date(), nullable=True),
    sa.Column('transaction_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ),
    sa.ForeignKeyConstraint(['transaction_id'], ['enrollment_transactions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pcp_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pcp_assignments_member_id'), ['member_id'], unique=False)

    with op.batch_alter_table('coverage_spans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('continuation', sa.String(length=5), nullable=True))

    with op.batch_alter_table('enrollment_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('completes_on', sa.Date(), nullable=True))
    op.execute("UPDATE enrollment_transactions SET completes_on = effective_date")
    with op.batch_alter_table('enrollment_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transactions_due'))
        batch_op.create_index('ix_transactions_due', ['status', 'completes_on'], unique=False)



def downgrade():
    with op.batch_alter_table('enrollment_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_due')
        batch_op.create_index(batch_op.f('ix_transactions_due'), ['status', 'effective_date'], unique=False)
        batch_op.drop_column('completes_on')

    with op.batch_alter_table('coverage_spans', schema=None) as batch_op:
        batch_op.drop_column('continuation')

    with op.batch_alter_table('pcp_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pcp_assignments_member_id'))

    op.drop_table('pcp_assignments')
    with op.batch_alter_table('open_enrollment_elections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_open_enrollment_elections_subscriber_id'))
        batch_op.drop_index('ix_oe_elections_group_year')

    op.drop_table('open_enrollment_elections')
    with op.batch_alter_table('continuation_elections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_continuation_elections_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_continuation_elections_group_id'))

    op.drop_table('continuation_elections')
    with op.batch_alter_table('plan_mappings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_mappings_plan_year_id'))

    op.drop_table('plan_mappings')
    op.drop_table('plan_years')
