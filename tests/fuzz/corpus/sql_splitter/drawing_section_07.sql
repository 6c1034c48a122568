-- Dropping the columns drops both indexes with them. At this revision the
-- original component columns are the source of truth (seed_default_schemas'
-- down section put every dynamic_data value back into them).
ALTER TABLE components
    DROP COLUMN dynamic_data,
    DROP COLUMN schema_id;
DROP TABLE component_schema_fields;
DROP TABLE component_schemas;
-- revision: seed_default_schemas
-- down_revision: add_flexible_schemas
-- message: seed default component schema and migrate component data
-- down_row_loss: component_schemas, component_schema_fields

