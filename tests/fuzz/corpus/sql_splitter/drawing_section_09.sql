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

DELETE FROM component_schema_fields
WHERE schema_id IN (SELECT id FROM component_schemas WHERE name = 'default');
DELETE FROM component_schemas WHERE name = 'default';
