"""Bound the size of one value a query can build (SQLITE_LIMIT_LENGTH): the row cap does not.

`select zeroblob(20000000)` would otherwise build a 120 MB JSON answer. 8 MB is above the largest stored
value (a post is at most 5 MB, posts.MAX_BYTES)."""

import sqlite3

from datasette import hookimpl

MAX_VALUE_BYTES = 8 * 1024 * 1024


@hookimpl
def prepare_connection(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
