"""initial schema: kit tables and identity tables

Revision ID: ide0001
Revises: 
Create Date: 2026-11-23 01:59:21.642386
"""
from alembic import op
import sqlalchemy as sa

from servicekit import kit_migrations


revision = 'ide0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    kit_migrations.upgrade_v1()


def downgrade():
    kit_migrations.downgrade_v1()
