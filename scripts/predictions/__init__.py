"""Published forecasts, their resolutions and their scores, as a Datasette-ready SQLite database."""

__version__ = "0.1.0"
