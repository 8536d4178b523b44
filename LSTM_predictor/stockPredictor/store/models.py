"""The tables: prices per ticker and source, each ticker's fetch state, the forecast ledger."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String,
                        UniqueConstraint)
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


class LedgerForecast(Base):
    """One distinct forecast the app served: live (made on the latest data) or a replay."""

    __tablename__ = "forecasts"
    __table_args__ = (UniqueConstraint("fingerprint", name="uq_forecasts_fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 over ticker, model hash, as_of, horizon, level and the price fingerprint.
    fingerprint: Mapped[str] = mapped_column(String(64))
    ticker: Mapped[str] = mapped_column(String(15), index=True)
    model: Mapped[str] = mapped_column(String(64), index=True)
    model_sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(6), index=True)  # "live" or "replay"
    # Where the prices came from ("yahoo", "sample", "csv"): only the store's own source's
    # closes score a forecast, so an upload titled IBM is never scored by Yahoo's IBM.
    source: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[dt.date] = mapped_column(Date, index=True)
    horizon: Mapped[int] = mapped_column(Integer)
    level: Mapped[float | None] = mapped_column(Float)
    prices_fingerprint: Mapped[str] = mapped_column(String(64))
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    served: Mapped[int] = mapped_column(Integer, default=1)
    rows: Mapped[list[ForecastRow]] = relationship(back_populates="forecast",
                                                   cascade="all, delete-orphan",
                                                   order_by="ForecastRow.step")


class ForecastRow(Base):
    """One day of a ledger forecast, scored once its close is known."""

    __tablename__ = "forecast_rows"

    forecast_id: Mapped[int] = mapped_column(ForeignKey("forecasts.id", ondelete="CASCADE"),
                                             primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    close: Mapped[float] = mapped_column(Float)
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    last_close: Mapped[float] = mapped_column(Float)  # the naive forecast of this row
    actual: Mapped[float | None] = mapped_column(Float)
    forecast: Mapped[LedgerForecast] = relationship(back_populates="rows")


class Upload(Base):
    """An uploaded price file, kept once per content, name and options for its permanent link."""

    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("sha256", name="uq_uploads_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the content, its name and options
    file_name: Mapped[str | None] = mapped_column(String(80))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    viewed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
