ALTER TABLE notes DROP COLUMN reviewed;
