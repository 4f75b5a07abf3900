"""SQL math functions for SQLite builds compiled without them (no SQLITE_ENABLE_MATH_FUNCTIONS).

The canned queries in metadata.yml use sqrt (Wilson bounds, Spiegelhalter Z) and log2 (log score).
SQLite 3.35+ usually has them built in; for each one missing this plugin registers a Python version with
SQLite's behaviour: NULL in gives NULL out, and outside the domain the result is NULL (never an error,
-inf or NaN).
"""

import math
import sqlite3

from datasette import hookimpl


def _unary(fn, positive=False, non_negative=False):
    def call(x):
        if x is None:
            return None
        x = float(x)
        if (positive and x <= 0) or (non_negative and x < 0):
            return None
        try:
            return fn(x)
        except OverflowError:
            return None
    return call


def _power(x, y):
    if x is None or y is None:
        return None
    try:
        result = float(x) ** float(y)
    except (OverflowError, ZeroDivisionError):
        return None
    return None if isinstance(result, complex) else result


# name -> (number of arguments, implementation)
FUNCTIONS = {
    "sqrt": (1, _unary(math.sqrt, non_negative=True)),
    "ln": (1, _unary(math.log, positive=True)),
    "log2": (1, _unary(math.log2, positive=True)),
    "log10": (1, _unary(math.log10, positive=True)),
    "exp": (1, _unary(math.exp)),
    "power": (2, _power),
}


def missing(conn):
    """The names in FUNCTIONS that this connection's SQLite lacks."""
    absent = []
    for name, (nargs, _) in FUNCTIONS.items():
        try:
            conn.execute(f"SELECT {name}({', '.join(['2'] * nargs)})").fetchone()
        except sqlite3.OperationalError:
            absent.append(name)
    return absent


def register(conn, names=None):
    """Register the Python versions of `names` (default: the missing ones) on a sqlite3 connection.

    A function registered under a built-in's name replaces it on that connection, which is how the tests
    run every query both ways."""
    for name in missing(conn) if names is None else names:
        nargs, fn = FUNCTIONS[name]
        conn.create_function(name, nargs, fn, deterministic=True)



@hookimpl
def prepare_connection(conn):
    register(conn)
