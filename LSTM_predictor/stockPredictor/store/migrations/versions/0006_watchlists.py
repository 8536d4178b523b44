"""Watchlists (issue 22): the lists themselves, reached by token, and the per-ticker summaries
every web process shares (band widths and track record per model, ticker and prices).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create watchlists and watch_summaries."""
    op.create_table(
        "watchlists",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(43), nullable=False),
        sa.Column("client", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("tickers", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_requested_at", sa.DateTime(timezone=True)),
        sa.Column("cold_queued_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("token", name="uq_watchlists_token"))
    op.create_index("ix_watchlists_client", "watchlists", ["client"])
    op.create_table(
        "watch_summaries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_digest", sa.String(32), nullable=False),
        sa.Column("ticker", sa.String(15), nullable=False),
        sa.Column("prices_fingerprint", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.UniqueConstraint("model_digest", "ticker", "prices_fingerprint",
                            name="uq_watch_summaries_key"))
    # The eviction of the oldest summaries walks this index.
    op.create_index("ix_watch_summaries_created_at", "watch_summaries", ["created_at"])


def downgrade() -> None:
    """Drop watch_summaries and watchlists (the lists go with them)."""
    op.drop_index("ix_watch_summaries_created_at", "watch_summaries")
    op.drop_table("watch_summaries")
    op.drop_index("ix_watchlists_client", "watchlists")
    op.drop_table("watchlists")
