"""Training from the browser: the jobs table (each job's settings, status and result) and the
model versions they made (an artifact's three files and their checksums, in the database so every
web process and every dyno serves them).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create jobs and model_versions."""
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(43), nullable=False),
        sa.Column("client", sa.String(32), nullable=False),
        sa.Column("ticker", sa.String(15)),
        sa.Column("upload_id", sa.Integer),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(300)),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("task_id", sa.String(64)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.Column("model_name", sa.String(64)),
        sa.Column("result", sa.JSON),
        sa.UniqueConstraint("token", name="uq_jobs_token"))
    op.create_index("ix_jobs_client", "jobs", ["client"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("job_id", sa.Integer),
        sa.Column("ticker", sa.String(15)),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_h5", sa.LargeBinary, nullable=False),
        sa.Column("scaler_pkl", sa.LargeBinary, nullable=False),
        sa.Column("model_json", sa.LargeBinary, nullable=False),
        sa.Column("sha256_json", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.UniqueConstraint("name", name="uq_model_versions_name"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL",
                                name="fk_model_versions_job"))
    op.create_index("ix_model_versions_job_id", "model_versions", ["job_id"])
    op.create_index("ix_model_versions_ticker", "model_versions", ["ticker"])
    # Every web process polls (name, checksum, default, ticker) every few seconds: a covering
    # index lets SQLite answer without reading the rows, whose files it would otherwise scan.
    op.create_index("ix_model_versions_poll", "model_versions",
                    ["name", "sha256_json", "is_default", "ticker"])


def downgrade() -> None:
    """Drop model_versions and jobs (the trained models go with them)."""
    op.drop_index("ix_model_versions_poll", "model_versions")
    op.drop_index("ix_model_versions_ticker", "model_versions")
    op.drop_index("ix_model_versions_job_id", "model_versions")
    op.drop_table("model_versions")
    op.drop_index("ix_jobs_status", "jobs")
    op.drop_index("ix_jobs_client", "jobs")
    op.drop_table("jobs")
