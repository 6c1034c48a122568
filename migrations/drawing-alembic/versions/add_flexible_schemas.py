"""flexible component schemas

Component schemas let users define which fields a component has; a
component's values for those fields live in components.dynamic_data. This
revision only creates the structure; seed_default_schemas fills it. Until
then schema_id and dynamic_data are NULL and the original component columns
remain the source of truth. (../drawing/add_flexible_schemas.sql)

Revision ID: add_flexible_schemas
Revises: 9bc6a98f1c12
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "add_flexible_schemas"
down_revision = "9bc6a98f1c12"
branch_labels = None
depends_on = None

FIELD_TYPES = ("text", "textarea", "integer", "number", "select", "checkbox", "date")


def timestamps():
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    ]


def upgrade():
    op.create_table(
        "component_schemas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("description", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        *timestamps(),
    )
    op.create_table(
        "component_schema_fields",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("schema_id", sa.Integer,
                  sa.ForeignKey("component_schemas.id", ondelete="CASCADE"), nullable=False),
        sa.Column("field_name", sa.String(100), nullable=False),
        sa.Column("field_type", sa.String(50), nullable=False),
        sa.Column("field_config", postgresql.JSONB, nullable=False,
                  server_default=sa.text("'{}'::jsonb")),
        sa.Column("help_text", sa.Text),
        sa.Column("display_order", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("is_required", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        *timestamps(),
        sa.CheckConstraint("field_type IN (%s)" % ", ".join("'%s'" % t for t in FIELD_TYPES)),
        sa.UniqueConstraint("schema_id", "field_name"),
    )
    op.add_column("components", sa.Column("schema_id", sa.Integer,
                                          sa.ForeignKey("component_schemas.id")))
    op.add_column("components", sa.Column("dynamic_data", postgresql.JSONB))

    # components is the big, busy table, so its indexes are built without
    # blocking writers (runbook, Scenario C): outside a transaction, like the
    # SQL file's transaction:false section. Each statement may run twice
    # after an interruption, hence IF NOT EXISTS.
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_components_schema_id "
                   "ON components (schema_id)")
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_components_dynamic_data_gin "
                   "ON components USING gin (dynamic_data)")


def downgrade():
    # Dropping the columns drops both indexes with them. At this revision the
    # original component columns are the source of truth.
    op.drop_column("components", "dynamic_data")
    op.drop_column("components", "schema_id")
    op.drop_table("component_schema_fields")
    op.drop_table("component_schemas")
