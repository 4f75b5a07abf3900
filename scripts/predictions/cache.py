"""Incremental builds: the per-post work of the last successful build, keyed by the file's checksum.

Parsing Markdown is most of a build's cost. For a post whose bytes (sha256), place and site are unchanged,
and with the same version of this package, the extraction (sections, predictions, references) and the
verdicts of a review are taken from ``.<db name>.cache`` beside the database instead of being parsed
again. Everything that depends on several posts (review matching, resolution files, conditions, the
database itself) is recomputed every time, so an incremental build gives exactly the rows of a full one.
The cache is a plain SQLite file of pickles written only by this program; delete it to start afresh. A
``--full`` build neither reads nor writes it (staging every post's work would cost it time for nothing it
uses). A cache that cannot be read is ignored.
"""

import contextlib
import hashlib
import os
import pickle
import sqlite3
from pathlib import Path

SCHEMA = "CREATE TABLE IF NOT EXISTS work (key TEXT PRIMARY KEY, version TEXT NOT NULL, blob BLOB NOT NULL)"


def code_version():
    """A hash of this package's source: a change in the code invalidates every entry."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def work_key(site, post, mode):
    """The key of a post's work: its site, place and bytes, and what was read (forecast or review)."""
    return f"{site.id}\0{site.base_url}\0{post.rel_path}\0{post.checksum}\0{mode}"


def cache_path(db_path):
    db_path = Path(db_path)
    return db_path.with_name(f".{db_path.name}.cache")


class Cache:
    """Reads the last build's cache; new work goes to a staging file that replaces it after a good build.
    Disabled (enabled=False, a --full build): nothing is read or written, the file is left as it was."""

    def __init__(self, path, enabled=True):
        self.path, self.version, self.enabled = Path(path), code_version(), enabled
        self.hits = self.misses = 0
        self.used = set()
        self.conn = self.staging = None
        self.broken = False
        self.staging_path = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        if enabled and self.path.exists():
            try:
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
                self.conn.execute("SELECT count(*) FROM work").fetchone()
            except sqlite3.Error:
                self.conn = None

    @staticmethod
    def key(entry, mode):
        return work_key(entry.site, entry.post, mode)

    def keys(self):
        """The keys of every entry this version of the code can use (none when the cache is not read)."""
        if self.conn is None:
            return frozenset()
        try:
            return frozenset(k for (k,) in self.conn.execute("SELECT key FROM work WHERE version = ?", [self.version]))
        except sqlite3.Error:
            return frozenset()

    def get(self, entry, mode):
        """The cached work for this post and mode, or None."""
        if self.conn is None:  # nothing to read, nothing to carry over (a --full build, or no cache yet)
            self.misses += 1
            return None
        key = self.key(entry, mode)
        self.used.add(key)
        row = None
        if self.conn is not None:
            try:
                row = self.conn.execute("SELECT blob FROM work WHERE key = ? AND version = ?",
                                        [key, self.version]).fetchone()
            except sqlite3.Error:
                row = None
        if row is not None:
            try:
                value = pickle.loads(row[0])
                self.hits += 1
                return value
            except Exception:  # a damaged entry is a miss, never a failed build
                pass
        self.misses += 1
        return None

    def put(self, entry, mode, value, blob=None):
        """Stage new work on disk (not in memory); it becomes the cache only if the build succeeds. The cache only
        saves time: when it cannot be written (a full disk), the build goes on without it. blob: the value
        already pickled (as a worker returns it)."""
        try:
            self._put(entry, mode, value, blob)
        except (OSError, sqlite3.Error):
            self.close()
            self.broken = True

    def _put(self, entry, mode, value, blob):
        if self.broken or not self.enabled:
            return
        if self.staging is None:
            self.staging_path.unlink(missing_ok=True)
            self.staging = sqlite3.connect(self.staging_path)
            self.staging.execute("PRAGMA journal_mode = OFF")
            self.staging.execute(SCHEMA)
        blob = blob or pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        self.staging.execute("INSERT OR REPLACE INTO work VALUES (?, ?, ?)", [self.key(entry, mode), self.version, blob])

    def save(self):
        """After a good build: this build's work, new and reused, becomes the cache; unused entries are dropped.
        A cache that cannot be written is left as it was (its entries are keyed by content, so never wrong)."""
        if self.broken or not self.enabled:
            return
        try:
            self._save()
        except (OSError, sqlite3.Error):
            self.close()

    def _save(self):
        if self.staging is None and self.conn is not None and not self.misses:
            return  # nothing new, nothing to drop beyond what the next save will
        if self.staging is None:
            self.staging = sqlite3.connect(self.staging_path)
            self.staging.execute(SCHEMA)
        if self.conn is not None:
            self.conn.close()
            self.conn = None
            try:
                self.staging.execute("ATTACH DATABASE ? AS old", [f"file:{self.path}?mode=ro"])
                self.staging.execute("CREATE TEMP TABLE used (key TEXT PRIMARY KEY)")
                self.staging.executemany("INSERT OR IGNORE INTO temp.used VALUES (?)", [(k,) for k in self.used])
                self.staging.execute("INSERT OR IGNORE INTO main.work SELECT key, version, blob FROM old.work "
                                     "WHERE version = ? AND key IN (SELECT key FROM temp.used)", [self.version])
                self.staging.commit()
                self.staging.execute("DETACH DATABASE old")
            except sqlite3.Error:
                pass  # an unreadable old cache is simply not carried over
        self.staging.commit()
        self.staging.close()
        self.staging = None
        os.replace(self.staging_path, self.path)

    def add(self):
        """After a good update (update.py), which reads only the posts that changed: this build's new work is added to
        the cache and every other entry kept (they still describe unchanged posts). Never fails the build."""
        if self.broken or self.staging is None:
            return self.close()
        try:
            self.staging.commit()
            self.staging.close()
            self.staging = None
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            conn = sqlite3.connect(self.path)
            try:
                conn.execute(SCHEMA)
                conn.execute("ATTACH DATABASE ? AS new", [str(self.staging_path)])
                conn.execute("INSERT OR REPLACE INTO main.work SELECT key, version, blob FROM new.work")
                conn.commit()
            finally:
                conn.close()
        except (OSError, sqlite3.Error):
            pass  # the cache only saves time
        self.close()

    def close(self):
        """Drop the staging file of a build that did not finish."""
        for conn in (self.conn, self.staging):
            if conn is not None:
                conn.close()
        self.conn = self.staging = None
        with contextlib.suppress(OSError):
            self.staging_path.unlink(missing_ok=True)
