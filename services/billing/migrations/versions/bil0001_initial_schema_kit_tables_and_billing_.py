"""initial schema: kit tables and billing tables

Revision ID: bil0001
Revises: 
Create Date: 2026-11-23 01:59:23.549838
"""
from alembic import op
import sqlalchemy as sa

from servicekit import kit_migrations


revision = 'bil0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    kit_migrations.upgrade_v1()


def downgrade():
    kit_migrations.downgrade_v1()
