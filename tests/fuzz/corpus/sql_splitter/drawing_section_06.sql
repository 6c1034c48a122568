-- components is the big, busy table, so its indexes are built without
-- blocking writers (runbook, Scenario C). Each statement may run twice after
-- an interruption, hence IF NOT EXISTS.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_components_schema_id
    ON components (schema_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_components_dynamic_data_gin
    ON components USING gin (dynamic_data);

