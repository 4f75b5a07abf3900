"""Forecast history: when each forecast of a git source was first published, and every change since.

For a git source the build reads the source's history once (gitlog.py): each post's versions, the commits
that touched its file, following renames. Each version of a forecast post is read as the build reads the
file today (posts.parse_post, extract.extract_post), its forecasts followed to the current ones (lineage.py),
and three tables written: ``post_versions`` (every version of every post), ``forecast_history`` (per current
forecast: its first published version and probability, the flags) and ``forecast_changes`` (each change).
A draft version (``draft: true``) was not published: it is listed, never compared. A post whose front matter
has no date takes its first commit's. A path source has no history: its posts get none of these rows.

What was read is cached in ``.predictions/history.sqlite``: each source's log as of its last HEAD (a new
build reads only the commits since) and each version's reading by blob, so a rebuild with no new commits
reads nothing from git. The cache is keyed by this package's code version and written only after a good build.
"""

import datetime as dt
import hashlib
import pickle
import sqlite3
import subprocess
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from . import gitlog, gitsources, posts, statements
from .cache import code_version
from .errors import InputError, Problem, Report
from .extract import extract_post
from .lineage import Forecast, follow, match

CHANGES = {"A": "added", "M": "modified", "T": "modified", "R": "renamed", "C": "added"}


class Reading(NamedTuple):
    """What one version of a post says: its checksum, whether it is a draft, its forecasts (None when they were
    not asked for or the version cannot be read) and its problems as (line, message)."""

    checksum: str
    draft: bool
    forecasts: tuple | None
    problems: tuple = ()
    unreadable: bool = False


READERS = {  # how the build read the post's forecasts (build.Entry.reader): each version is read the same way
    "markers": extract_post,
    "statements": lambda post_id, post, report: statements.extract_forecasts(post_id, post.shown, post.body,
                                                                             post.body_line, report),
}


def read_version(data, path, rel_path, post_id, reader):
    """The Reading of a version's bytes: front matter through posts.parse_post, forecasts (unless reader is None)
    as the build reads them today (READERS)."""
    report = Report()
    checksum = hashlib.sha256(data).hexdigest()
    post = posts.parse_post(data, PurePosixPath(path), rel_path, path, report)
    if post is None:
        return Reading(checksum, False, None, tuple((p.line, p.message) for p in report.errors), unreadable=True)
    found = None
    if reader:
        extraction = READERS[reader](post_id, post, report)
        found = tuple(Forecast(p.id, p.text, p.passage_markdown, p.probability_text, float(p.stated_percent), p.kind)
                      for p in extraction.predictions)
    return Reading(checksum, post.meta.get("draft") is True, found, tuple((p.line, p.message) for p in report.errors))


