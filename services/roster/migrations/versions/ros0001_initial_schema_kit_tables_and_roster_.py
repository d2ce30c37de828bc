"""initial schema: kit tables and roster tables

Revision ID: ros0001
Revises: 
Create Date: 2026-11-23 01:59:22.616773
"""
from alembic import op
import sqlalchemy as sa

from servicekit import kit_migrations


revision = 'ros0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    kit_migrations.upgrade_v1()


def downgrade():
    kit_migrations.downgrade_v1()
