"""The price store bounded: the day each ticker was last read, so the least recently read go
first once PRICE_STORE_TICKERS tickers are stored; fetch state left by tickers Yahoo does not know
is removed.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add fetch_state.read_on; drop the rows of tickers with nothing stored and no fetch due."""
    with op.batch_alter_table("fetch_state") as batch:
        batch.add_column(sa.Column("read_on", sa.Date))
    # Before this revision every ticker asked for kept a row, known to Yahoo or not; those with
    # no stored prices hold nothing worth keeping (a fetch in flight just claims its row again).
    op.execute("DELETE FROM fetch_state WHERE last_day IS NULL")


def downgrade() -> None:
    """Drop fetch_state.read_on."""
    with op.batch_alter_table("fetch_state") as batch:
        batch.drop_column("read_on")
