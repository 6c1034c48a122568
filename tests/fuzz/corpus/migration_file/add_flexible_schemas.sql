-- revision: add_flexible_schemas
-- down_revision: 9bc6a98f1c12
-- message: flexible component schemas

-- migrate:up
-- Component schemas let users define which fields a component has; a
-- component's values for those fields live in components.dynamic_data.
-- This revision only creates the structure; seed_default_schemas fills it.
-- Until then schema_id and dynamic_data are NULL and the original component
-- columns remain the source of truth.
CREATE TABLE component_schemas (
    id           serial PRIMARY KEY,
    name         varchar(100) NOT NULL UNIQUE,
    description  text,
    version      integer NOT NULL DEFAULT 1,
    is_default   boolean NOT NULL DEFAULT false,
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE component_schema_fields (
    id             serial PRIMARY KEY,
    schema_id      integer NOT NULL REFERENCES component_schemas (id) ON DELETE CASCADE,
    field_name     varchar(100) NOT NULL,
    field_type     varchar(50) NOT NULL
                   CHECK (field_type IN ('text', 'textarea', 'integer', 'number',
                                         'select', 'checkbox', 'date')),
    field_config   jsonb NOT NULL DEFAULT '{}'::jsonb,
    help_text      text,
    display_order  integer NOT NULL DEFAULT 0,
    is_required    boolean NOT NULL DEFAULT false,
    is_active      boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (schema_id, field_name)
);

ALTER TABLE components
    ADD COLUMN schema_id integer REFERENCES component_schemas (id),
    ADD COLUMN dynamic_data jsonb;

-- migrate:up transaction:false
-- components is the big, busy table, so its indexes are built without
-- blocking writers (runbook, Scenario C). Each statement may run twice after
-- an interruption, hence IF NOT EXISTS.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_components_schema_id
    ON components (schema_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_components_dynamic_data_gin
    ON components USING gin (dynamic_data);

-- migrate:down
-- Dropping the columns drops both indexes with them. At this revision the
-- original component columns are the source of truth (seed_default_schemas'
-- down section put every dynamic_data value back into them).
ALTER TABLE components
    DROP COLUMN dynamic_data,
    DROP COLUMN schema_id;
DROP TABLE component_schema_fields;
DROP TABLE component_schemas;
