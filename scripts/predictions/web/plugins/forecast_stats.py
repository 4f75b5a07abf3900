"""The SQL aggregate forecast_stats(probability, value, n): the figures SQL cannot compute (scoring.ForecastStats).

The canned queries calibration_fit and reliability feed it one row per distinct (probability, value) of the
resolved predictions the filters keep, with its count, and unpack its JSON with json_extract / json_each."""

from datasette import hookimpl

from predictions.scoring import ForecastStats


def register(conn):
    conn.create_aggregate("forecast_stats", 3, ForecastStats)


@hookimpl
def prepare_connection(conn):
    register(conn)
