"""Uploads within budgets: each file's bytes stored once, in upload_contents, keyed by their
SHA-256; an upload becomes a link (name, options, the sender's hashed address) pointing at them,
and keeps a short row saying why once its file is removed.

Existing uploads keep their ids and links: their bytes move to upload_contents, once per
content (the same file under two names had been stored twice). Their sender is not known.

Revision ID: 0004
Revises: 0003
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The tables as this revision knows them: a migration is frozen, whatever the models say later.
uploads = sa.table("uploads", sa.column("id", sa.Integer), sa.column("content", sa.LargeBinary),
                   sa.column("content_sha256", sa.String),
                   sa.column("created_at", sa.DateTime(timezone=True)))
contents = sa.table("upload_contents", sa.column("sha256", sa.String),
                    sa.column("content", sa.LargeBinary), sa.column("size", sa.Integer),
                    sa.column("created_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    """Move every upload's bytes to upload_contents, once per content."""
    op.create_table(
        "upload_contents",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("content_sha256", sa.String(64)))
        batch.add_column(sa.Column("client", sa.String(32)))
        batch.add_column(sa.Column("expired", sa.String(5)))
        batch.add_column(sa.Column("expired_at", sa.DateTime(timezone=True)))
    connection = op.get_bind()
    seen = set()
    # One file at a time: the uploads may hold gigabytes (that is why this revision exists).
    for upload_id in connection.execute(sa.select(uploads.c.id).order_by(uploads.c.id)).scalars():
        content, created = connection.execute(sa.select(
            uploads.c.content, uploads.c.created_at).where(uploads.c.id == upload_id)).one()
        content = bytes(content)
        digest = hashlib.sha256(content).hexdigest()
        if digest not in seen:
            connection.execute(contents.insert().values(sha256=digest, content=content,
                                                        size=len(content), created_at=created))
            seen.add(digest)
        connection.execute(uploads.update().where(uploads.c.id == upload_id).values(
            content_sha256=digest))
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("content")
        batch.create_foreign_key("fk_uploads_content_sha256", "upload_contents",
                                 ["content_sha256"], ["sha256"])
        batch.create_index("ix_uploads_content_sha256", ["content_sha256"])
        batch.create_index("ix_uploads_client", ["client"])


def downgrade() -> None:
    """Back to one row per upload holding its bytes; expired links go."""
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("content", sa.LargeBinary))
    op.execute("UPDATE uploads SET content = (SELECT c.content FROM upload_contents c "
               "WHERE c.sha256 = uploads.content_sha256)")
    op.execute("DELETE FROM uploads WHERE content IS NULL")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_index("ix_uploads_client")
        batch.drop_index("ix_uploads_content_sha256")
        batch.drop_constraint("fk_uploads_content_sha256", type_="foreignkey")
        for column in ("content_sha256", "client", "expired", "expired_at"):
            batch.drop_column(column)
        batch.alter_column("content", existing_type=sa.LargeBinary, nullable=False)
    op.drop_table("upload_contents")
