"""add instance identifier

The identifier a drawing uses for one placed instance of a component
(e.g. "R12"). Nullable, existing components have none.
(../drawing/9bc6a98f1c12.sql)

Revision ID: 9bc6a98f1c12
Revises: 5e2f8d4b7a10
"""
from alembic import op
import sqlalchemy as sa

revision = "9bc6a98f1c12"
down_revision = "5e2f8d4b7a10"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("components", sa.Column("instance_identifier", sa.String(100)))


def downgrade():
    op.drop_column("components", "instance_identifier")
