-- Fails half-way, outside a transaction: the first statement commits, the
-- second fails (body is NOT NULL), and the table is left dirty at version 3,
-- as a golang-migrate migration without BEGIN/COMMIT leaves it.
ALTER TABLE notes ADD COLUMN reviewed boolean;
INSERT INTO notes (body) VALUES (NULL);
