DROP TABLE components;
DROP TABLE drawings;
-- revision: 9bc6a98f1c12
-- down_revision: 5e2f8d4b7a10
-- message: add instance identifier

