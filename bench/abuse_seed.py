"""The ledger of bench_abuse.py's listing attack: ~20k entries written straight into the tables.

Written to whatever columns the checkout's tables have, read from the database itself, so that
an older checkout's ledger and a newer one's are filled alike.
"""

from __future__ import annotations

import datetime as dt


def seed_ledger(url: str, entries: int, rows_each: int = 10) -> str:
    """Fill the ledger with ``entries`` live forecasts of 100 tickers over consecutive days,
    written to whatever columns the checkout's tables have (read from the database itself)."""
    from sqlalchemy import MetaData, create_engine, insert

    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine, only=["forecasts", "forecast_rows"])
        forecasts, rows = meta.tables["forecasts"], meta.tables["forecast_rows"]
        start = dt.date.today() - dt.timedelta(days=entries // 100 + rows_each + 10)
        now = dt.datetime.now(dt.timezone.utc)
        each, unique = _template(forecasts), _unique(forecasts)
        row, row_unique = _template(rows), _unique(rows)
        with engine.begin() as connection:
            base = 1 + int(connection.exec_driver_sql("select coalesce(max(id), 0) from "
                                                      "forecasts").scalar())
            for chunk in range(0, entries, 2000):
                ids = range(base + chunk, base + min(entries, chunk + 2000))
                connection.execute(insert(forecasts), [{
                    **each, **{name: f"{i:064x}" for name in unique}, "id": i,
                    "ticker": f"T{i % 100:03d}", "as_of": start + dt.timedelta((i - base) // 100),
                    "created_at": now - dt.timedelta(seconds=entries - i)} for i in ids])
                connection.execute(insert(rows), [{
                    **row, **{name: f"{i:060x}{s:04x}" for name in row_unique},
                    "forecast_id": i, "step": s + 1,
                    "day": start + dt.timedelta((i - base) // 100 + s + 1)}
                    for i in ids for s in range(rows_each)])
        return f"{entries:,} entries of {rows_each} rows seeded"
    finally:
        engine.dispose()


NAMED = {"kind": "live", "source": "yahoo", "model": "general", "level": 0.8, "horizon": 10,
         "served": 1, "last_close": 100.0, "close": 101.0, "low": 95.0, "high": 107.0}


def _unique(table) -> list[str]:
    # Text columns that must differ from row to row: digests and fingerprints.
    from sqlalchemy import String
    return [c.name for c in table.columns if isinstance(c.type, String)
            and ("sha" in c.name or "fingerprint" in c.name)]


def _template(table) -> dict:
    # A value for every column that needs one: by name where it matters, else by type.
    from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, LargeBinary, String

    values = {}
    by_type = ((String, "x"), (Boolean, False), (Integer, 1), (Float, 1.0),
               (DateTime, dt.datetime.now(dt.timezone.utc)), (Date, dt.date.today()),
               (LargeBinary, b""), (JSON, {}))
    for column in table.columns:
        if column.name in NAMED:
            values[column.name] = NAMED[column.name]
        elif column.name == "upload_id" or (column.nullable and not column.primary_key):
            continue
        else:
            values[column.name] = next((v for t, v in by_type if isinstance(column.type, t)),
                                       None)
    return values
