"""Persistent state in a real database: the shared price store, the forecast ledger, uploads.

SQLAlchemy 2 with Alembic migrations kept beside the models (``migrations/``), so the installed
package carries them and ``stock-predictor db upgrade`` runs them anywhere the package is, a
Heroku release phase included, with no Flask app to import. ``DATABASE_URL`` names the
database (Heroku's ``postgres://`` form accepted, psycopg 3 for PostgreSQL); without it, a
SQLite file in WAL mode, which several gunicorn workers share.
"""

from .db import Database, database_url, display_url, engine_for, upgrade, writing

__all__ = ["Database", "database_url", "display_url", "engine_for", "upgrade", "writing"]
