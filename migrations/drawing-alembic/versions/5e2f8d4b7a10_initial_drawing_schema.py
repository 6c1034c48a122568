"""initial drawing schema

The drawing application's original schema, drawings and their components.
The component columns are nullable because the application has always
allowed partially described components. (../drawing/5e2f8d4b7a10.sql)

Revision ID: 5e2f8d4b7a10
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "5e2f8d4b7a10"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "drawings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    )
    op.create_table(
        "components",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("drawing_id", sa.Integer,
                  sa.ForeignKey("drawings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("component_type", sa.String(100)),
        sa.Column("description", sa.Text),
        sa.Column("material_type", sa.String(100)),
        sa.Column("quantity", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    )
    op.create_index("ix_components_drawing_id", "components", ["drawing_id"])


def downgrade():
    op.drop_table("components")
    op.drop_table("drawings")
