"""The Flask web app of the stock predictor; see app.py."""
