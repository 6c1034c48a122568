-- revision: seed_default_schemas
-- down_revision: add_flexible_schemas
-- message: seed default component schema and migrate component data
-- down_row_loss: component_schemas, component_schema_fields

-- migrate:up phase:expand
-- Creates the built-in schema `default`, whose fields mirror the original
-- component columns, and moves every component onto it. From this revision on
-- components.dynamic_data is the source of truth for those four values; the
-- original columns keep their last value but the application no longer
-- maintains them (new components may have only dynamic_data).
--
-- Components that already point at a schema (one a user created at
-- add_flexible_schemas, or kept by a partial rollback) keep it; their
-- dynamic_data keeps any extra keys, the four column values are written over
-- it because until now the columns were the source of truth.
--
-- Phases (design §3.1, "The drawing chain"): the expand phase does the work
-- while the old application still writes through the original columns: the
-- seed rows, a trigger that keeps every row it inserts or updates in step,
-- and the backfill of the rows written before the trigger, in batches. The
-- window, with the writers at zero, catches up what the trigger could not
-- see and removes the trigger before the new application starts; contract
-- refreshes the planner's statistics.
--
-- A `default` schema that this revision did not create is refused before
-- anything changes. One whose sync trigger function exists was created by an
-- earlier run of this expand phase that did not reach its window, and is
-- reused (every statement of this section may run again). The seeded schema
-- a downgrade renamed, whose contract phase has not finished (or failed),
-- is taken back under its name: the components still on it have their
-- original columns in dynamic_data from that downgrade's window, and the
-- backfill below brings them in step with what the application wrote since
-- (the rows with a schema and dynamic_data not in step); its fields are
-- inserted again below.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM component_schemas WHERE name = 'default (being removed by the seed_default_schemas downgrade)') THEN
    IF EXISTS (SELECT 1 FROM component_schemas WHERE name = 'default') THEN
      RAISE EXCEPTION 'seed_default_schemas: component_schemas has a schema named "default" and the seeded schema an unfinished downgrade renamed'
        USING HINT = 'Rename the schema "default" (UPDATE component_schemas SET name = ...), or finish that downgrade '
                     '(schemaop downgrade add_flexible_schemas --phase contract), and retry; nothing was changed.';
    END IF;
    UPDATE component_schemas SET name = 'default', is_default = true, is_active = true
    WHERE name = 'default (being removed by the seed_default_schemas downgrade)';
  ELSIF EXISTS (SELECT 1 FROM component_schemas WHERE name = 'default')
     AND to_regprocedure('components_sync_dynamic_data()') IS NULL THEN
    RAISE EXCEPTION 'seed_default_schemas: component_schemas already has a schema named "default"'
      USING HINT = 'This revision creates that schema and its down section deletes it. '
                   'Rename the existing schema (UPDATE component_schemas SET name = ...) and retry.';
  END IF;
END
$$;

INSERT INTO component_schemas (name, description, version, is_default, is_active)
VALUES ('default', 'Built-in schema with the original component fields', 1, true, true)
ON CONFLICT (name) DO NOTHING;

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
WHERE s.name = 'default'
ON CONFLICT (schema_id, field_name) DO NOTHING;

