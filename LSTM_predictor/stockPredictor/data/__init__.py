"""Prices from every source as one daily frame: Yahoo, the bundled sample, CSV files, synthetic
series; the trading calendar; and what a person sees first about a ticker."""
