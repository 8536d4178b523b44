"""The ledger listing at depth: cursor pages that cover every entry once, a bounded count, and an
index under each filter, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import event, inspect

from stockPredictor.forecast import report
from stockPredictor.store import ledger, listing

ENTRIES = 57  # not a multiple of any page size below: the last page is short


@pytest.fixture
def filled(engine, walk, tiny_artifact):
    """ENTRIES live entries, as of ENTRIES days, every third of ticker ALT; their ids."""
    made = ledger.entry(report.build(walk, tiny_artifact, 3), "live")
    entries = []
    for i in range(ENTRIES):
        day = (walk.index[-1] - pd.Timedelta(days=i)).date()
        ticker = "ALT" if i % 3 == 0 else "WALK"
        entries.append(ledger.Entry({**made.values, "as_of": day, "ticker": ticker}, made.rows))
    return engine, ledger.write(engine, entries)


def _walk(engine, limit: int, **filters) -> tuple[list[int], list[int]]:
    """Every id, following "older" from the first page, then "newer" back from the last."""
    down, page = [], ledger.listing(engine, limit=limit, **filters)
    for _ in range(ENTRIES + 2):  # bounded: a cursor that never ends fails below
        down += [item["id"] for item in page["forecasts"]]
        if page["older"] is None:
            break
        page = ledger.listing(engine, limit=limit, before=page["older"], **filters)
    up = [item["id"] for item in page["forecasts"]]
    for _ in range(ENTRIES + 2):
        if page["newer"] is None:
            break
        page = ledger.listing(engine, limit=limit, after=page["newer"], **filters)
        up = [item["id"] for item in page["forecasts"]] + up
    return down, up


@pytest.mark.parametrize("limit", [1, 10, 20, ENTRIES, 100])
def test_cursor_pages_cover_every_entry_exactly_once_newest_first(filled, limit):
    engine, ids = filled
    down, up = _walk(engine, limit)
    assert down == sorted(ids, reverse=True)
    assert up == down  # back up again, the same entries in the same order


def test_a_filtered_walk_covers_that_tickers_entries_once(filled):
    engine, ids = filled
    alt = [i for k, i in enumerate(ids) if k % 3 == 0]
    down, up = _walk(engine, 4, ticker="ALT")
    assert down == up == sorted(alt, reverse=True)
    first = ledger.listing(engine, ticker="ALT", limit=4)
    assert first["newer"] is None and first["total"] == len(alt) == 19


def test_the_first_page_has_no_newer_and_a_page_past_the_end_is_empty(filled):
    engine, ids = filled
    first = ledger.listing(engine, limit=5)
    assert first["newer"] is None and first["older"] == first["forecasts"][-1]["id"]
    assert ledger.listing(engine, limit=5, before=min(ids))["forecasts"] == []
    # "after" the newest entry: nothing newer, so the newest page, full.
    newest = ledger.listing(engine, limit=5, after=max(ids))
    assert [f["id"] for f in newest["forecasts"]] == [f["id"] for f in first["forecasts"]]


def test_the_count_stops_at_its_cap(filled, monkeypatch):
    engine, _ = filled
    assert ledger.listing(engine)["total"] == ENTRIES
    assert ledger.listing(engine)["total_capped"] is False
    monkeypatch.setattr(listing, "COUNT_CAP", 20)
    page = ledger.listing(engine, limit=5)
    assert (page["total"], page["total_capped"]) == (20, True)
    assert ledger.listing(engine, ticker="ALT")["total"] == 19  # under the cap: exact


def _statements(engine, call) -> list[str]:
    seen = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    return seen


@pytest.mark.parametrize("filters", [{}, {"ticker": "ALT"}, {"model": "walk"},
                                     {"as_of": dt.date(2001, 1, 2)}])
def test_each_filter_walks_an_index_on_sqlite(filled, filters):
    engine, ids = filled
    if engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL's indexes are checked below")
    seen = _statements(engine, lambda: ledger.listing(engine, before=ids[30], **filters))
    plans = []
    with engine.connect() as connection:
        for statement, parameters in seen:
            if "FROM forecasts" in statement:
                plans += [row[-1] for row in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters)]
    assert plans
    # Every read of the entries goes through the primary key or the filter's (column, id)
    # index: never a scan of the table, and never a sort of what it found.
    for plan in plans:
        assert "SCAN forecasts" not in plan or "USING" in plan, plans
        assert "TEMP B-TREE" not in plan, plans
    column = next(iter(filters), None)
    if column:
        assert any(f"ix_forecasts_{column}_id" in plan for plan in plans), plans


def test_each_filter_has_its_index(filled):
    engine, _ = filled
    indexes = {index["name"]: index["column_names"]
               for index in inspect(engine).get_indexes("forecasts")}
    for column in ("ticker", "model", "as_of"):
        assert indexes[f"ix_forecasts_{column}_id"] == [column, "id"]
    unique = inspect(engine).get_unique_constraints("forecasts")
    assert [c["column_names"] for c in unique] == [["ticker", "model", "as_of", "source"]]
