"""Write the database atomically: build into a temporary file beside it, then rename over it.

A build that fails or is killed leaves the previous database as it was; its temporary file is named
with the builder's process id, and the next build removes such files whose process is gone.
"""

import contextlib
import itertools
import os
import re
import shutil
import sqlite3
from itertools import islice
from operator import itemgetter
from pathlib import Path

import sqlite_utils

from .errors import OutputError
from .schema import INDEXES, TABLES, VIEWS

BATCH = 5_000  # rows queued (over every table) before they are inserted
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


@contextlib.contextmanager
def writing(db_path, tmp):
    """A full disk or a read-only folder is a message (OutputError), never a traceback; data.db is untouched."""
    try:
        yield
    except (OSError, sqlite3.Error) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise OutputError(f"cannot write the database ({reason}, writing {getattr(e, 'filename', None) or tmp});"
                          f" {db_path} was left as it was") from e


def swap(tmp, db_path):
    """Make the finished temporary file the database, durably."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, db_path)


def create(db):
    db.conn.executescript(TABLES)
    for name, sql in VIEWS.items():
        db.create_view(name, sql)


class Batch:
    """Rows of one table waiting to be inserted, as tuples in its columns' order (from the first dict row's keys)."""

    def __init__(self, table, columns):
        self.table, self.columns, self.rows = table, columns, []
        self.values = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        self.sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(
            table, ", ".join(f'"{c}"' for c in columns), ", ".join("?" * len(columns)))


def insert(conn, table, rows):
    """Insert dict rows (a table's rows share their keys) with one executemany: a Patch's few rows."""
    rows = iter(rows)
    first = next(rows, None)
    if first is not None:
        batch = Batch(table, tuple(first))
        conn.executemany(batch.sql, map(batch.values, itertools.chain([first], rows)))


class Staged:
    """A temporary file beside db_path that replaces it only when finished: leaving the ``with`` block without
    finishing closes it (``close``) and removes it, leaving db_path as it was."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)

    def writing(self):
        return writing(self.db_path, self.tmp)


class Writer(Staged):
    """A new database in a temporary file beside db_path, filled table by table in one transaction.

    ``finish()`` indexes it, checks its foreign keys and renames it over db_path; leaving the ``with`` block
    without finishing (an error, a failed check) removes the temporary file and leaves db_path as it was."""

    def __init__(self, db_path, fts=True):
        self.db_path, self.fts = Path(db_path), fts
        self.tmp, self.db = temp_path(self.db_path), None
        self.batches, self.queued = {}, 0  # table -> Batch: rows not yet inserted
        try:
            with self.writing():
                self.db_path.parent.mkdir(parents=True, exist_ok=True)
                remove_stale(self.db_path)
                self.tmp.unlink(missing_ok=True)
                self.db = sqlite_utils.Database(self.tmp)
                self.db.conn.execute("PRAGMA journal_mode = OFF")
                self.db.conn.execute("PRAGMA synchronous = OFF")
                create(self.db)
                self.db.conn.commit()
        except OutputError:
            self.__exit__()
            raise

    def close(self):
        if self.db is not None:
            self.db.close()

    def insert(self, table, rows):
        """Queue dict rows (a table's rows share their keys) to be inserted with one executemany per table and
        batch: a build inserts each post's few rows of a dozen tables as it reads the post."""
        rows = iter(rows)
        first = next(rows, None)
        if first is None:
            return
        batch = self.batches.get(table)
        if batch is None or batch.columns != tuple(first):
            if batch is not None:
                self.flush()  # the table's rows so far, in order, before rows with other columns
            batch = self.batches[table] = Batch(table, tuple(first))
        batch.rows.append(batch.values(first))
        self.queued += 1
        rows = map(batch.values, rows)
        while True:  # a long generator of rows (the score tables) is inserted as it goes, never held whole
            if self.queued >= BATCH:
                self.flush()
            more = list(islice(rows, BATCH - self.queued))
            if not more:
                return
            batch.rows += more
            self.queued += len(more)

    def flush(self):
        """Insert every queued row."""
        with self.writing():
            for batch in self.batches.values():
                if batch.rows:
                    self.db.conn.executemany(batch.sql, batch.rows)
                    batch.rows = []
        self.queued = 0

    def execute(self, sql, params=()):
        self.flush()
        with self.writing():
            return self.db.conn.execute(sql, params)

    def finish(self):
        self.flush()
        with self.writing():
            self._finish()

    def _finish(self):
        db = self.db
        db.conn.commit()
        for table, columns in INDEXES:
            db[table].create_index(columns, if_not_exists=True)
        if self.fts:
            db["predictions"].enable_fts(["text", "passage_markdown"], create_triggers=False, tokenize="porter")
        db.conn.execute("PRAGMA foreign_keys = ON")
        problems = db.conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign key check failed: {problems[:5]}")
        db.conn.execute("ANALYZE")
        db.conn.commit()
        db.close()
        swap(self.tmp, self.db_path)


class Patch(Staged):
    """A copy of the database in a temporary file beside it, changed through ``conn`` in one transaction (update.py).

    ``finish()`` renames it over db_path; leaving the ``with`` block without finishing removes the copy and leaves
    db_path as it was."""

    def __init__(self, db_path):
        self.db_path = Path(db_path)
        self.tmp, self.conn = temp_path(self.db_path), None
        try:
            with self.writing():
                remove_stale(self.db_path)
                shutil.copyfile(self.db_path, self.tmp)
                self.conn = sqlite3.connect(self.tmp, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode = OFF")  # a failed update drops the whole copy
                self.conn.execute("PRAGMA synchronous = OFF")
                self.conn.execute("BEGIN")
        except OutputError:
            self.__exit__()  # a partial copy on a full disk
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def finish(self):
        with self.writing():
            self.conn.execute("COMMIT")
            self.conn.close()
            self.conn = None
            swap(self.tmp, self.db_path)

