"""The database: URLs, migrations from empty on SQLite and a real PostgreSQL, WAL for workers."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from stockPredictor.errors import StockPredictorError
from stockPredictor.store import database_url, engine_for, upgrade, writing
from stockPredictor.store.models import Base

TABLES = {"prices", "fetch_state", "forecasts", "forecast_rows", "uploads", "upload_contents",
          "jobs", "model_versions", "watchlists", "watch_summaries", "alembic_version"}


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:pw@db.example:5432/app", "postgresql+psycopg://u:pw@db.example:5432/app"),
    ("postgresql://u@localhost/app", "postgresql+psycopg://u@localhost/app"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_heroku_and_plain_urls_are_read_with_psycopg_3(given, expected):
    assert database_url(given) == expected


def test_without_database_url_the_default_is_a_sqlite_file_in_the_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_url(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/stock-predictor.db"


@pytest.mark.parametrize("bad", ["mysql://u@h/db", "not a url at all"])
def test_an_unusable_database_url_is_one_sentence(bad):
    with pytest.raises(StockPredictorError, match="DATABASE_URL"):
        database_url(bad)


def _check_migrated(url: str) -> None:
    engine = engine_for(url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as connection:
            # The migrations build exactly what the models describe.
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            assert connection.execute(text("select version_num from alembic_version")
                                      ).scalar() == "0006"
    finally:
        engine.dispose()


def test_migrations_from_empty_on_sqlite_in_wal_mode(tmp_path):
    url = database_url("", tmp_path / "instance")
    upgrade(url)
    upgrade(url)  # a second run finds nothing to do
    _check_migrated(url)
    with engine_for(url).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_migrations_from_empty_on_postgresql(postgres_url):
    upgrade(postgres_url)
    upgrade(postgres_url)
    _check_migrated(postgres_url)


def test_the_db_upgrade_command_migrates_the_database_it_is_given(
        tmp_path, capsys, monkeypatch):
    from stockPredictor.cli import main

    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path}/cli.db"
    assert main(["db", "upgrade", "--url", url]) == 0
    assert "is up to date" in capsys.readouterr().out
    _check_migrated(url)
    assert main(["db", "upgrade", "--instance", str(tmp_path / "inst")]) == 0
    assert (tmp_path / "inst" / "stock-predictor.db").is_file()
    assert main(["db", "upgrade", "--url", "mysql://u@h/db"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "expected PostgreSQL or SQLite" in error


def test_purge_uploads_runs_from_the_command_line(tmp_path, capsys):
    from stockPredictor.cli import main

    url = f"sqlite:///{tmp_path}/purge.db"
    assert main(["db", "purge-uploads", "--url", url, "--days", "30"]) == 0
    assert "removed 0 upload(s) not viewed in 30 days" in capsys.readouterr().out
    assert main(["db", "purge-uploads", "--url", url, "--days", "0"]) == 1


def test_on_sqlite_a_read_never_waits_for_a_writer(tmp_path):
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    upgrade(url)
    writer, reader = engine_for(url), engine_for(url)
    try:
        with writing(writer).begin() as held:  # another worker in the middle of a write
            held.execute(text("insert into fetch_state (ticker, source) values ('X', 'yahoo')"))
            with reader.connect() as connection:
                # No waiting allowed: a read that needed the lock would fail at once.
                connection.exec_driver_sql("PRAGMA busy_timeout=0")
                assert connection.execute(text("select count(*) from fetch_state")).scalar() == 0
        with reader.connect() as connection:
            assert connection.execute(text("select count(*) from fetch_state")).scalar() == 1
    finally:
        writer.dispose()
        reader.dispose()


def test_the_db_commands_say_in_one_sentence_when_the_database_cannot_be_used(
        capsys, free_port, tmp_path):
    from stockPredictor.cli import main

    down = f"postgresql://u:secret@127.0.0.1:{free_port()}/none"
    assert main(["db", "upgrade", "--url", down]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "could not be used" in error and "refused" in error
    assert "secret" not in error and "bug" not in error
    url = f"sqlite:///{tmp_path}/days.db"
    assert main(["db", "purge-uploads", "--url", url, "--days", str(10**20)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "must be from 1 to 36,500" in error
