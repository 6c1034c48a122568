"""Alembic environment of the drawing migrations.

The database URL comes from the environment (DATABASE_URL, as for the
`schemaop` command line), never from alembic.ini or argv. Offline mode
(`--sql`) needs no URL: it renders PostgreSQL SQL without connecting.

Each revision runs in its own transaction together with its version stamp
(transaction_per_migration), as schemaop runs each step of a plan; a
revision's `autocommit_block()` (CREATE INDEX CONCURRENTLY) commits first and
runs outside a transaction, like a schemaop `transaction:false` section.
"""
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def database_url():
    url = os.environ.get("DATABASE_URL", "")
    # libpq and schemaop accept postgres://; SQLAlchemy 1.4 only postgresql://.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def run_migrations_offline():
    # paramstyle "named": SQL is printed as written (no %-doubling).
    context.configure(
        url=database_url() or "postgresql://",
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    url = database_url()
    if not url:
        raise SystemExit(
            "drawing-alembic: set DATABASE_URL (postgresql://user:password@host/db) "
            "in the environment; the URL is never read from argv or alembic.ini")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
