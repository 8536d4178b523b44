"""The ledger bounded: live forecasts only, one entry per ticker, model, day and source holding
the whole path and the band at every level; an index for each filter of the listing.

Replays (a past as_of, the bundled sample, an upload) are deleted: the forecast table recomputes
them on demand. Of the live forecasts, one per (ticker, model, as_of, source) is kept, the
longest (the earliest of equals), its band moved to the column of its level; its other levels
stay empty, as a forecast recorded before this revision never had them.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The band levels as they were offered when this revision was written (forecast/bands.py
# LEVELS): a migration is frozen, whatever the code offers later.
LEVELS = {"50": 0.5, "80": 0.8, "95": 0.95}
_NEW, _NEW_ROWS = "forecasts_0002", "forecast_rows_0002"


def _entries(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("ticker", sa.String(15), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("horizon", sa.Integer, nullable=False),
        sa.Column("last_close", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_forecasts"),
        sa.UniqueConstraint("ticker", "model", "as_of", "source", name="uq_forecasts_key"))


def _rows(name: str, parent: str) -> None:
    op.create_table(
        name,
        sa.Column("forecast_id", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("close", sa.Float, nullable=False),
        *(sa.Column(f"{side}_{level}", sa.Float) for level in LEVELS for side in ("low", "high")),
        sa.Column("actual", sa.Float),
        sa.PrimaryKeyConstraint("forecast_id", "step", name="pk_forecast_rows"),
        sa.ForeignKeyConstraint(["forecast_id"], [f"{parent}.id"], ondelete="CASCADE",
                                name="fk_forecast_rows_forecast"))


def _indexes() -> None:
    # Newest first within each filter: (column, id) lets the listing walk one index backwards
    # from its cursor, on PostgreSQL as on SQLite.
    for column in ("ticker", "model", "as_of"):
        op.create_index(f"ix_forecasts_{column}_id", "forecasts", [column, "id"])
    op.create_index("ix_forecast_rows_day", "forecast_rows", ["day"])


def upgrade() -> None:
    """Delete the replays, keep one live forecast per key, and move it to the new shape."""
    # Children first: SQLite's foreign keys may be off for this connection.
    op.execute("DELETE FROM forecast_rows WHERE forecast_id IN "
               "(SELECT id FROM forecasts WHERE kind <> 'live')")
    op.execute("DELETE FROM forecasts WHERE kind <> 'live'")
    op.execute("DELETE FROM forecasts WHERE EXISTS (SELECT 1 FROM forecasts AS other "
               "WHERE other.ticker = forecasts.ticker AND other.model = forecasts.model "
               "AND other.as_of = forecasts.as_of AND other.source = forecasts.source "
               "AND (other.horizon > forecasts.horizon OR (other.horizon = forecasts.horizon "
               "AND other.id < forecasts.id)))")
    op.execute("DELETE FROM forecast_rows WHERE forecast_id NOT IN (SELECT id FROM forecasts)")
    _entries(_NEW)
    _rows(_NEW_ROWS, _NEW)
    op.execute(f"INSERT INTO {_NEW} (id, ticker, model, model_sha256, source, as_of, horizon, "
               "last_close, created_at) SELECT f.id, f.ticker, f.model, f.model_sha256, "
               "f.source, f.as_of, f.horizon, (SELECT MIN(r.last_close) FROM forecast_rows r "
               "WHERE r.forecast_id = f.id), f.created_at FROM forecasts f "
               "WHERE EXISTS (SELECT 1 FROM forecast_rows r WHERE r.forecast_id = f.id)")
    bands = ", ".join(f"CASE WHEN ABS(f.level - {value}) < 1e-9 THEN r.{side} END"
                      for value in LEVELS.values() for side in ("low", "high"))
    columns = ", ".join(f"{side}_{level}" for level in LEVELS for side in ("low", "high"))
    op.execute(f"INSERT INTO {_NEW_ROWS} (forecast_id, step, day, close, {columns}, actual) "
               f"SELECT r.forecast_id, r.step, r.day, r.close, {bands}, r.actual "
               f"FROM forecast_rows r JOIN forecasts f ON f.id = r.forecast_id "
               f"WHERE f.id IN (SELECT id FROM {_NEW})")
    op.drop_table("forecast_rows")
    op.drop_table("forecasts")
    op.rename_table(_NEW, "forecasts")
    op.rename_table(_NEW_ROWS, "forecast_rows")
    _indexes()
    _sequence_past_rows(_NEW)


def _sequence_past_rows(created_as: str) -> None:
    # On PostgreSQL the id's sequence came with the new table, still at 1 after the copy: moved
    # past the copied ids, and named after the table it now serves.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER SEQUENCE {created_as}_id_seq RENAME TO forecasts_id_seq")
    op.execute("SELECT setval('forecasts_id_seq', COALESCE(MAX(id), 0) + 1, false) "
               "FROM forecasts")


def downgrade() -> None:
    """Back to 0001's shape: each live forecast at 80%, served once."""
    op.create_table(
        "forecasts_0001",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("ticker", sa.String(15), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(6), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("horizon", sa.Integer, nullable=False),
        sa.Column("level", sa.Float),
        sa.Column("prices_fingerprint", sa.String(64), nullable=False),
        sa.Column("upload_id", sa.Integer, sa.ForeignKey("uploads.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("served", sa.Integer, nullable=False),
        sa.UniqueConstraint("fingerprint", name="uq_forecasts_fingerprint"))
    op.create_table(
        "forecast_rows_0001",
        sa.Column("forecast_id", sa.Integer,
                  sa.ForeignKey("forecasts_0001.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("step", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("close", sa.Float, nullable=False),
        sa.Column("low", sa.Float),
        sa.Column("high", sa.Float),
        sa.Column("last_close", sa.Float, nullable=False),
        sa.Column("actual", sa.Float))
    # The old fingerprint is a digest no SQL computes: the id stands in, unique all the same.
    op.execute("INSERT INTO forecasts_0001 (id, fingerprint, ticker, model, model_sha256, kind, "
               "source, as_of, horizon, level, prices_fingerprint, upload_id, created_at, served) "
               "SELECT id, 'live-' || CAST(id AS VARCHAR(20)), ticker, model, model_sha256, "
               "'live', source, as_of, horizon, 0.8, '', NULL, created_at, 1 FROM forecasts")
    op.execute("INSERT INTO forecast_rows_0001 (forecast_id, step, day, close, low, high, "
               "last_close, actual) SELECT r.forecast_id, r.step, r.day, r.close, r.low_80, "
               "r.high_80, f.last_close, r.actual FROM forecast_rows r "
               "JOIN forecasts f ON f.id = r.forecast_id")
    op.drop_table("forecast_rows")
    op.drop_table("forecasts")
    op.rename_table("forecasts_0001", "forecasts")
    op.rename_table("forecast_rows_0001", "forecast_rows")
    for column in ("ticker", "model", "kind", "as_of"):
        op.create_index(f"ix_forecasts_{column}", "forecasts", [column])
    op.create_index("ix_forecast_rows_day", "forecast_rows", ["day"])
    _sequence_past_rows("forecasts_0001")
