"""Alembic's entry point: the URL comes from ``store.upgrade`` (never an ini file)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from stockPredictor.store.db import engine_for
from stockPredictor.store.models import Base

config = context.config
url = config.attributes["url"]

if context.is_offline_mode():  # `alembic upgrade --sql`: the SQL, for a person to read
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_for(url, poolclass=pool.NullPool)  # one connection, closed at the end
    with engine.connect() as connection:
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
