"""Incremental builds: the per-post work of the last successful build, keyed by the file's checksum.

Parsing Markdown is most of a build's cost. For a post whose bytes (sha256), place and site are unchanged,
and with the same version of this package, the extraction (sections, predictions, references) and the
verdicts of a review are taken from ``.<db name>.cache`` beside the database instead of being parsed
again. Everything that depends on several posts (review matching, resolution files, conditions, the
database itself) is recomputed every time, so an incremental build gives exactly the rows of a full one.
The cache is a plain SQLite file of pickles written only by this program; delete it, or build with
``--full``, to start afresh. A cache that cannot be read is ignored.
"""

import hashlib
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


def cache_path(db_path):
    db_path = Path(db_path)
    return db_path.with_name(f".{db_path.name}.cache")


class Cache:
    def __init__(self, path, enabled=True):
        self.path, self.version = Path(path), code_version()
        self.hits = self.misses = 0
        self.used, self.fresh = set(), {}
        self.conn = None
        if enabled and self.path.exists():
            try:
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
                self.conn.execute("SELECT count(*) FROM work").fetchone()
            except sqlite3.Error:
                self.conn = None

    @staticmethod
    def key(entry, mode):
        post = entry.post
        return f"{entry.site.id}\0{entry.site.base_url}\0{post.rel_path}\0{post.checksum}\0{mode}"

    def get(self, entry, mode):
        """The cached work for this post and mode, or None."""
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

    def put(self, entry, mode, value):
        self.fresh[self.key(entry, mode)] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def save(self):
        """Store this build's new work and forget entries no post of this build used (after a good build)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        try:
            self.write()
        except sqlite3.DatabaseError:  # not a cache we can open: start a new one
            self.path.unlink(missing_ok=True)
            self.write()

    def write(self):
        with sqlite3.connect(self.path) as conn:
            conn.execute(SCHEMA)
            conn.execute("DELETE FROM work WHERE version != ?", [self.version])
            conn.executemany("INSERT OR REPLACE INTO work VALUES (?, ?, ?)",
                             [(k, self.version, b) for k, b in self.fresh.items()])
            stale = [k for (k,) in conn.execute("SELECT key FROM work") if k not in self.used]
            conn.executemany("DELETE FROM work WHERE key = ?", [(k,) for k in stale])
        conn.close()
