-- The drawing application's original schema, drawings and their components.
-- The component columns are nullable because the application has always
-- allowed partially described components.
CREATE TABLE drawings (
    id          serial PRIMARY KEY,
    name        varchar(255) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE components (
    id              serial PRIMARY KEY,
    drawing_id      integer NOT NULL REFERENCES drawings (id) ON DELETE CASCADE,
    component_type  varchar(100),
    description     text,
    material_type   varchar(100),
    quantity        integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ix_components_drawing_id ON components (drawing_id);

