CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
CREATE FUNCTION g() RETURNS text AS $fn$ SELECT 'a;b' $fn$ LANGUAGE sql;
SELECT E'it\'s; here', 'it''s', "semi;colon" /* a /* nested; */ comment */ FROM t; -- trailing; comment
DO $$ BEGIN RAISE NOTICE 'x;y'; END $$;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx ON t USING gin (data);
SELECT $1, a$b$ FROM t
