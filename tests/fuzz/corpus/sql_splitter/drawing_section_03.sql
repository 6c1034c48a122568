-- The identifier a drawing uses for one placed instance of a component
-- (e.g. "R12"). Nullable, existing components have none.
ALTER TABLE components ADD COLUMN instance_identifier varchar(100);

