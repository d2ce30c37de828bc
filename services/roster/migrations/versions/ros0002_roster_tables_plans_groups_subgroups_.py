"""roster tables: plans, groups, subgroups, offerings, providers, members, coverage, transactions

Revision ID: ros0002
Revises: ros0001
Create Date: 2026-11-23 02:49:36.092433
"""
from alembic import op
import sqlalchemy as sa


revision = 'ros0002'
down_revision = 'ros0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_number', sa.String(length=20), nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('ein', sa.String(length=9), nullable=False),
    sa.Column('mailing_address', sa.JSON(), nullable=False),
    sa.Column('physical_address', sa.JSON(), nullable=True),
    sa.Column('contacts', sa.JSON(), nullable=False),
    sa.Column('renewal_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('employee_count', sa.Integer(), nullable=False),
    sa.Column('waiting_period_days', sa.Integer(), nullable=False),
    sa.Column('age_off_policy', sa.String(length=20), nullable=False),
    sa.Column('continuation', sa.String(length=10), nullable=False),
    sa.Column('continuation_months', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_number')
    )
    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('product', sa.String(length=10), nullable=False),
    sa.Column('plan_type', sa.String(length=10), nullable=False),
    sa.Column('network', sa.String(length=40), nullable=False),
    sa.Column('requires_pcp', sa.Boolean(), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_code')
    )
    op.create_table('providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('npi', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('specialty', sa.String(length=80), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('address', sa.JSON(), nullable=False),
    sa.Column('zip', sa.String(length=10), nullable=False),
    sa.Column('accepting_new_patients', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('npi')
    )
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_providers_name_key'), ['name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_providers_zip'), ['zip'], unique=False)

    op.create_table('provider_networks',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ),
    sa.PrimaryKeyConstraint('provider_id', 'network')
    )
    with op.batch_alter_table('provider_networks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_networks_network'), ['network'], unique=False)

    op.create_table('subgroups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('subgroup_number', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('mailing_address', sa.JSON(), nullable=True),
    sa.Column('contact', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'subgroup_number', name='uq_subgroups_number')
    )
    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.String(length=12), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('subgroup_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('relationship_code', sa.String(length=2), nullable=False),
    sa.Column('first_name', sa.String(length=60), nullable=False),
    sa.Column('middle_name', sa.String(length=60), nullable=True),
    sa.Column('last_name', sa.String(length=60), nullable=False),
    sa.Column('last_name_key', sa.String(length=60), nullable=False),
    sa.Column('first_name_key', sa.String(length=60), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=False),
    sa.Column('marital_status', sa.String(length=1), nullable=True),
    sa.Column('ssn_ciphertext', sa.Text(), nullable=True),
    sa.Column('ssn_last4', sa.String(length=4), nullable=True),
    sa.Column('ssn_hash', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('mailing_address', sa.JSON(), nullable=True),
    sa.Column('physical_address', sa.JSON(), nullable=True),
    sa.Column('hire_date', sa.Date(), nullable=True),
    sa.Column('employment_status', sa.String(length=20), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('other_coverage', sa.String(length=120), nullable=True),
    sa.Column('also_dependent_elsewhere', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ),
    sa.ForeignKeyConstraint(['subgroup_id'], ['subgroups.id'], ),
    sa.ForeignKeyConstraint(['subscriber_id'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_id')
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index('ix_members_group_dob', ['group_id', 'date_of_birth'], unique=False)
        batch_op.create_index('ix_members_group_last_name', ['group_id', 'last_name_key', 'first_name_key'], unique=False)
        batch_op.create_index('ix_members_group_ssn_last4', ['group_id', 'ssn_last4'], unique=False)
        batch_op.create_index('ix_members_group_status', ['group_id', 'status'], unique=False)
        batch_op.create_index('ix_members_ssn_hash', ['ssn_hash'], unique=False)
        batch_op.create_index('ix_members_subgroup', ['subgroup_id', 'last_name_key'], unique=False)
        batch_op.create_index('ix_members_subscriber', ['subscriber_id'], unique=False)
        batch_op.create_index('uq_members_subscriber_ssn', ['group_id', 'ssn_hash'], unique=True, postgresql_where=sa.text('subscriber_id IS NULL AND ssn_hash IS NOT NULL'), sqlite_where=sa.text('subscriber_id IS NULL AND ssn_hash IS NOT NULL'))

    op.create_table('plan_offerings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subgroup_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('plan_year_start', sa.Date(), nullable=False),
    sa.Column('plan_year_end', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ),
    sa.ForeignKeyConstraint(['subgroup_id'], ['subgroups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subgroup_id', 'plan_id', 'plan_year_start', name='uq_plan_offerings')
    )
    op.create_table('enrollment_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('confirmation_number', sa.String(length=20), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('subgroup_id', sa.Integer(), nullable=True),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('maintenance_type', sa.String(length=3), nullable=True),
    sa.Column('reason', sa.String(length=3), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hold_reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['subgroup_id'], ['subgroups.id'], ),
    sa.ForeignKeyConstraint(['subscriber_id'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('confirmation_number')
    )
    with op.batch_alter_table('enrollment_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_transactions_due', ['status', 'effective_date'], unique=False)
        batch_op.create_index('ix_transactions_group_requested', ['group_id', 'requested_at'], unique=False)
        batch_op.create_index('ix_transactions_group_status', ['group_id', 'status'], unique=False)
        batch_op.create_index('ix_transactions_subscriber', ['subscriber_id'], unique=False)

    op.create_table('coverage_spans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.String(length=3), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_through', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=3), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ),
    sa.ForeignKeyConstraint(['transaction_id'], ['enrollment_transactions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('coverage_spans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coverage_spans_member_id'), ['member_id'], unique=False)



def downgrade():
    with op.batch_alter_table('coverage_spans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coverage_spans_member_id'))

    op.drop_table('coverage_spans')
    with op.batch_alter_table('enrollment_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_subscriber')
        batch_op.drop_index('ix_transactions_group_status')
        batch_op.drop_index('ix_transactions_group_requested')
        batch_op.drop_index('ix_transactions_due')

    op.drop_table('enrollment_transactions')
    op.drop_table('plan_offerings')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('uq_members_subscriber_ssn', postgresql_where=sa.text('subscriber_id IS NULL AND ssn_hash IS NOT NULL'), sqlite_where=sa.text('subscriber_id IS NULL AND ssn_hash IS NOT NULL'))
        batch_op.drop_index('ix_members_subscriber')
        batch_op.drop_index('ix_members_subgroup')
        batch_op.drop_index('ix_members_ssn_hash')
        batch_op.drop_index('ix_members_group_status')
        batch_op.drop_index('ix_members_group_ssn_last4')
        batch_op.drop_index('ix_members_group_last_name')
        batch_op.drop_index('ix_members_group_dob')

    op.drop_table('members')
    op.drop_table('subgroups')
    with op.batch_alter_table('provider_networks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_networks_network'))

    op.drop_table('provider_networks')
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_providers_zip'))
        batch_op.drop_index(batch_op.f('ix_providers_name_key'))

    op.drop_table('providers')
    op.drop_table('plans')
    op.drop_table('groups')
