"""Forecasts as slices of work done once: the forecast tables, bands, metrics, baselines, the
forecast itself, the track record, backtests, and the report that holds the whole answer."""
