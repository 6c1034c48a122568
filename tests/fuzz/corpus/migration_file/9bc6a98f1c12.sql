-- revision: 9bc6a98f1c12
-- down_revision: 5e2f8d4b7a10
-- message: add instance identifier

-- migrate:up
-- The identifier a drawing uses for one placed instance of a component
-- (e.g. "R12"). Nullable, existing components have none.
ALTER TABLE components ADD COLUMN instance_identifier varchar(100);

-- migrate:down
ALTER TABLE components DROP COLUMN instance_identifier;
