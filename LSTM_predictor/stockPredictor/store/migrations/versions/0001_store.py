"""The price store, fetch state, forecast ledger and uploads.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of the first store."""
    op.create_table(
        "prices",
        sa.Column("ticker", sa.String(15), primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        *(sa.Column(name, sa.Float, nullable=False)
          for name in ("open", "high", "low", "close", "volume")))
    op.create_table(
        "fetch_state",
        sa.Column("ticker", sa.String(15), primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("checked_at", sa.DateTime(timezone=True)),
        sa.Column("last_day", sa.Date),
        sa.Column("retry_after", sa.DateTime(timezone=True)),
        sa.Column("failure", sa.String(200)),
        sa.Column("name", sa.String(120)))
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(80)),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("sha256", name="uq_uploads_sha256"))
    op.create_index("ix_uploads_viewed_at", "uploads", ["viewed_at"])
    op.create_table(
        "forecasts",
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
    for column in ("ticker", "model", "kind", "as_of"):
        op.create_index(f"ix_forecasts_{column}", "forecasts", [column])
    op.create_table(
        "forecast_rows",
        sa.Column("forecast_id", sa.Integer,
                  sa.ForeignKey("forecasts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("step", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("close", sa.Float, nullable=False),
        sa.Column("low", sa.Float),
        sa.Column("high", sa.Float),
        sa.Column("last_close", sa.Float, nullable=False),
        sa.Column("actual", sa.Float))
    op.create_index("ix_forecast_rows_day", "forecast_rows", ["day"])


def downgrade() -> None:
    """Drop them, children first."""
    for table in ("forecast_rows", "forecasts", "uploads", "fetch_state", "prices"):
        op.drop_table(table)
