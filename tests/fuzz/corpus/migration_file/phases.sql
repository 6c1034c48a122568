-- revision: phased
-- down_revision: base1
-- message: expand, window, contract

-- migrate:up phase:expand
CREATE TABLE fresh (id int);
CREATE INDEX fresh_id ON fresh (id);
ALTER TABLE items ADD COLUMN doubled int;
ALTER TABLE items ADD CONSTRAINT doubled_set CHECK (doubled IS NOT NULL) NOT VALID;

-- migrate:up phase:expand transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS items_doubled ON items (doubled);

-- migrate:up phase:expand batch:500
UPDATE items SET doubled = v * 2
WHERE id IN (SELECT id FROM items WHERE doubled IS NULL ORDER BY id LIMIT 500);

-- migrate:up
ALTER TABLE items VALIDATE CONSTRAINT doubled_set;

-- migrate:up phase:contract
ALTER TABLE items DROP COLUMN legacy;

-- migrate:down phase:expand
ALTER TABLE items ADD COLUMN legacy int;

-- migrate:down
ALTER TABLE items DROP COLUMN doubled;
DROP TABLE fresh;
