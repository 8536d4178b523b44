"""Migration 0002 on a ledger written by 0001: replays gone, one live forecast per key kept in
the new shape, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import inspect, text

from stockPredictor.store import engine_for, upgrade

NOW = dt.datetime(2024, 5, 2, 21, 0, tzinfo=dt.timezone.utc)


def _forecast(connection, id_, kind, horizon, level, ticker="IBM", source="yahoo",
              as_of=dt.date(2024, 5, 2)) -> None:
    connection.execute(text(
        "INSERT INTO forecasts (id, fingerprint, ticker, model, model_sha256, kind, source, "
        "as_of, horizon, level, prices_fingerprint, upload_id, created_at, served) VALUES "
        "(:id, :fp, :ticker, 'general', :sha, :kind, :source, :as_of, :horizon, :level, 'p', "
        "NULL, :now, 3)"), dict(id=id_, fp=f"f{id_}", ticker=ticker, sha="a" * 64, kind=kind,
                                source=source, as_of=as_of, horizon=horizon, level=level,
                                now=NOW))
    for step in range(1, horizon + 1):
        connection.execute(text(
            "INSERT INTO forecast_rows (forecast_id, step, day, close, low, high, last_close, "
            "actual) VALUES (:id, :step, :day, :close, :low, :high, 100.0, :actual)"),
            dict(id=id_, step=step, day=as_of + dt.timedelta(days=step), close=100.0 + step,
                 low=None if level is None else 90.0 + step,
                 high=None if level is None else 110.0 + step,
                 actual=99.0 if step == 1 else None))


def test_0002_keeps_one_live_forecast_per_key_and_drops_the_replays(empty_url):
    upgrade(empty_url, "0001")
    engine = engine_for(empty_url)
    try:
        with engine.begin() as connection:
            _forecast(connection, 1, "replay", 5, 0.8, source="sample")
            _forecast(connection, 2, "live", 2, 0.95)  # shorter than 3: dropped
            _forecast(connection, 3, "live", 4, 0.8)  # kept: the longest of its key
            _forecast(connection, 4, "live", 4, 0.5)  # as long, later: dropped
            _forecast(connection, 5, "live", 1, None, ticker="MSFT")
            _forecast(connection, 6, "replay", 3, 0.8, as_of=dt.date(2020, 1, 2))
        upgrade(empty_url, "0002")
        with engine.connect() as connection:
            entries = connection.execute(text(
                "SELECT id, ticker, horizon, last_close FROM forecasts ORDER BY id")).all()
            rows = connection.execute(text(
                "SELECT forecast_id, step, low_50, high_50, low_80, high_80, low_95, "
                "actual FROM forecast_rows ORDER BY forecast_id, step")).all()
        assert [tuple(e) for e in entries] == [(3, "IBM", 4, 100.0), (5, "MSFT", 1, 100.0)]
        assert [(r.forecast_id, r.step) for r in rows] == [(3, 1), (3, 2), (3, 3), (3, 4),
                                                           (5, 1)]
        first = rows[0]
        # Its 80% band moved to the 80% columns; the levels it never had stay empty.
        assert (first.low_80, first.high_80, first.actual) == (91.0, 111.0, 99.0)
        assert first.low_50 is first.high_50 is first.low_95 is None
        assert rows[-1].low_80 is None  # recorded without a band
        indexes = {index["name"]: index["column_names"]
                   for index in inspect(engine).get_indexes("forecasts")}
        assert indexes["ix_forecasts_ticker_id"] == ["ticker", "id"]
        assert indexes["ix_forecasts_as_of_id"] == ["as_of", "id"]
        # A new entry gets an id past the kept ones (PostgreSQL's sequence moved with them).
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO forecasts (ticker, model, model_sha256, source, as_of, horizon, "
                "last_close, created_at) VALUES ('AAPL', 'general', :sha, 'yahoo', :day, 30, "
                "1.0, :now)"), dict(sha="b" * 64, day=dt.date(2024, 5, 3), now=NOW))
            new_id = connection.execute(text(
                "SELECT id FROM forecasts WHERE ticker = 'AAPL'")).scalar()
        assert new_id > 5
    finally:
        engine.dispose()


def test_0002_downgrades_to_0001_and_up_again(empty_url):
    upgrade(empty_url, "0001")
    engine = engine_for(empty_url)
    try:
        with engine.begin() as connection:
            _forecast(connection, 7, "live", 3, 0.8)
        upgrade(empty_url, "0002")
        from alembic import command
        from alembic.config import Config

        from stockPredictor.store.db import MIGRATIONS
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["url"] = empty_url
        command.downgrade(config, "0001")
        with engine.connect() as connection:
            back = connection.execute(text(
                "SELECT kind, level, served FROM forecasts WHERE id = 7")).one()
            band = connection.execute(text(
                "SELECT low, high, last_close FROM forecast_rows WHERE forecast_id = 7 "
                "AND step = 1")).one()
        assert tuple(back) == ("live", 0.8, 1)
        assert tuple(band) == (91.0, 111.0, 100.0)
        upgrade(empty_url, "0002")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM forecast_rows")).scalar() == 3
    finally:
        engine.dispose()