class HistoryCache:
    """Each source's log as of its last HEAD, and each version's reading by (blob, mode, post id), in a SQLite
    file of pickles written only by this program. New entries stay in memory until ``save`` (after a good build)."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS logs (source TEXT, pathspec TEXT, head TEXT, version TEXT, blob BLOB,
                                     PRIMARY KEY (source, pathspec));
    CREATE TABLE IF NOT EXISTS readings (key TEXT PRIMARY KEY, version TEXT, blob BLOB);
    """

    def __init__(self, path, enabled=True):
        self.path, self.version = Path(path), code_version()
        self.conn, self.logs, self.readings = None, {}, {}
        if enabled and self.path.exists():
            try:
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
                self.conn.execute("SELECT count(*) FROM logs").fetchone()
            except sqlite3.Error:
                self.conn = None

    def _rows(self, sql, params):
        """(key, unpickled value) rows; an unreadable cache or entry is a miss, never a failed build."""
        if self.conn is None:
            return []
        try:
            rows = self.conn.execute(sql, params).fetchall()
        except sqlite3.Error:
            return []
        found = []
        for key, blob in rows:
            try:
                found.append((key, pickle.loads(blob)))
            except Exception:
                continue
        return found

    def log(self, source, pathspec):
        """(head, commits) of the source's last log read, or None."""
        rows = self._rows("SELECT head, blob FROM logs WHERE source = ? AND pathspec = ? AND version = ?",
                          [source, pathspec, self.version])
        return rows[0] if rows else None

    def put_log(self, source, pathspec, head, commits):
        self.logs[(source, pathspec)] = (head, commits)

    def readings_of(self, keys):
        """{key: Reading} of those of the keys that are cached (one query for a post's versions)."""
        found = {k: self.readings[k] for k in keys if k in self.readings}
        missing = [k for k in keys if k not in found]
        if missing:
            marks = ", ".join("?" * len(missing))
            found |= dict(self._rows(f"SELECT key, blob FROM readings WHERE version = ? AND key IN ({marks})",
                                     [self.version, *missing]))
        return found

    def put_reading(self, key, reading):
        self.readings[key] = reading

    def save(self):
        if not self.logs and not self.readings:
            return
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        try:
            conn.executescript(self.SCHEMA)
            conn.executemany("INSERT OR REPLACE INTO logs VALUES (?, ?, ?, ?, ?)",
                             [(s, p, head, self.version, pickle.dumps(commits, protocol=pickle.HIGHEST_PROTOCOL))
                              for (s, p), (head, commits) in self.logs.items()])
            conn.executemany("INSERT OR REPLACE INTO readings VALUES (?, ?, ?)",
                             [(k, self.version, pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL))
                              for k, r in self.readings.items()])
            conn.execute("DELETE FROM readings WHERE version != ?", [self.version])
            conn.commit()
        finally:
            conn.close()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class SourceHistory:
    """One git source's log and the versions of each of its current posts."""

    def __init__(self, name, checkout, content_root, cache, stats):
        self.name, self.checkout = name, Path(checkout)
        prefix = content_root.resolve().relative_to(self.checkout.resolve()).as_posix()
        self.prefix = "" if prefix == "." else prefix + "/"
        self.cache, self.stats = cache, stats
        self.blobs = gitlog.Blobs(self.checkout)
        commits = self.read_log(self.prefix or ".")
        paths = [self.prefix + rel for _, rel in posts.discover(content_root)]
        self.versions = {path[len(self.prefix):]: vs for path, vs in gitlog.file_versions(commits, paths).items()}

    def read_log(self, pathspec):
        """The log of the content folder: the cached one when HEAD has not moved, else extended or read anew."""
        head = gitlog.head(self.checkout)
        cached = self.cache.log(self.name, pathspec)
        if cached and cached[0] == head:
            return cached[1]
        new = gitlog.read_log(self.checkout, pathspec, since=cached[0]) if cached else None
        commits = new + cached[1] if new is not None else gitlog.read_log(self.checkout, pathspec)
        self.stats["commits_read"] += len(new if new is not None else commits)
        self.cache.put_log(self.name, pathspec, head, commits)
        return commits

    def readings(self, versions, post_id, reader):
        """The Reading of each version (its forecasts read by reader, or none): from the cache, else read from its
        blob (and cached)."""
        mode = reader or "meta"
        keys = [f"{v.blob}\0{mode}\0{post_id}" for v in versions]
        cached = self.cache.readings_of(keys)
        found = []
        for key, v in zip(keys, versions, strict=True):
            reading = cached.get(key)
            if reading is None:
                data = self.blobs.read(v.blob)
                self.stats["blobs_read"] += 1
                reading = cached[key] = read_version(data, v.path, v.path[len(self.prefix):], post_id, reader)
                self.cache.put_reading(key, reading)
            found.append(reading)
        return found

    def close(self):
        self.blobs.close()


class History:
    """The history of a build's git sources: prepared once the sites are known, asked for each post's rows."""

    def __init__(self, dataset, enabled=True):
        self.cache = HistoryCache(dataset.cache_dir / "history.sqlite", enabled)
        self.sources = {}  # site id -> SourceHistory
        self.warnings = []  # (kind, path, line, message), added to the build's report
        self.stats = {"commits_read": 0, "blobs_read": 0, "posts": 0, "versions": 0}

    def prepare(self, dataset, sites):
        """Read the log of every git source (cached by HEAD) before its posts are read."""
        by_id = {s.id: s for s in sites}
        for source in dataset.sources:
            site = by_id.get(source.name)
            if source.git and site is not None:
                checkout = source.checkout(dataset)
                try:
                    self.sources[site.id] = SourceHistory(source.name, checkout, site.content_root, self.cache,
                                                          self.stats)
                except (subprocess.CalledProcessError, gitsources.GitError) as e:
                    raise unreadable(source.name, checkout, e) from None

    def tables(self, entry):
        """{table: rows} of the post's history; none for a post of a path source."""
        try:
            return self._tables(entry)
        except (subprocess.CalledProcessError, gitsources.GitError, gitlog.BlobError) as e:
            source = self.sources[entry.site.id]
            raise unreadable(source.name, source.checkout, e) from None

    def versions(self, entry):
        source = self.sources.get(entry.site.id)
        return source.versions.get(entry.post.rel_path) if source else None

    def date_post(self, site, post):
        """A post without a date in its front matter takes its first commit's."""
        source = self.sources.get(site.id)
        versions = source and source.versions.get(post.rel_path)
        if post.date is None and versions:
            post.date = dt.date.fromisoformat(versions[0].commit.date)

    def _tables(self, entry):
        versions = self.versions(entry)
        if not versions:
            return {}
        source = self.sources[entry.site.id]
        readings = source.readings(versions, entry.id, entry.reader if entry.kind == "forecast" else None)
        self.stats["posts"] += 1
        self.stats["versions"] += len(versions)
        for v, r in zip(versions, readings, strict=True):
            shown = f"{v.path} at {v.commit.sha[:10]} ({v.commit.date})"
            then = "this version is not compared" if r.unreadable else "read without it"
            self.warnings += [("history", shown, line, f"{message} ({then})") for line, message in r.problems]
        return post_rows(entry, versions, readings, source.prefix)

    def save(self):
        self.cache.save()

    def close(self):
        for source in self.sources.values():
            source.close()
        self.cache.close()


