ALTER TABLE components DROP COLUMN instance_identifier;
-- revision: add_flexible_schemas
-- down_revision: 9bc6a98f1c12
-- message: flexible component schemas

