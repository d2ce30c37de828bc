"""plan years: the plans billing has a complete rate sheet for

Revision ID: ros0004
Revises: ros0003
Create Date: 2026-11-23 06:26:16.500773
"""
from alembic import op
import sqlalchemy as sa


revision = 'ros0004'
down_revision = 'ros0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('plan_years', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rated_plan_codes', sa.JSON(), nullable=True))



def downgrade():
    with op.batch_alter_table('plan_years', schema=None) as batch_op:
        batch_op.drop_column('rated_plan_codes')

