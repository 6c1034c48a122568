-- revision: add_flexible_schemas
-- down_revision: 9bc6a98f1c12
-- message: flexible component schemas

-- migrate:up phase:expand
-- Component schemas let users define which fields a component has; a
-- component's values for those fields live in components.dynamic_data.
-- This revision only creates the structure; seed_default_schemas fills it.
-- Until then schema_id and dynamic_data are NULL and the original component
-- columns remain the source of truth.
--
-- Everything here only adds, so it all runs in the expand phase, while the
-- old application still writes (design §3.1): two new tables, two nullable
-- columns (a catalog change, no rewrite), and the foreign key NOT VALID, so
-- adding it does not scan components while holding the ACCESS EXCLUSIVE lock
-- ADD COLUMN takes; it is validated in the next section, under a lock that
-- lets writes through.
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
    ADD COLUMN schema_id integer,
    ADD COLUMN dynamic_data jsonb;
ALTER TABLE components
    ADD CONSTRAINT components_schema_id_fkey FOREIGN KEY (schema_id)
    REFERENCES component_schemas (id) NOT VALID;

-- migrate:up phase:expand transaction:false
-- VALIDATE CONSTRAINT takes SHARE UPDATE EXCLUSIVE, which lets the old
-- application's reads and writes through, and a constraint already valid is
-- left as it is, so the statement may run twice after an interruption.
-- components is the big, busy table, so its indexes are built without
-- blocking writers (runbook, Scenario C); IF NOT EXISTS for the same reason.
ALTER TABLE components VALIDATE CONSTRAINT components_schema_id_fkey;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_components_schema_id
    ON components (schema_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_components_dynamic_data_gin
    ON components USING gin (dynamic_data);

-- migrate:down
-- Dropping the columns drops both indexes with them. At this revision the
-- original component columns are the source of truth (seed_default_schemas'
-- down section put every dynamic_data value back into them). The sync
-- trigger of seed_default_schemas' expand phase is dropped first, if a run
-- that never reached its window left it: it reads the dropped columns, so
-- left behind it would make every write of the old application fail.
DROP TRIGGER IF EXISTS components_sync_dynamic_data ON components;
DROP FUNCTION IF EXISTS components_sync_dynamic_data();
DROP FUNCTION IF EXISTS components_dynamic_data_in_step(jsonb, text, text, text, integer);
DROP FUNCTION IF EXISTS components_default_dynamic_data(jsonb, text, text, text, integer);
ALTER TABLE components
    DROP COLUMN dynamic_data,
    DROP COLUMN schema_id;
DROP TABLE component_schema_fields;
DROP TABLE component_schemas;