def unreadable(name, checkout, error):
    """The InputError for a clone whose history git cannot read."""
    detail = getattr(error, "stderr", None) or (error.args[0] if error.args else error)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    detail = str(detail).strip().splitlines()[-1] if str(detail).strip() else "git failed"
    return InputError([Problem(name, None, f"cannot read the history of the clone in {checkout} ({detail}): "
                               f"delete that folder and run `predictions fetch` to clone it again")])


def post_rows(entry, versions, readings, prefix=""):
    """The post_versions, forecast_history and forecast_changes rows of one post (prefix: the content folder's
    path in the repository, dropped from the versions' paths as posts.path drops it)."""
    t = {"post_versions": [], "forecast_history": [], "forecast_changes": []}
    for n, (v, r) in enumerate(zip(versions, readings, strict=True), 1):
        c = v.commit
        t["post_versions"].append(dict(
            post_id=entry.id, position=n, commit=c.sha, date=c.date, time=c.time, author=c.author,
            authored=c.authored, message=c.message, path=v.path[len(prefix):], change=CHANGES.get(v.status, "modified"),
            blob=v.blob, checksum=r.checksum, draft=int(r.draft),
            forecasts=len(r.forecasts) if r.forecasts is not None else None))
    if entry.kind != "forecast":
        return t
    published = [(i, r.forecasts) for i, r in enumerate(readings) if not r.draft and r.forecasts is not None]
    lines, removed = follow(published)
    current = [Forecast(p.id, p.text, p.passage_markdown, p.probability_text, float(p.stated_percent), p.kind)
               for p in entry.extraction.predictions]
    last = [line.last for line in lines]
    now = {j: lines[i] for i, j in match(last, current)}  # the last version is the current file: ids agree
    start = entry.period_start()
    for j, p in enumerate(current):
        line = now.get(j)
        t["forecast_history"].append(history_row(entry.id, p.id, line, versions, start))
        for change in line.changes if line else ():
            t["forecast_changes"].append(change_row(entry.id, p.id, change, versions))
    for line in removed:
        for change in line.changes:
            t["forecast_changes"].append(change_row(entry.id, None, change, versions))
    return t


def history_row(post_id, prediction_id, line, versions, start):
    row = dict(prediction_id=prediction_id, post_id=post_id, first_version=None, first_commit=None,
               first_published=None, first_probability_text=None, first_stated_percent=None, first_probability=None,
               first_text=None, added_later=0, period_start=start.isoformat() if start else None,
               days_after_period_start=None, published_after_period_start=None, probability_changes=0,
               probability_changed=0, statement_changes=0, formatting_changes=0)
    if line is None:  # not in any published version (the post is a draft now, built with --drafts)
        return row
    commit, f = versions[line.first].commit, line.published
    kinds = [c.kind for c in line.changes]
    days = (dt.date.fromisoformat(commit.date) - start).days if start else None
    statements = [c for c in line.changes if c.kind == "statement"]
    return row | dict(
        first_version=line.first + 1, first_commit=commit.sha, first_published=commit.date,
        first_probability_text=f.probability_text, first_stated_percent=f.percent, first_probability=f.percent / 100,
        first_text=f.text, added_later=int("added" in kinds), days_after_period_start=days,
        published_after_period_start=None if days is None else int(days > 0),
        probability_changes=kinds.count("probability"), probability_changed=int("probability" in kinds),
        statement_changes=sum(not c.formatting_only for c in statements),
        formatting_changes=sum(bool(c.formatting_only) for c in statements))


def change_row(post_id, prediction_id, change, versions):
    commit = versions[change.version].commit
    old, new = change.old, change.new
    values = {"probability": lambda f: f.probability_text, "statement": lambda f: f.markdown, "id": lambda f: f.id}
    value = values.get(change.kind)
    return dict(
        post_id=post_id, prediction_id=prediction_id, version=change.version + 1, commit=commit.sha, date=commit.date,
        kind=change.kind, version_prediction_id=(new or old).id,
        old_value=value(old) if value and old else None, new_value=value(new) if value and new else None,
        old_percent=old.percent if old and change.kind == "probability" else None,
        new_percent=new.percent if new and change.kind == "probability" else None,
        formatting_only=None if change.formatting_only is None else int(change.formatting_only))
