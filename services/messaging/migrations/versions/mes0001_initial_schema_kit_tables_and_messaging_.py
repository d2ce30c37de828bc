"""initial schema: kit tables and messaging tables

Revision ID: mes0001
Revises: 
Create Date: 2026-11-23 01:59:24.460937
"""
from alembic import op
import sqlalchemy as sa

from servicekit import kit_migrations


revision = 'mes0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('issue_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=24), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('group_number', sa.String(length=20), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('sender_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmation_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference')
    )
    with op.batch_alter_table('issue_reports', schema=None) as batch_op:
        batch_op.create_index('ix_issue_reports_sender_created', ['sender_hash', 'created_at'], unique=False)

    kit_migrations.upgrade_v1()


def downgrade():
    kit_migrations.downgrade_v1()
    with op.batch_alter_table('issue_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_issue_reports_sender_created')

    op.drop_table('issue_reports')
