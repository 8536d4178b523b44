"""The db command: migrate the database (Heroku's release phase), or purge old uploads.

It needs no Flask app: the package carries the migrations, so it runs anywhere the package is
installed (the release phase, a scheduler job, a training machine).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from .. import settings, store
from ..errors import DatabaseUnavailableError, DataError, SourceUnavailableError
from ..store import uploads
from ..store.db import reason
from .support import command

MAX_RETENTION_DAYS = 36_500  # purge-uploads --days: a century is the longest that means anything


def cmd_db(args) -> int:
    """Migrate the database (Heroku's release phase), or purge the uploads nobody viewed."""
    folder = args.instance or settings.current().instance_path or Path("instance")
    url = store.database_url(args.url, folder)
    if args.action == "purge-uploads" and not 1 <= args.days <= MAX_RETENTION_DAYS:
        raise DataError(f"--days {args.days} must be from 1 to {MAX_RETENTION_DAYS:,}")
    try:
        store.upgrade(url)
        if args.action == "purge-uploads":
            engine = store.engine_for(url)
            try:
                gone = uploads.purge(engine, days=args.days)
            finally:
                engine.dispose()
            print(f"removed {gone:,} upload(s) not viewed in {args.days} days")
            return 0
    except (SQLAlchemyError, DatabaseUnavailableError) as exc:  # down, refused, or not ours
        cause = exc.__cause__ if isinstance(exc, DatabaseUnavailableError) else exc
        raise SourceUnavailableError(f"the database at {store.display_url(url)} could not be "
                                     f"used: {reason(cause or exc)}") from None
    print(f"database at {store.display_url(url)} is up to date")
    return 0


def register(sub) -> None:
    """The db command."""
    db = command(sub, "db", cmd_db, "create or migrate the database")
    db.add_argument("action", choices=("upgrade", "purge-uploads"),
                    help="upgrade: run every migration not yet applied (an empty database "
                    "gets every table); purge-uploads: delete the uploads nobody viewed in "
                    "--days days (for Heroku's scheduler)")
    db.add_argument("--days", type=int, default=uploads.DEFAULT_RETENTION_DAYS,
                    help="purge-uploads: days without a visit before an upload goes "
                    "(default: %(default)s)")
    db.add_argument("--url", default=None,
                    help="database URL (default: $DATABASE_URL, else a SQLite file in "
                    "--instance)")
    db.add_argument("--instance", type=Path, default=None,
                    help="folder of the default SQLite file (default: $INSTANCE_PATH, else "
                    "./instance, the web app's instance folder when run from the repository)")