-- A component's dynamic_data on the default schema: every key is written,
-- NULL columns as JSON null, so the application sees the full field set;
-- other keys are kept. The one definition the trigger, the backfill and the
-- window's catch-up share, so they cannot disagree.
CREATE OR REPLACE FUNCTION components_default_dynamic_data(
    dynamic_data jsonb, component_type text, description text, material_type text,
    quantity integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT COALESCE(dynamic_data, '{}'::jsonb) || jsonb_build_object(
      'component_type', component_type,
      'description',    description,
      'material_type',  material_type,
      'quantity',       quantity)
$fn$;

-- Whether dynamic_data already holds those values: it contains them (an
-- object), or contains them as an element (anything else, to which they
-- were appended as today's single UPDATE did). NULL is not in step.
CREATE OR REPLACE FUNCTION components_dynamic_data_in_step(
    dynamic_data jsonb, component_type text, description text, material_type text,
    quantity integer) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT COALESCE(dynamic_data @> CASE jsonb_typeof(dynamic_data)
      WHEN 'object' THEN components_default_dynamic_data(
          NULL, component_type, description, material_type, quantity)
      ELSE jsonb_build_array(components_default_dynamic_data(
          NULL, component_type, description, material_type, quantity)) END, false)
$fn$;

-- The sync trigger: a row the old application inserts or updates gets
-- schema_id and dynamic_data from the values it is writing (NEW), in the
-- same statement, so a row committed after the trigger is in step whatever
-- else runs at the same time. CREATE TRIGGER waits for the writers in
-- flight (its lock conflicts with theirs), and every write that starts after
-- it sees the trigger: no write falls between the trigger and the backfill.
-- search_path is the migration's, whatever the application's session uses.
CREATE OR REPLACE FUNCTION components_sync_dynamic_data() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
  IF NEW.schema_id IS NOT NULL AND components_dynamic_data_in_step(
         NEW.dynamic_data, NEW.component_type, NEW.description, NEW.material_type,
         NEW.quantity) THEN
    RETURN NEW;  -- a non-object that already holds the values as an element
  END IF;
  NEW.schema_id := COALESCE(NEW.schema_id,
                            (SELECT id FROM component_schemas WHERE name = 'default'));
  NEW.dynamic_data := components_default_dynamic_data(
      NEW.dynamic_data, NEW.component_type, NEW.description, NEW.material_type, NEW.quantity);
  RETURN NEW;
END
$fn$;

-- A row already in step (the backfill's own UPDATE, or a write that changed
-- none of the four values) is left alone, so the values are appended once
-- only. The WHEN repeats the keys of components_default_dynamic_data because
-- PostgreSQL does not inline a SQL function in a trigger's WHEN: calling one
-- there per row doubled the backfill's time. A non-object fails the WHEN and
-- the function checks it (components_dynamic_data_in_step).
CREATE OR REPLACE TRIGGER components_sync_dynamic_data
    BEFORE INSERT OR UPDATE ON components
    FOR EACH ROW
    WHEN (NEW.schema_id IS NULL OR NEW.dynamic_data IS NULL
          OR NOT NEW.dynamic_data @> jsonb_build_object(
              'component_type', NEW.component_type, 'description', NEW.description,
              'material_type', NEW.material_type, 'quantity', NEW.quantity))
    EXECUTE FUNCTION components_sync_dynamic_data();

-- migrate:up phase:expand transaction:false
-- The rows still to do (no schema or no dynamic_data), so each repetition of
-- the backfill below finds its next batch without scanning the rows already
-- done, and the window's catch-up finds what is left without a table scan.
-- Dropped in the window.
CREATE INDEX CONCURRENTLY IF NOT EXISTS components_sync_todo
    ON components (id) WHERE schema_id IS NULL OR dynamic_data IS NULL;

-- migrate:up phase:expand batch:2000
-- Components that already had a schema and dynamic_data before the trigger
-- (a user's schema at add_flexible_schemas) but not yet the four column
-- values. Rarely any; one scan of the table finds them.
UPDATE components AS c
SET dynamic_data = components_default_dynamic_data(
        c.dynamic_data, c.component_type, c.description, c.material_type, c.quantity)
WHERE c.id = ANY (ARRAY(
    SELECT id FROM components
    WHERE schema_id IS NOT NULL AND dynamic_data IS NOT NULL
      AND NOT components_dynamic_data_in_step(
          dynamic_data, component_type, description, material_type, quantity)
    ORDER BY id LIMIT 2000 FOR UPDATE SKIP LOCKED));

-- migrate:up phase:expand batch:10000
-- The backfill: the rows written before the trigger, 10,000 per transaction,
-- found through components_sync_todo. A row the old application holds locked
-- is skipped (SKIP LOCKED: no waiting, no deadlock): its writer's trigger
-- brings it in step when it commits, and the window catches it up if the
-- writer rolls back. The outer condition is re-checked on the row's newest
-- version, so a row the trigger synced meanwhile is left alone. The ids are
-- collected first (ARRAY), so each repetition reads its 10,000 rows by
-- primary key instead of every row still to do.
UPDATE components AS c
SET schema_id = (SELECT id FROM component_schemas WHERE name = 'default'),
    dynamic_data = components_default_dynamic_data(
        c.dynamic_data, c.component_type, c.description, c.material_type, c.quantity)
WHERE (c.schema_id IS NULL OR c.dynamic_data IS NULL)
  AND c.id = ANY (ARRAY(
    SELECT id FROM components WHERE schema_id IS NULL OR dynamic_data IS NULL
    ORDER BY id LIMIT 10000 FOR UPDATE SKIP LOCKED));

-- migrate:up
-- The window, with the writers at zero: the rows no trigger saw (a writer's
-- transaction that rolled back after the backfill skipped its row, or writes
-- made with triggers disabled, e.g. session_replication_role = replica),
-- found through components_sync_todo, then the trigger and the helpers go,
-- so the new application writes dynamic_data alone.
UPDATE components AS c
SET schema_id = COALESCE(c.schema_id, (SELECT id FROM component_schemas WHERE name = 'default')),
    dynamic_data = components_default_dynamic_data(
        c.dynamic_data, c.component_type, c.description, c.material_type, c.quantity)
WHERE c.schema_id IS NULL OR c.dynamic_data IS NULL;

DROP TRIGGER components_sync_dynamic_data ON components;
DROP FUNCTION components_sync_dynamic_data();
DROP FUNCTION components_dynamic_data_in_step(jsonb, text, text, text, integer);
DROP FUNCTION components_default_dynamic_data(jsonb, text, text, text, integer);
DROP INDEX components_sync_todo;

-- migrate:up phase:contract
-- 1M rows rewritten: the planner's statistics for the new columns (NULL
-- everywhere when last analyzed) are refreshed without waiting for
-- autovacuum. Nothing here is needed by the new application to start.
ANALYZE components;

-- migrate:down
-- Restores add_flexible_schemas exactly (the runbook's "Manual Data Recovery",
-- made safe). dynamic_data is the source of truth after the upgrade, so every
-- component with dynamic_data gets its original columns back from it; this
-- includes components created after the upgrade with only dynamic_data, and
-- edits made through dynamic_data. A key that is missing, JSON null, or (for
-- quantity) an empty string becomes SQL NULL. Components without
-- dynamic_data keep their columns as they are.
--
-- A value that does not fit its column (a quantity that is not an integer in
-- the integer range, a type or material longer than 100 characters, or a
-- dynamic_data that is not a JSON object) is never truncated or guessed: the
-- downgrade stops with an error listing the components to fix, and nothing
-- changes.
--
-- Then the seeded schema `default` and its fields are removed (the rows this
-- revision's up section created, declared in down_row_loss). Components on
-- it, or on no schema, lose schema_id and dynamic_data, as before the
-- upgrade. Schemas users created after the upgrade are their data, not seed
-- data, and the tables still exist at add_flexible_schemas: they stay, and so
-- do their components' schema_id and dynamic_data (extra fields included);
-- add_flexible_schemas' own down section removes them with the tables.
--
-- Phases (design §3.1, "The drawing chain"). The window, with the writers
-- at zero, holds what the application at add_flexible_schemas needs before
-- it starts: the original columns as the newer application last wrote them
-- in dynamic_data. Only the rows whose columns differ are written (after an
-- upgrade most rows are still in step), so the window reads the table and
-- rewrites few rows. The seeded schema is renamed and deactivated there, so
-- that application sees no schema named `default`. Clearing schema_id and
-- dynamic_data of the components on it is a rewrite of the whole table,
-- which that application does not need (at add_flexible_schemas the
-- original columns are the source of truth): the contract does it in
-- batches beside the application, then deletes the seeded schema. An
-- upgrade before that contract has finished takes the renamed schema back
-- (see the up section). In a plan that
-- goes on to 9bc6a98f1c12, add_flexible_schemas' down section follows in
-- the window, so the contract sections run in the window too, in its one
-- transaction (design §3.1, "batch:N execution"), before the tables go.
--
-- It first removes what an upgrade run that never reached its window may
-- have left (the sync trigger, its functions, the to-do index), so the
-- columns restored below are not overwritten by it.
DROP TRIGGER IF EXISTS components_sync_dynamic_data ON components;
DROP FUNCTION IF EXISTS components_sync_dynamic_data();
DROP FUNCTION IF EXISTS components_dynamic_data_in_step(jsonb, text, text, text, integer);
DROP FUNCTION IF EXISTS components_default_dynamic_data(jsonb, text, text, text, integer);
DROP INDEX IF EXISTS components_sync_todo;

-- One pass over the table finds the components whose original columns are
-- not exactly what dynamic_data holds (or that have no schema); only those
-- are checked and written. "In step" is exact, never approximate: a
-- quantity of 2.5 next to a column of 3, or a JSON true, is not in step and
-- goes to the check, which refuses it. A row counted as not in step that
-- is (e.g. the string "+7" next to 7) is only written with the same values.
DO $$
DECLARE
  todo integer[];
  problem_count bigint;
  examples text;
BEGIN
  IF EXISTS (SELECT 1 FROM component_schemas WHERE name = 'default (being removed by the seed_default_schemas downgrade)') THEN
    RAISE EXCEPTION 'seed_default_schemas down: component_schemas already has a schema named "default (being removed by the seed_default_schemas downgrade)"'
      USING HINT = 'This downgrade gives the seeded schema that name until its contract phase deletes it. '
                   'Rename the existing schema (UPDATE component_schemas SET name = ...) and retry; nothing was changed.';
  END IF;

  SELECT coalesce(array_agg(id), '{}') INTO todo
  FROM components
  WHERE dynamic_data IS NOT NULL
    AND (schema_id IS NULL
         OR jsonb_typeof(dynamic_data) <> 'object'
         OR component_type IS DISTINCT FROM dynamic_data ->> 'component_type'
         OR description    IS DISTINCT FROM dynamic_data ->> 'description'
         OR material_type  IS DISTINCT FROM dynamic_data ->> 'material_type'
         OR NOT COALESCE(CASE jsonb_typeof(dynamic_data -> 'quantity')
                           WHEN 'number' THEN (dynamic_data -> 'quantity')::numeric = quantity
                           WHEN 'string' THEN CASE WHEN btrim(dynamic_data ->> 'quantity') = ''
                                                   THEN quantity IS NULL
                                                   ELSE btrim(dynamic_data ->> 'quantity') = quantity::text END
                           WHEN 'null' THEN quantity IS NULL
                           ELSE dynamic_data -> 'quantity' IS NULL AND quantity IS NULL
                         END, false));

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
      WHERE id = ANY (todo)
    ) AS checked
    WHERE problem IS NOT NULL
  ) AS problems;

  IF problem_count > 0 THEN
    RAISE EXCEPTION 'seed_default_schemas down: % component(s) have dynamic_data values that do not fit the original columns (%)',
                    problem_count, examples
      USING HINT = 'Correct those values through dynamic_data (e.g. UPDATE components SET dynamic_data = '
                   'jsonb_set(dynamic_data, ''{quantity}'', ''3'') WHERE id = ...) and retry; nothing was changed.';
  END IF;

  UPDATE components
  SET component_type = dynamic_data ->> 'component_type',
      description    = dynamic_data ->> 'description',
      material_type  = dynamic_data ->> 'material_type',
      quantity       = (CASE jsonb_typeof(dynamic_data -> 'quantity')
                         WHEN 'number' THEN (dynamic_data -> 'quantity')::numeric
                         WHEN 'string' THEN CASE WHEN btrim(dynamic_data ->> 'quantity') <> ''
                                                 THEN btrim(dynamic_data ->> 'quantity')::numeric END
                       END)::integer,
      dynamic_data   = CASE WHEN schema_id IS NULL THEN NULL ELSE dynamic_data END
  WHERE id = ANY (todo);
END
$$;

UPDATE component_schemas
SET name = 'default (being removed by the seed_default_schemas downgrade)', is_default = false, is_active = false
WHERE name = 'default';
-- Its fields go now (declared in down_row_loss): the application at
-- add_flexible_schemas then has no field of that schema to edit in
-- dynamic_data, which the contract clears.
DELETE FROM component_schema_fields
WHERE schema_id IN (SELECT id FROM component_schemas WHERE name = 'default (being removed by the seed_default_schemas downgrade)');

-- migrate:down phase:contract batch:50000
-- The components on the seeded schema lose schema_id and dynamic_data,
-- 50,000 per transaction. A row the application holds locked is skipped
-- (SKIP LOCKED: no waiting, no deadlock) and cleared by the next section.
UPDATE components AS c
SET schema_id = NULL, dynamic_data = NULL
WHERE c.schema_id = (SELECT id FROM component_schemas WHERE name = 'default (being removed by the seed_default_schemas downgrade)')
  AND c.id = ANY (ARRAY(
    SELECT id FROM components
    WHERE schema_id = (SELECT id FROM component_schemas WHERE name = 'default (being removed by the seed_default_schemas downgrade)')
    LIMIT 50000 FOR UPDATE SKIP LOCKED));

-- migrate:down phase:contract
-- The rows the batches skipped, then the seeded schema (its fields, also
-- those users added to it, went in the window).
UPDATE components
SET schema_id = NULL, dynamic_data = NULL
WHERE schema_id = (SELECT id FROM component_schemas WHERE name = 'default (being removed by the seed_default_schemas downgrade)');

DELETE FROM component_schemas WHERE name = 'default (being removed by the seed_default_schemas downgrade)';
