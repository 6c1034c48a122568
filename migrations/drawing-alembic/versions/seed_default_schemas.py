"""seed default component schema and migrate component data

Creates the built-in schema `default`, whose fields mirror the original
component columns, and moves every component onto it; the downgrade puts
every dynamic_data value back into the original columns and removes the
seeded rows. A data migration, so it is the SQL of
../drawing/seed_default_schemas.sql statement by statement, with its
comments.

Revision ID: seed_default_schemas
Revises: add_flexible_schemas
"""
from alembic import op

revision = "seed_default_schemas"
down_revision = "add_flexible_schemas"
branch_labels = None
depends_on = None


def upgrade():
    # Creates the built-in schema `default`, whose fields mirror the original
    # component columns, and moves every component onto it. From this revision on
    # components.dynamic_data is the source of truth for those four values; the
    # original columns keep their last value but the application no longer
    # maintains them (new components may have only dynamic_data).
    #
    # Components that already point at a schema (one a user created at
    # add_flexible_schemas, or kept by a partial rollback) keep it; their
    # dynamic_data keeps any extra keys, the four column values are written over
    # it because until now the columns were the source of truth.
    op.execute(r"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM component_schemas WHERE name = 'default') THEN
    RAISE EXCEPTION 'seed_default_schemas: component_schemas already has a schema named "default"'
      USING HINT = 'This revision creates that schema and its down section deletes it. '
                   'Rename the existing schema (UPDATE component_schemas SET name = ...) and retry.';
  END IF;
END
$$;
""")

    op.execute(r"""
INSERT INTO component_schemas (name, description, version, is_default, is_active)
VALUES ('default', 'Built-in schema with the original component fields', 1, true, true);
""")

    op.execute(r"""
INSERT INTO component_schema_fields
    (schema_id, field_name, field_type, field_config, help_text, display_order, is_required)
SELECT s.id, f.field_name, f.field_type, f.field_config::jsonb, f.help_text, f.display_order, false
FROM component_schemas AS s
CROSS JOIN (VALUES
    ('component_type', 'text',     '{"maxLength": 100}', 'Kind of component, e.g. resistor', 1),
    ('description',    'textarea', '{}',                 'Free-text description',            2),
    ('material_type',  'text',     '{"maxLength": 100}', 'Material the component is made of', 3),
    ('quantity',       'integer',  '{}',                 'Number of pieces',                 4)
) AS f (field_name, field_type, field_config, help_text, display_order)
WHERE s.name = 'default';
""")

    # Rewriting every component while add_flexible_schemas' indexes exist costs
    # one GIN insertion per row; building the indexes once afterwards is 2-3
    # times faster (1M components: 73 s -> 28 s on the reference machine). The
    # writers are stopped during a migration, so both indexes are dropped and
    # rebuilt inside this transaction with identical names and definitions (a
    # ROLLBACK restores the old ones; a missing or INVALID index comes back
    # valid). maintenance_work_mem is only ever raised, for this transaction.
    op.execute(r"""
DO $$
BEGIN
  IF pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('256MB') THEN
    PERFORM set_config('maintenance_work_mem', '256MB', true);
  END IF;
END
$$;
""")

    op.execute(r"""
DROP INDEX IF EXISTS idx_components_dynamic_data_gin;
""")

    op.execute(r"""
DROP INDEX IF EXISTS idx_components_schema_id;
""")

    # Every key is written, NULL columns as JSON null, so the application sees
    # the full field set of the default schema.
    op.execute(r"""
UPDATE components
SET schema_id = COALESCE(schema_id, (SELECT id FROM component_schemas WHERE name = 'default')),
    dynamic_data = COALESCE(dynamic_data, '{}'::jsonb) || jsonb_build_object(
        'component_type', component_type,
        'description',    description,
        'material_type',  material_type,
        'quantity',       quantity);
""")

    op.execute(r"""
CREATE INDEX idx_components_schema_id ON components (schema_id);
""")

    op.execute(r"""
CREATE INDEX idx_components_dynamic_data_gin ON components USING gin (dynamic_data);
""")


def downgrade():
    # Restores add_flexible_schemas exactly (the runbook's "Manual Data Recovery",
    # made safe). dynamic_data is the source of truth after the upgrade, so every
    # component with dynamic_data gets its original columns back from it; this
    # includes components created after the upgrade with only dynamic_data, and
    # edits made through dynamic_data. A key that is missing, JSON null, or (for
    # quantity) an empty string becomes SQL NULL. Components without
    # dynamic_data keep their columns as they are.
    #
    # A value that does not fit its column (a quantity that is not an integer in
    # the integer range, a type or material longer than 100 characters, or a
    # dynamic_data that is not a JSON object) is never truncated or guessed: the
    # downgrade stops with an error listing the components to fix, and nothing
    # changes.
    #
    # Then the seeded schema `default` and its fields are removed (the rows this
    # revision's up section created, declared in down_row_loss). Components on
    # it, or on no schema, lose schema_id and dynamic_data, as before the
    # upgrade. Schemas users created after the upgrade are their data, not seed
    # data, and the tables still exist at add_flexible_schemas: they stay, and so
    # do their components' schema_id and dynamic_data (extra fields included);
    # add_flexible_schemas' own down section removes them with the tables.
    op.execute(r"""
DO $$
DECLARE
  problem_count bigint;
  examples text;
BEGIN
  SELECT count(*), string_agg(format('id %s: %s', id, problem), '; ' ORDER BY id)
                     FILTER (WHERE rank <= 10)
    INTO problem_count, examples
  FROM (
    SELECT id, problem, row_number() OVER (ORDER BY id) AS rank
    FROM (
      SELECT id,
             CASE
               WHEN jsonb_typeof(dynamic_data) <> 'object' THEN
                 format('dynamic_data is a JSON %s, not an object', jsonb_typeof(dynamic_data))
               WHEN jsonb_typeof(dynamic_data -> 'quantity') NOT IN ('number', 'string', 'null') THEN
                 format('quantity %s is not an integer', dynamic_data -> 'quantity')
               WHEN jsonb_typeof(dynamic_data -> 'quantity') = 'string'
                    AND btrim(dynamic_data ->> 'quantity') <> ''
                    AND btrim(dynamic_data ->> 'quantity') !~ '^[+-]?[0-9]+(\.0*)?$' THEN
                 format('quantity %s is not an integer', dynamic_data -> 'quantity')
               WHEN (CASE jsonb_typeof(dynamic_data -> 'quantity')
                       WHEN 'number' THEN (dynamic_data -> 'quantity')::numeric
                       WHEN 'string' THEN CASE WHEN btrim(dynamic_data ->> 'quantity') <> ''
                                               THEN btrim(dynamic_data ->> 'quantity')::numeric END
                     END) NOT BETWEEN -2147483648 AND 2147483647 THEN
                 format('quantity %s is outside the integer range', dynamic_data -> 'quantity')
               WHEN jsonb_typeof(dynamic_data -> 'quantity') = 'number'
                    AND (dynamic_data -> 'quantity')::numeric <> trunc((dynamic_data -> 'quantity')::numeric) THEN
                 format('quantity %s is not a whole number', dynamic_data -> 'quantity')
               WHEN length(dynamic_data ->> 'component_type') > 100 THEN
                 'component_type is longer than 100 characters'
               WHEN length(dynamic_data ->> 'material_type') > 100 THEN
                 'material_type is longer than 100 characters'
             END AS problem
      FROM components
      WHERE dynamic_data IS NOT NULL
    ) AS checked
    WHERE problem IS NOT NULL
  ) AS problems;

  IF problem_count > 0 THEN
    RAISE EXCEPTION 'seed_default_schemas down: % component(s) have dynamic_data values that do not fit the original columns (%)',
                    problem_count, examples
      USING HINT = 'Correct those values through dynamic_data (e.g. UPDATE components SET dynamic_data = '
                   'jsonb_set(dynamic_data, ''{quantity}'', ''3'') WHERE id = ...) and retry; nothing was changed.';
  END IF;
END
$$;
""")

    op.execute(r"""
UPDATE components
SET component_type = CASE WHEN dynamic_data IS NULL THEN component_type
                          ELSE dynamic_data ->> 'component_type' END,
    description    = CASE WHEN dynamic_data IS NULL THEN description
                          ELSE dynamic_data ->> 'description' END,
    material_type  = CASE WHEN dynamic_data IS NULL THEN material_type
                          ELSE dynamic_data ->> 'material_type' END,
    quantity       = CASE WHEN dynamic_data IS NULL THEN quantity
                          ELSE (CASE jsonb_typeof(dynamic_data -> 'quantity')
                                  WHEN 'number' THEN (dynamic_data -> 'quantity')::numeric
                                  WHEN 'string' THEN CASE WHEN btrim(dynamic_data ->> 'quantity') <> ''
                                                          THEN btrim(dynamic_data ->> 'quantity')::numeric END
                                END)::integer END,
    schema_id      = CASE WHEN schema_id IS NULL OR schema_id = (SELECT id FROM component_schemas WHERE name = 'default')
                          THEN NULL ELSE schema_id END,
    dynamic_data   = CASE WHEN schema_id IS NULL OR schema_id = (SELECT id FROM component_schemas WHERE name = 'default')
                          THEN NULL ELSE dynamic_data END
WHERE dynamic_data IS NOT NULL OR schema_id IS NOT NULL;
""")

    op.execute(r"""
DELETE FROM component_schema_fields
WHERE schema_id IN (SELECT id FROM component_schemas WHERE name = 'default');
""")

    op.execute(r"""
DELETE FROM component_schemas WHERE name = 'default';
""")
