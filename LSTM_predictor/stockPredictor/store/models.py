"""The tables: prices per ticker and source, each ticker's fetch state, the forecast ledger,
uploads, training jobs and the model versions they made, watchlists and their summaries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer,
                        LargeBinary, String, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Every table of the store."""


class Price(Base):
    """One day's adjusted prices of a ticker from one source."""

    __tablename__ = "prices"

    ticker: Mapped[str] = mapped_column(String(15), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float)


class FetchState(Base):
    """When a ticker was last asked of its source, what came back, and when to ask again.

    One row per ticker and source, shared by every worker: a fetch claims it by moving
    ``checked_at`` (an upsert), so two workers never fetch the same ticker at once, and a rate
    limit sets ``retry_after`` for all of them.
    """

    __tablename__ = "fetch_state"

    ticker: Mapped[str] = mapped_column(String(15), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_day: Mapped[dt.date | None] = mapped_column(Date)
    retry_after: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    failure: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(120))  # the company's, as Yahoo gives it
    # The day a worker last read the ticker's prices, written at most once a day: the store
    # keeps PRICE_STORE_TICKERS tickers and drops the least recently read first.
    read_on: Mapped[dt.date | None] = mapped_column(Date)


# The band levels a ledger row holds, each a (low, high) pair of columns: forecast/bands.py
# LEVELS, as migration 0002 created them.
LEDGER_LEVELS = {0.5: "50", 0.8: "80", 0.95: "95"}


class LedgerForecast(Base):
    """One live forecast (made from the latest fresh Yahoo close): one per ticker, model, as_of
    day and source, holding the whole path and the band at every level.

    Replays (a past as_of, the sample, an upload) are never stored: they are recomputed on demand.
    """

    __tablename__ = "forecasts"
    __table_args__ = (
        UniqueConstraint("ticker", "model", "as_of", "source", name="uq_forecasts_key"),
        # Newest first within each filter: the listing walks one index back from its cursor.
        Index("ix_forecasts_ticker_id", "ticker", "id"),
        Index("ix_forecasts_model_id", "model", "id"),
        Index("ix_forecasts_as_of_id", "as_of", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticker: Mapped[str] = mapped_column(String(15))
    model: Mapped[str] = mapped_column(String(64))
    model_sha256: Mapped[str] = mapped_column(String(64))
    # Where the prices came from: only the store's own source's closes score a forecast.
    source: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[dt.date] = mapped_column(Date)
    horizon: Mapped[int] = mapped_column(Integer)  # the steps held: the model's whole path
    last_close: Mapped[float] = mapped_column(Float)  # the naive forecast of every step
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    rows: Mapped[list[ForecastRow]] = relationship(back_populates="forecast",
                                                   cascade="all, delete-orphan",
                                                   order_by="ForecastRow.step")


class ForecastRow(Base):
    """One day of a ledger forecast with its band at every level, scored once its close is
    known. A level left NULL had too little history to calibrate (or predates migration 0002)."""

    __tablename__ = "forecast_rows"

    forecast_id: Mapped[int] = mapped_column(ForeignKey("forecasts.id", ondelete="CASCADE",
                                                        name="fk_forecast_rows_forecast"),
                                             primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    close: Mapped[float] = mapped_column(Float)
    low_50: Mapped[float | None] = mapped_column(Float)
    high_50: Mapped[float | None] = mapped_column(Float)
    low_80: Mapped[float | None] = mapped_column(Float)
    high_80: Mapped[float | None] = mapped_column(Float)
    low_95: Mapped[float | None] = mapped_column(Float)
    high_95: Mapped[float | None] = mapped_column(Float)
    actual: Mapped[float | None] = mapped_column(Float)
    forecast: Mapped[LedgerForecast] = relationship(back_populates="rows")


class UploadContent(Base):
    """The bytes of an uploaded file, stored once however many links point at them."""

    __tablename__ = "upload_contents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)  # of the bytes alone
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)  # len(content), summed for the budgets
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Upload(Base):
    """An upload's permanent link: one per content, file name and options, pointing at the
    content; once its content is removed (``expired`` says why), a short row that tells the
    link's visitor so."""

    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("sha256", name="uq_uploads_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the content, its name and options
    content_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("upload_contents.sha256", name="fk_uploads_content_sha256"), index=True)
    file_name: Mapped[str | None] = mapped_column(String(80))
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    # A keyed hash of the sender's address (never the address): the per-client budget's key.
    client: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    viewed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    expired: Mapped[str | None] = mapped_column(String(5))  # "space" or "time"; None: live
    expired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Job(Base):
    """A training job: what it trains (``spec``), where it stands, and what it made.

    ``token`` is its unguessable link (and the Huey task's argument); ``client`` the sender's
    keyed hash (store.uploads.client_key), for the one-active-job-per-client bound.
    """

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("token", name="uq_jobs_token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(43))
    client: Mapped[str] = mapped_column(String(32), index=True)
    ticker: Mapped[str | None] = mapped_column(String(15))
    upload_id: Mapped[int | None] = mapped_column(Integer)
    spec: Mapped[dict] = mapped_column(JSON)
    # queued, running, succeeded, failed, cancelled
    status: Mapped[str] = mapped_column(String(10), index=True)
    reason: Mapped[str | None] = mapped_column(String(300))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    task_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    model_name: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict | None] = mapped_column(JSON)


class ModelVersion(Base):
    """A trained model's artifact: its three files and their checksums, so every web process
    (and a fresh dyno) can serve it; ``summary`` is what /models lists, read without the bytes."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", name="uq_model_versions_name"),
                      # The web processes' poll reads only these (migration 0005).
                      Index("ix_model_versions_poll", "name", "sha256_json", "is_default",
                            "ticker"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL", name="fk_model_versions_job"), index=True)
    ticker: Mapped[str | None] = mapped_column(String(15), index=True)
    scope: Mapped[str] = mapped_column(String(10))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    model_h5: Mapped[bytes] = mapped_column(LargeBinary)
    scaler_pkl: Mapped[bytes] = mapped_column(LargeBinary)
    model_json: Mapped[bytes] = mapped_column(LargeBinary)
    sha256_json: Mapped[str] = mapped_column(String(64))  # of model.json, which holds the others'
    size: Mapped[int] = mapped_column(Integer)  # the three files' bytes
    summary: Mapped[dict] = mapped_column(JSON)


class Watchlist(Base):
    """A named list of tickers reached through its unguessable ``token`` (issue 22).

    ``client`` is the creator's keyed hash, counted for the per-day bound; ``read_at`` dates the
    last visit, for the purge; the two ``*_at`` claims space out the refresh and cold jobs.
    """

    __tablename__ = "watchlists"
    __table_args__ = (UniqueConstraint("token", name="uq_watchlists_token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(43))
    client: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(80))
    tickers: Mapped[list] = mapped_column(JSON)  # uppercase, unique, in the order given
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    refresh_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cold_queued_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WatchSummary(Base):
    """What one ticker's newest forecast reads besides the point forecast (band widths, the
    track record), keyed by model, ticker and the prices it was computed from (issue 22)."""

    __tablename__ = "watch_summaries"
    __table_args__ = (UniqueConstraint("model_digest", "ticker", "prices_fingerprint",
                                       name="uq_watch_summaries_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_digest: Mapped[str] = mapped_column(String(32))
    ticker: Mapped[str] = mapped_column(String(15))
    prices_fingerprint: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
