"""billing tables: groups and policy, offerings, rates, accounts, family projection, ledger, statements, payments, auto pay, ACH files, requests

Revision ID: bil0002
Revises: bil0001
Create Date: 2026-11-23 05:16:51.692445
"""
from alembic import op
import sqlalchemy as sa


revision = 'bil0002'
down_revision = 'bil0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ach_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('total_debits', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('entry_hash', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('effective_date')
    )
    op.create_table('billing_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_number', sa.String(length=20), nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('renewal_date', sa.Date(), nullable=True),
    sa.Column('group_sequence', sa.Integer(), nullable=False),
    sa.Column('rating_method', sa.String(length=12), nullable=False),
    sa.Column('proration', sa.String(length=10), nullable=False),
    sa.Column('grace_days', sa.Integer(), nullable=False),
    sa.Column('cobra_billing', sa.String(length=14), nullable=False),
    sa.Column('retro_window_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_number')
    )
    op.create_table('billable_families',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_member_id', sa.String(length=12), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('subgroup_number', sa.String(length=20), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['billing_groups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subscriber_member_id')
    )
    with op.batch_alter_table('billable_families', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billable_families_group_id'), ['group_id'], unique=False)
        batch_op.create_index('ix_billable_families_group_subgroup', ['group_id', 'subgroup_number'], unique=False)

    op.create_table('billing_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_number', sa.String(length=24), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('subgroup_number', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('delinquency_stage', sa.String(length=24), nullable=False),
    sa.Column('stage_changed_on', sa.Date(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['billing_groups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_number'),
    sa.UniqueConstraint('group_id', 'subgroup_number', name='uq_accounts_subgroup')
    )
    with op.batch_alter_table('billing_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_accounts_group_id'), ['group_id'], unique=False)

    op.create_table('consolidated_statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_number', sa.String(length=24), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('coverage_month', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('amount_due', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('statement_ids', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['billing_groups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'coverage_month', name='uq_consolidated_month'),
    sa.UniqueConstraint('statement_number')
    )
    op.create_table('payment_methods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('nickname', sa.String(length=60), nullable=True),
    sa.Column('holder_name', sa.String(length=120), nullable=False),
    sa.Column('account_type', sa.String(length=10), nullable=False),
    sa.Column('routing_number', sa.String(length=9), nullable=False),
    sa.Column('account_ciphertext', sa.Text(), nullable=False),
    sa.Column('account_last4', sa.String(length=4), nullable=False),
    sa.Column('account_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['billing_groups.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_methods_group_id'), ['group_id'], unique=False)

    op.create_table('plan_year_offerings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('subgroup_number', sa.String(length=20), nullable=False),
    sa.Column('plan_year_start', sa.Date(), nullable=False),
    sa.Column('plan_year_end', sa.Date(), nullable=False),
    sa.Column('plans', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['billing_groups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'subgroup_number', 'plan_year_start', name='uq_offerings')
    )
    op.create_table('rates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('plan_year_start', sa.Date(), nullable=False),
    sa.Column('plan_code', sa.String(length=20), nullable=False),
    sa.Column('rate_key', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['billing_groups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'plan_year_start', 'plan_code', 'rate_key', name='uq_rates')
    )
    op.create_table('autopay',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=False),
    sa.Column('days_before_due', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('authorized_by', sa.String(length=64), nullable=False),
    sa.Column('authorized_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('terms_version', sa.String(length=20), nullable=False),
    sa.Column('cancelled_by', sa.String(length=64), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], ),
    sa.ForeignKeyConstraint(['method_id'], ['payment_methods.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id')
    )
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_number', sa.String(length=24), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('settles_on', sa.Date(), nullable=True),
    sa.Column('trace_number', sa.String(length=15), nullable=True),
    sa.Column('reference', sa.String(length=40), nullable=True),
    sa.Column('return_code', sa.String(length=3), nullable=True),
    sa.Column('returned_on', sa.Date(), nullable=True),
    sa.Column('requested_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['billing_groups.id'], ),
    sa.ForeignKeyConstraint(['method_id'], ['payment_methods.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('payment_number'),
    sa.UniqueConstraint('trace_number')
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_group_id'), ['group_id'], unique=False)

    op.create_table('statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_number', sa.String(length=24), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('coverage_month', sa.Date(), nullable=False),
    sa.Column('cut_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('balance_forward', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('payments', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('charges', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('adjustments', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount_due', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], ),
    sa.ForeignKeyConstraint(['group_id'], ['billing_groups.id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['statements.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('statement_number')
    )
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.create_index('ix_statements_account_month', ['account_id', 'coverage_month'], unique=False)
        batch_op.create_index('ix_statements_group_cut', ['group_id', 'cut_date'], unique=False)

    op.create_table('billing_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_number', sa.String(length=24), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('new_statement_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], ),
    sa.ForeignKeyConstraint(['group_id'], ['billing_groups.id'], ),
    sa.ForeignKeyConstraint(['new_statement_id'], ['statements.id'], ),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_number')
    )
    with op.batch_alter_table('billing_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_requests_group_id'), ['group_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('coverage_month', sa.Date(), nullable=True),
    sa.Column('line_key', sa.String(length=80), nullable=True),
    sa.Column('subscriber_member_id', sa.String(length=12), nullable=True),
    sa.Column('member_id', sa.String(length=12), nullable=True),
    sa.Column('plan_code', sa.String(length=20), nullable=True),
    sa.Column('rate_key', sa.String(length=8), nullable=True),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('posted_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], ),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_account_month_line', ['account_id', 'coverage_month', 'line_key'], unique=False)
        batch_op.create_index('ix_ledger_account_statement', ['account_id', 'statement_id'], unique=False)
        batch_op.create_index('ix_ledger_payment', ['payment_id'], unique=False)

    op.create_table('payment_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], ),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payment_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_allocations_payment_id'), ['payment_id'], unique=False)



def downgrade():
    with op.batch_alter_table('payment_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_allocations_payment_id'))

    op.drop_table('payment_allocations')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_payment')
        batch_op.drop_index('ix_ledger_account_statement')
        batch_op.drop_index('ix_ledger_account_month_line')

    op.drop_table('ledger_entries')
    with op.batch_alter_table('billing_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_requests_group_id'))

    op.drop_table('billing_requests')
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_index('ix_statements_group_cut')
        batch_op.drop_index('ix_statements_account_month')

    op.drop_table('statements')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_group_id'))

    op.drop_table('payments')
    op.drop_table('autopay')
    op.drop_table('rates')
    op.drop_table('plan_year_offerings')
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_methods_group_id'))

    op.drop_table('payment_methods')
    op.drop_table('consolidated_statements')
    with op.batch_alter_table('billing_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_accounts_group_id'))

    op.drop_table('billing_accounts')
    with op.batch_alter_table('billable_families', schema=None) as batch_op:
        batch_op.drop_index('ix_billable_families_group_subgroup')
        batch_op.drop_index(batch_op.f('ix_billable_families_group_id'))

    op.drop_table('billable_families')
    op.drop_table('billing_groups')
    op.drop_table('ach_files')
