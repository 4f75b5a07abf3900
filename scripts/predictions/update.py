"""Update the previous database instead of rewriting it, when only a few post files changed.

After every good build a manifest beside the database (``.<db name>.manifest``, SQLite) records what that build
read: each post file's checksum, post id and whether it is review-like, the post paths each review-like post
links, and a fingerprint of everything else the rows depend on (this package's code, predictions.toml, the
sources, the options, the resolution and claims files, the working directory, since messages show paths
relative to it). ``build`` hashes the content folders and compares. When a few post files changed and nothing
else did, it copies the old database (database.Patch), replaces the rows of the posts that changed and of the
reviews they concern (reviews grading them, linking them, or grading the same posts), recomputes what derives
from those (resolutions, evidence, scores, authors and tags, warnings) and renames the copy over the old file.

The rows are exactly those of a full build, ids included (evidence, score_sums and build_warnings are numbered in
build order as a full build numbers them). The order rows are stored in (rowid) is not: a full build cannot give
a row of a post in the middle a rowid between its neighbours' without renumbering whole tables, nothing reads
rowids but full-text search (kept in step with predictions), and every reader orders by primary key
(Datasette's table pages, export.read). SQLite's statistics (sqlite_stat1) are the previous build's.

Whatever the update cannot do exactly falls back to the rewrite (build.write), and the build says which path it
took and why: sources with styles, trackers or git history, resolution or claims files that changed or concern a
changed post, a review-like post read as a forecast post, errors in the changed files (the rewrite reports them).
"""

import dataclasses
import datetime as dt
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from types import SimpleNamespace

from . import build as pipeline
from . import database, reviews
from .cache import Cache, cache_path, code_version
from .errors import InputError, OutputError, Report, display
from .posts import pages, read_post
from .site import source_site

LIMIT = 200  # changed files beyond which the update gives way to the rewrite (which reuses the parsed work anyway)
UNGRADED = " is graded by no verdict in "
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE files (site TEXT, path TEXT, checksum TEXT, status TEXT NOT NULL, post_id TEXT, PRIMARY KEY (site, path));
CREATE TABLE links (site TEXT, path TEXT, target TEXT);
CREATE INDEX links_target ON links (site, target);
"""


class Fallback(Exception):  # noqa: N818 (not an error: the reason the build rewrites the database)
    """Why the previous database cannot be updated: the build rewrites it instead."""


@dataclasses.dataclass
class Built:
    """What `build` did: its path (update, rewrite or full) and why, its warnings and its summary counts."""

    path: str
    reason: str
    warnings: object  # a Report, or a function that reads one (the warnings are printed only without --quiet)
    counts: dict
    reused: int
    parsed: int

    @property
    def report(self):
        if callable(self.warnings):
            self.warnings = self.warnings()
        return self.warnings

    def line(self):
        how = {"update": "updated the previous database", "rewrite": "rewrote the database", "full": "full rebuild"}
        return f"build path: {how[self.path]} ({self.reason})"


def manifest_path(db_path):
    db_path = Path(db_path)
    return db_path.with_name(f".{db_path.name}.manifest")


def build(dataset, full=False, **options):
    """Update the previous database when that is exact, else rewrite it (build.write); returns a Built.
    Raises InputError on bad input, leaving every file as it was."""
    reason = "--full"
    if not full:
        try:
            return update(dataset, options)
        except Fallback as e:
            reason = str(e)
        except (InputError, OutputError):
            raise
        except Exception as e:  # noqa: BLE001 (a fault of the update must never cost a correct database)
            reason = f"the update stopped on {type(e).__name__}: {e}"
    try:  # taken before the build reads anything: a file changed meanwhile is seen as changed by the next build
        before = None if unsupported(dataset) else fingerprint(dataset, sites_of(dataset, options), options)
    except InputError:
        before = None  # the build reports it
    corpus, cache = pipeline.write(dataset, full=full, **options)
    if before is not None:
        save(dataset, corpus, before)
    return Built("full" if full else "rewrite", reason, corpus.report, corpus_counts(corpus), cache.hits, cache.misses)


def corpus_counts(corpus):
    """The summary's counts (cli.summary) of a corpus."""
    kinds = {}
    for kind, _ in corpus.report.warnings:
        kinds[kind] = kinds.get(kind, 0) + 1
    sources = [r.source for r in corpus.resolutions.values()]
    return dict(posts=len(corpus.entries), drafts=corpus.skipped_drafts,
                forecasts=sum(e.kind == "forecast" for e in corpus.entries),
                reviews=sum(e.kind == "review" for e in corpus.entries), predictions=len(corpus.predictions),
                references=sum(e.references for e in corpus.entries), resolutions=len(sources),
                **{f"from_{s}": sources.count(s) for s in ("review", "file", "condition")}, warnings=kinds)


def db_counts(conn):
    """The same counts, read from a database."""
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    kinds = dict(conn.execute("SELECT kind, count(*) FROM build_warnings GROUP BY kind"))
    by_source = dict(conn.execute("SELECT source, count(*) FROM resolutions GROUP BY source"))
    return dict(posts=one("SELECT count(*) FROM posts"), drafts=kinds.get("draft", 0),
                forecasts=one("SELECT count(*) FROM posts WHERE kind = 'forecast'"),
                reviews=one("SELECT count(*) FROM posts WHERE kind = 'review'"),
                predictions=one("SELECT count(*) FROM predictions"), references=one('SELECT count(*) FROM "references"'),
                resolutions=sum(by_source.values()),
                **{f"from_{s}": by_source.get(s, 0) for s in ("review", "file", "condition")}, warnings=kinds)


def db_warnings(db_path):
    """The database's build_warnings as a Report (in build order)."""
    report = Report()
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        for kind, path, line, message in conn.execute("SELECT kind, path, line, message FROM build_warnings ORDER BY id"):
            report.warn(kind, path, line, message)
    finally:
        conn.close()
    return report


# ---------------------------------------------------------------- what the rows depend on besides the posts


def digest(path):
    """sha256 of a file's bytes, or of a folder's file names and bytes; None when there is none."""
    path = Path(path) if path else None
    if path is None or not path.exists():
        return None
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")) if path.is_dir() else [path]:
        h.update(str(p.relative_to(path)).encode() + b"\0")
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def unsupported(dataset):
    """Why the update cannot handle the dataset's sources, or None."""
    for s in dataset.sources:
        if s.kind != "blog":
            return f"source {s.name!r} is a {s.kind} export"
        if s.git:
            return f"source {s.name!r} is a git source (forecast history)"
        if s.styles:
            return f"source {s.name!r} has forecast styles"
    return None


def fingerprint(dataset, sites, options):
    """Everything besides the post files that a build's rows depend on, as {part: value}."""
    claims = options.get("claims_dir") or dataset.folder / "claims"  # (the default, as build.collect_dataset)
    return {
        "the package": code_version(),
        "the working directory (messages show paths relative to it)": os.getcwd(),
        "predictions.toml": digest(dataset.config_path),
        "the inputs": json.dumps(pipeline.inputs(dataset), sort_keys=True),
        "the options": json.dumps({k: str(v) for k, v in sorted(options.items()) if k not in ("progress", "jobs")}),
        "the sources' sites": json.dumps([(s.id, s.base_url, str(s.content_root), s.id_prefix) for s in sites]),
        "the resolution files": digest(dataset.resolutions),
        "the claims files": digest(claims),
    }


def identity(db_path):
    st = os.stat(db_path)
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ino}"


def sites_of(dataset, options):
    return [source_site(dataset, s, base_url=options.get("base_url")) for s in dataset.sources if s.kind == "blog"]


def save(dataset, corpus, meta):
    """Write the manifest of the database just built, with the fingerprint taken before the build (never fails the
    build: without a manifest the next build rewrites)."""
    path = manifest_path(dataset.db_path)
    files = [(e.site.id, e.post.rel_path, e.post.checksum, "candidate" if e.links is not None else "post", e.id)
             for e in corpus.entries]
    links = [(e.site.id, e.post.rel_path, target) for e in corpus.entries for target in e.links or ()]
    write_manifest(path, dataset.db_path, dict(meta, build_date=corpus.build_date.isoformat()), files, links)


def write_manifest(path, db_path, meta, files, links):
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript(SCHEMA)
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [*meta.items(), ("database", identity(db_path))])
            conn.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?)", files)
            conn.executemany("INSERT INTO links VALUES (?, ?, ?)", links)
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, path)
    except (OSError, sqlite3.Error):
        tmp.unlink(missing_ok=True)
        path.unlink(missing_ok=True)


class Manifest:
    """The manifest of the previous build, read whole (a few MB at 10,000 posts)."""

    def __init__(self, path, db_path):
        if not path.exists() or not db_path.exists():
            raise Fallback("no previous build to update")
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                self.meta = dict(conn.execute("SELECT key, value FROM meta"))
                self.files = {(s, p): (c, st, pid) for s, p, c, st, pid in conn.execute("SELECT * FROM files")}
                self.links = {}
                for s, p, target in conn.execute("SELECT site, path, target FROM links ORDER BY rowid"):
                    self.links.setdefault((s, target), []).append((s, p))
            finally:
                conn.close()
        except sqlite3.Error as e:
            raise Fallback(f"the manifest of the previous build cannot be read ({e})") from None
        if self.meta.get("database") != identity(db_path):
            raise Fallback("the database is not the one the previous build wrote")


# ---------------------------------------------------------------- the update


def update(dataset, options):
    """Update the database in place of a rewrite, or raise Fallback saying why not."""
    if reason := unsupported(dataset):
        raise Fallback(f"{reason}: the update handles plain blog sources")
    opts = dict(options)
    db_path = Path(dataset.db_path)
    manifest = Manifest(manifest_path(db_path), db_path)
    sites = sites_of(dataset, opts)
    now = fingerprint(dataset, sites, opts)
    for part, value in now.items():
        if manifest.meta.get(part) != value:
            raise Fallback(f"{part} changed since the last build")
    build_date = opts.get("build_date") or dt.date.today()
    plan = Plan(dataset, sites, manifest, opts, build_date)
    plan.find_changes()
    if not plan.changed and build_date.isoformat() == manifest.meta["build_date"]:
        return plan.built("nothing changed since the last build")
    plan.read()
    cache = Cache(cache_path(db_path))
    try:
        plan.cache = cache
        plan.gather()
        with database.Patch(db_path) as patch:
            with patch.writing():
                plan.apply(patch.conn)
                counts = db_counts(patch.conn)
            patch.finish()
        cache.add()
    finally:
        cache.close()
    plan.save_manifest(now)
    n = len(plan.changed)
    k = len(plan.rewritten)
    return Built("update", f"{n} file{'s' if n != 1 else ''} changed: the rows of {k} post{'s' if k != 1 else ''} replaced",
                 lambda: db_warnings(db_path), counts, plan.kept, cache.misses)


class Lazy:
    """A post the update did not need to read until a review links it (build.read_review asks for .kind, .id and
    .extraction of what by_path gives)."""

    def __init__(self, plan, post_id, kind):
        self.plan, self.id, self.kind = plan, post_id, kind

    @property
    def extraction(self):
        return self.plan.entry(self.id).extraction


class Before:
    """build.read_review's by_path as a full build shows it to one review: every forecast post, but a review-like
    post read as a forecast post only when it comes earlier in file order (it was read before this review)."""

    def __init__(self, by_path, order):
        self.by_path, self.order = by_path, order

    def get(self, key):
        target, order = self.by_path.get(key, (None, None))
        return target if order is None or order < self.order else None


class Plan:
    """One update: what changed, what it concerns, and the rows that replace the old ones."""

    def __init__(self, dataset, sites, manifest, options, build_date):
        self.dataset, self.sites, self.manifest, self.options = dataset, sites, manifest, options
        self.build_date, self.drafts = build_date, bool(options.get("drafts"))
        self.site_by_id = {s.id: s for s in sites}
        self.site_index = {s.id: i for i, s in enumerate(sites)}
        self.entries, self.cache, self.kept, self.bases, self.old_orders, self.reviews_shown = {}, None, 0, {}, {}, {}

    # -- which files changed

    def find_changes(self):
        """Hash every post file; changed: (site id, rel path) of files added, edited or removed (and drafts)."""
        self.files = {}  # (site id, rel) -> (path, checksum)
        self.changed = []
        old = self.manifest.files
        for site in self.sites:
            root = site.content_root
            for rel in pages(root):
                try:
                    with open(os.path.join(root, rel), "rb") as f:
                        checksum = hashlib.sha256(f.read()).hexdigest()
                except OSError:
                    checksum = None  # read_post says why
                self.files[(site.id, rel)] = (root, checksum)
                if checksum is None or old.get((site.id, rel), (None,))[0] != checksum:
                    self.changed.append((site.id, rel))
        self.changed += [key for key in old if key not in self.files]
        if len(self.changed) > LIMIT:
            raise Fallback(f"{len(self.changed)} files changed (the update handles up to {LIMIT})")

    def built(self, reason):
        conn = sqlite3.connect(f"file:{self.dataset.db_path}?mode=ro", uri=True)
        try:
            counts = db_counts(conn)
        finally:
            conn.close()
        return Built("update", reason, lambda: db_warnings(self.dataset.db_path), counts, counts["posts"], 0)

    # -- the old database

    def read(self):
        """What the update needs of the old database (read-only)."""
        conn = sqlite3.connect(f"file:{self.dataset.db_path}?mode=ro", uri=True)
        try:
            self.old_build_date = conn.execute("SELECT value FROM build_info WHERE key = 'build_date'").fetchone()[0]
            self.posts = {}  # id -> (site id, rel path, url path, kind, reviews_post_id, resolves_by)
            for pid, source, rel, url, kind, target, resolves_by in conn.execute(
                    "SELECT id, source_id, path, url, kind, reviews_post_id, resolves_by FROM posts"):
                site = self.site_by_id.get(source)
                if site is None or not url.startswith(site.base_url):
                    raise Fallback(f"post {pid} is not of a known source")
                self.posts[pid] = (source, rel, url[len(site.base_url):], kind, target, resolves_by)
            self.resolved_by_files = {p for (p,) in conn.execute(
                "SELECT prediction_id FROM resolutions WHERE source IN ('file', 'condition')")}
            for pid, cond in conn.execute("SELECT id, condition_id FROM predictions WHERE condition_id IS NOT NULL"):
                self.resolved_by_files |= {pid, cond}
            self.claimed = {p for (p,) in conn.execute("SELECT DISTINCT post_id FROM claims")}
            if any(pipeline.md.hugo_anchor(str(name or "")) != aid for aid, name in conn.execute(
                    "SELECT id, name FROM authors WHERE id GLOB 'author-[0-9]*'")):
                raise Fallback("an author without a name is numbered in build order")
        finally:
            conn.close()
        self.reviewers = {}  # target post id -> review post ids
        for pid, (_, _, _, _, target, _) in self.posts.items():
            if target:
                self.reviewers.setdefault(target, []).append(pid)
        files = self.manifest.files
        self.status = {pid: status for _, status, pid in files.values() if pid}
        self.resolution_stems = {p.stem for p in Path(self.dataset.resolutions).iterdir()} \
            if Path(self.dataset.resolutions).is_dir() else set()
        self.old_of = {key: files[key][2] for key in self.changed if key in files and files[key][1] != "draft"}

    # -- reading posts

    def load(self, key):
        """A build.Entry of the file at key, its forecasts read (or the reason it cannot be updated)."""
        site, rel = self.site_by_id[key[0]], key[1]
        report = Report()
        path = site.content_root / rel
        post = read_post(path, rel, report, root=site.content_root)
        if post is None or report.errors:
            raise Fallback(f"{display(path)} has errors (the rewrite reports them)")
        if post.checksum != self.files[key][1]:
            raise Fallback(f"{display(path)} changed during the build")
        if post.meta.get("draft") is True and not self.drafts:
            return None
        entry = pipeline.Entry(site, post, site.id_prefix + post.slug)
        entry.links = () if reviews.looks_like_review(post.body) else None  # set again by read_review
        return entry

    def entry(self, post_id):
        """The entry of an unchanged post, read on demand (its parsed work comes from the cache)."""
        if post_id not in self.entries:
            source, rel = self.posts[post_id][:2]
            entry = self.load((source, rel))
            if entry is None or entry.id != post_id:
                raise Fallback(f"{rel} is not what the previous build read")
            self.read_forecasts(entry)
            self.entries[post_id] = entry
        return self.entries[post_id]

    def read_forecasts(self, entry):
        report = Report()
        pipeline.read_predictions(entry, report, self.cache)
        if report.errors:
            raise Fallback(f"{entry.post.shown} has errors (the rewrite reports them)")

    # -- what the changes concern

    def gather(self):
        """Read the changed files and the reviews they concern; decide which posts' rows are replaced."""
        new = {}  # key -> entry (None: a draft)
        for key in self.changed:
            if key in self.files:
                new[key] = self.load(key)
                if new[key] is not None and new[key].links is None:
                    self.read_forecasts(new[key])
                    self.entries[new[key].id] = new[key]
        self.new = new
        removed = set(self.old_of.values())  # old post ids of changed files
        old_forecast = {(s, url): pid for pid in removed for s, _, url, kind, _, _ in [self.posts[pid]]
                        if kind == "forecast"}
        self.by_path = {}  # (site id, URL path) -> (the forecast post there, its order if review-like else None)
        for pid, (s, rel, url, kind, _, _) in self.posts.items():
            if kind == "forecast" and pid not in removed:
                self.target_at((s, url), Lazy(self, pid, kind),
                               self.order((s, rel)) if self.status.get(pid) == "candidate" else None)
        new_forecast = {}
        for e in new.values():
            if e is not None and e.kind == "forecast":
                new_forecast[(e.site.id, e.post.url_path)] = e
                self.target_at((e.site.id, e.post.url_path), e, None)
        moved = {k for k in old_forecast.keys() | new_forecast.keys()
                 if old_forecast.get(k) != getattr(new_forecast.get(k), "id", None)}
        # the reviews to grade again: changed ones, those grading a changed post, those linking a post that appeared,
        # went or moved, and (below) every review grading the same post as one of these
        changed_reviews = {key for key, e in new.items() if e is not None and e.links is not None}
        todo = set(changed_reviews)
        todo |= {self.key_of(r) for pid in removed for r in self.reviewers.get(pid, ())}
        todo |= {k for path in moved for k in self.manifest.links.get(path, ()) if k not in self.changed}
        graded, targets = {}, set()

        def grades(target):  # a review's old or new target: every review of it is graded again
            if target and target not in targets:
                targets.add(target)
                todo.update(self.key_of(r) for r in self.reviewers.get(target, ()))

        for pid in removed:
            grades(self.posts[pid][4])
        for _ in range(10 * LIMIT):
            todo = {k for k in todo if k in self.files}  # gone files have nothing to grade
            if not todo:
                break
            key = min(todo, key=self.order)  # in file order, as a full build grades them
            todo.discard(key)
            entry = self.load(key)
            if entry is None or entry.links is None:
                continue  # a draft now, or no longer review-like (read as a new post)
            before = graded.get(key) or (None if key in new else self.entries_old(key))
            report = Report()
            pipeline.read_review(entry, NOT_READ, Before(self.by_path, self.order(key)), report, self.cache)
            if report.errors:
                raise Fallback(f"{entry.post.shown} has errors (the rewrite reports them)")
            graded[key] = entry
            if key in new:
                new[key] = entry
            grades(before.reviews_post_id if before else None)
            grades(entry.reviews_post_id)
            was = before is not None and before.kind == "forecast"
            if was or entry.kind == "forecast":
                # a review-like post that grades nothing is read as a forecast post: the reviews after it that link
                # it saw it as one (a full build grades them in file order)
                url = (key[0], entry.post.url_path)
                if was:
                    self.by_path.pop(url, None)
                if entry.kind == "forecast":
                    self.target_at(url, entry, self.order(key))
                if was != (entry.kind == "forecast"):
                    todo |= {k for k in [*self.manifest.links.get(url, ()), *changed_reviews]
                             if self.order(k) > self.order(key)}
        else:
            raise Fallback("grading the reviews again does not settle")
        self.graded = graded
        self.targets = targets
        rewritten = {key: e for key, e in new.items() if e is not None} | graded
        self.rewritten = dict(sorted(rewritten.items(), key=lambda kv: self.order(kv[0])))
        self.deleted = removed | {e.id for key, e in graded.items() if key not in new}
        self.check(new)
        self.kept = len(self.posts) - len(self.deleted)
        self.by_id = {e.id: e for e in self.rewritten.values()}

    def target_at(self, url, target, order):
        if url in self.by_path:
            raise Fallback(f"two forecast posts at {url[1]}")
        self.by_path[url] = (target, order)

    def entries_old(self, key):
        """What the previous build made of an unchanged review-like post: its kind and the post it grades."""
        pid = self.manifest.files[key][2]
        return SimpleNamespace(kind=self.posts[pid][3], reviews_post_id=self.posts[pid][4])

    def key_of(self, post_id):
        source, rel = self.posts[post_id][:2]
        return (source, rel)

    def order(self, key):
        """A file's place in build order (discover sorts each content root's paths by their parts)."""
        return self.site_index[key[0]], tuple(key[1].split("/"))

    def check(self, new):
        """Refuse what the update cannot make exactly as a full build would."""
        ids = [e.id for e in self.rewritten.values()]
        if len(set(ids)) != len(ids) or set(ids) & (self.posts.keys() - self.deleted):
            raise Fallback("two posts have one slug (the rewrite reports it)")
        touched = set(self.deleted) | set(ids) | self.targets
        if touched & self.claimed:
            raise Fallback("a claims file names a changed post")
        if touched & self.resolution_stems or any(
                p.split("/", 1)[0] in touched for p in self.resolved_by_files):
            raise Fallback("a resolution file resolves a changed post's forecasts")
        if self.build_date.isoformat() != self.old_build_date and (
                any(p[5] is None for p in self.posts.values())
                or any(e.resolves_by() is None for e in self.rewritten.values())):
            raise Fallback("the build date changed and a post without a date takes it as its deadline")
        for e in self.rewritten.values():
            for a in e.post.meta.get("authors") or []:
                name = a.get("name") if isinstance(a, dict) else a
                if not pipeline.md.hugo_anchor(str(name or "")):
                    raise Fallback(f"{e.post.shown}: an author without a name is numbered in build order")

    # -- the new rows

    def apply(self, conn):
        deleted = sorted(self.deleted)
        targets = sorted(self.targets)
        conn.execute("CREATE TEMP TABLE gone (id TEXT PRIMARY KEY)")  # posts whose rows are replaced
        conn.executemany("INSERT INTO temp.gone VALUES (?)", [(p,) for p in deleted])
        conn.execute("CREATE TEMP TABLE scored (id TEXT PRIMARY KEY)")  # posts whose scores are recomputed
        conn.executemany("INSERT OR IGNORE INTO temp.scored VALUES (?)", [(p,) for p in deleted + targets])
        named = {t: self.named(conn, link, column) for t, link, column in NAMED}
        self.delete(conn)
        self.insert(conn)
        self.post_order(conn)
        for table, link, column in NAMED:
            self.fix_named(conn, table, link, column, named[table])
        self.scores(conn)
        self.warnings(conn)
        conn.execute("UPDATE build_info SET value = ? WHERE key = 'build_date'", [self.build_date.isoformat()])
        conn.execute("DELETE FROM source_licenses")
        conn.execute("DELETE FROM sources")
        for table, rows in pipeline.source_tables(self.sites).items():
            database.insert(conn, table, rows)
        self.check_references(conn)

    def delete(self, conn):
        gone = "SELECT id FROM temp.gone"
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'predictions_fts'").fetchone():
            conn.execute("INSERT INTO predictions_fts (predictions_fts, rowid, text, passage_markdown) "
                         f"SELECT 'delete', rowid, text, passage_markdown FROM predictions WHERE post_id IN ({gone})")
        resolved = "SELECT id FROM predictions WHERE post_id IN (SELECT id FROM temp.scored)"
        self.gone_ids = {  # the numbered rows deleted: renumber closes their gaps
            "evidence": [i for (i,) in conn.execute(f"SELECT id FROM evidence WHERE prediction_id IN ({resolved})")],
            "score_sums": [i for (i,) in conn.execute("SELECT id FROM score_sums WHERE post_id IN "
                                                      "(SELECT id FROM temp.scored)")]}
        conn.execute(f"DELETE FROM evidence WHERE prediction_id IN ({resolved})")
        conn.execute(f"DELETE FROM resolutions WHERE prediction_id IN ({resolved})")
        conn.execute("DELETE FROM scored_predictions WHERE post_id IN (SELECT id FROM temp.scored)")
        conn.execute("DELETE FROM score_sums WHERE post_id IN (SELECT id FROM temp.scored)")
        conn.execute("DELETE FROM prediction_references WHERE prediction_id IN "
                     f"(SELECT id FROM predictions WHERE post_id IN ({gone}))")
        for table in ("predictions", '"references"', "sections", "post_tags", "post_authors", "post_versions",
                      "forecast_history", "forecast_changes"):
            conn.execute(f"DELETE FROM {table} WHERE post_id IN ({gone})")
        conn.execute(f"DELETE FROM posts WHERE id IN ({gone})")

    def insert(self, conn):
        self.named_rows = {"authors": {}, "tags": {}}
        for e in self.rewritten.values():
            tables = pipeline.post_tables(e, set(), set(), self.build_date)
            self.named_rows["authors"][e.id] = {r["id"]: r for r in tables.pop("authors")}
            self.named_rows["tags"][e.id] = {r["id"]: r for r in tables.pop("tags")}
            for table, rows in tables.items():
                database.insert(conn, table, rows)
        conn.executemany("INSERT INTO temp.gone VALUES (?)", [(e.id,) for e in self.rewritten.values()
                                                             if e.id not in self.deleted])
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'predictions_fts'").fetchone():
            conn.execute("INSERT INTO predictions_fts (rowid, text, passage_markdown) SELECT rowid, text, "
                         "passage_markdown FROM predictions WHERE post_id IN (SELECT id FROM temp.gone)")

    def post_order(self, conn):
        """temp.post_order: each post's place in file order (n) and in write order (w: review-like posts last)."""
        keys = {pid: self.write_order_old(pid) for pid in self.posts if pid not in self.deleted}
        keys |= {e.id: self.write_order(e.id) for e in self.rewritten.values()}
        by_file = sorted(keys, key=lambda pid: keys[pid][1])
        w = {pid: n for n, pid in enumerate(sorted(keys, key=keys.get))}
        conn.execute("CREATE TEMP TABLE post_order (post_id TEXT PRIMARY KEY, n INTEGER, w INTEGER)")
        conn.executemany("INSERT INTO temp.post_order VALUES (?, ?, ?)", [(p, n, w[p]) for n, p in enumerate(by_file)])

    def named(self, conn, link, column):
        """{id: the replaced posts naming it} of the authors (or tags) they name, before the update."""
        found = {}
        for post_id, named_id in conn.execute(
                f"SELECT post_id, {column} FROM {link} WHERE post_id IN (SELECT id FROM temp.gone)"):
            found.setdefault(named_id, []).append(post_id)
        return found

    def write_order(self, post_id):
        """The order a full build writes posts in: every post but the review-like ones, then those (file order)."""
        e = self.by_id.get(post_id)
        if e is not None:
            return (e.links is not None, self.order((e.site.id, e.post.rel_path)))
        return self.write_order_old(post_id)

    def fix_named(self, conn, table, link, column, before):
        """authors and tags rows are the first post's (in write order) that names them."""
        new = self.named_rows[table]
        ids = set(before) | {i for rows in new.values() for i in rows}
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        # the first unchanged post naming each (in write order: it is the same before and after)
        unchanged = dict(conn.execute(
            f"SELECT {column}, post_id FROM (SELECT l.{column}, l.post_id, min(o.w) FROM {link} l "
            f"JOIN temp.post_order o ON o.post_id = l.post_id WHERE l.{column} IN ({marks}) AND l.post_id NOT IN "
            f"(SELECT id FROM temp.gone) GROUP BY l.{column})", sorted(ids)))
        named_now = {}
        for post_id, rows in new.items():
            for i in rows:
                named_now.setdefault(i, []).append(post_id)
        for i in sorted(ids):
            first_kept = [unchanged[i]] if i in unchanged else []
            if not first_kept and i not in named_now:
                conn.execute(f"DELETE FROM {table} WHERE id = ?", [i])
                continue
            first = min(first_kept + named_now.get(i, []), key=self.write_order)
            if first in new:
                row = new[first][i]
            elif min(first_kept + before.get(i, []), key=self.write_order_old) == first:
                continue  # the same post's row as before
            else:
                e = self.entry_any(first)
                row = next(r for r in pipeline.post_tables(e, set(), set(), self.build_date)[table] if r["id"] == i)
            conn.execute(f"DELETE FROM {table} WHERE id = ?", [i])
            database.insert(conn, table, [row])

    def write_order_old(self, post_id):
        found = self.old_orders.get(post_id)
        if found is None:
            key = self.key_of(post_id)
            found = self.old_orders[post_id] = (self.status.get(post_id) == "candidate", self.order(key))
        return found

    def entry_any(self, post_id):
        """The entry of an unchanged post of any kind (its front matter is what is needed)."""
        entry = self.load(self.key_of(post_id))
        if entry is None or entry.id != post_id:
            raise Fallback(f"{post_id} is not what the previous build read")
        return entry

    def scores(self, conn):
        """resolutions, evidence, scored_predictions and score_sums of the posts whose predictions or verdicts
        changed, numbered as a full build numbers them."""
        graded = sorted(self.graded.items(), key=lambda kv: self.order(kv[0]))
        found = pipeline.verdict_resolutions([e for _, e in graded], Report())
        resolutions = sorted(found.items())
        database.insert(conn, "resolutions", (r.row() for _, r in resolutions))
        (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM evidence").fetchone()
        database.insert(conn, "evidence", (dict(id=top + n, **row) for n, row in enumerate(
            (dict(prediction_id=pid, position=i, url=ev.url, title=ev.title, domain=pipeline.md.domain(ev.url))
             for pid, r in resolutions for i, ev in enumerate(r.evidence, 1)), 1)))
        renumber(conn, "evidence", "t.prediction_id, t.position", top, self.gone_ids["evidence"])
        scored = {e.id: e for e in self.rewritten.values()}
        for t in self.targets:
            if t not in scored and (t in self.posts and t not in self.deleted):
                scored[t] = self.entry(t)
        entries = sorted(scored.values(), key=lambda e: self.order((e.site.id, e.post.rel_path)))
        units = {}
        facts = pipeline.prediction_facts(SimpleNamespace(entries=entries, build_date=self.build_date))
        database.insert(conn, "scored_predictions", pipeline.scored_rows(facts, found, units))
        (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM score_sums").fetchone()
        database.insert(conn, "score_sums", (u | dict(id=top + u["id"]) for u in units.values()))
        renumber(conn, "score_sums", "o.n, t.id", top, self.gone_ids["score_sums"],
                 "JOIN temp.post_order o ON o.post_id = t.post_id")
        self.resolutions = found

    def warnings(self, conn):
        """build_warnings as a full build orders them: drafts in file order, the resolution files' warnings, then
        each review's ungraded predictions in file order."""
        old = conn.execute("SELECT kind, path, line, message FROM build_warnings ORDER BY id").fetchall()
        kinds = [w[0] for w in old]
        middle = [w for w in old if w[0] not in ("draft", "ungraded")]
        ungraded = [w for w in old if w[0] == "ungraded"]
        expected = sorted(kinds, key=lambda k: (k != "draft", k == "ungraded"))
        if kinds != expected:
            raise Fallback("the previous build's warnings are not in the order the update keeps")
        drafts = [("draft", display(root / key[1]), None, "draft skipped (build with --drafts to include it)")
                  for key, (root, _) in self.files.items() if self.is_draft(key)]
        by_review = {}
        for w in ungraded:
            shown = review_of(w[3])
            if shown not in self.reviews_shown:
                self.reviews_shown[shown] = self.key_of_shown(shown)
            review = self.reviews_shown[shown]
            if review is None:
                raise Fallback(f"cannot tell which review warned {w[3]!r}")
            if review not in self.graded and review not in self.changed:
                by_review.setdefault(review, []).append(w)
        for key, e in self.graded.items():
            if e.kind != "review":
                continue
            target = e.reviews_post_id
            target_entry = self.by_id.get(target) or self.entry(target)
            report = Report()
            pipeline.warn_ungraded([e, target_entry], self.resolutions, report)
            by_review[key] = [(kind, p.path, p.line, p.message) for kind, p in report.warnings]
        rows = drafts + middle + [w for key in sorted(by_review, key=self.order) for w in by_review[key]]
        same = next((i for i, (a, b) in enumerate(zip(old, rows, strict=False)) if a != b), min(len(old), len(rows)))
        conn.execute("DELETE FROM build_warnings WHERE id > ?", [same])
        database.insert(conn, "build_warnings", (dict(id=i, kind=k, path=p, line=line, message=m)
                                                 for i, (k, p, line, m) in enumerate(rows[same:], same + 1)))

    def is_draft(self, key):
        if key in self.new:
            return self.new[key] is None
        return self.manifest.files.get(key, (None, None))[1] == "draft"

    def key_of_shown(self, shown):
        """The key of a review-like post of the previous build from its path as messages show it (errors.display)."""
        for site in self.sites:
            if site.id not in self.bases:
                self.bases[site.id] = display(site.content_root)
            base = self.bases[site.id]
            rel = shown if base == "." else shown.removeprefix(base + "/")
            if rel != shown or base == ".":
                key = (site.id, rel)
                if self.manifest.files.get(key, (None, None))[1] == "candidate":
                    return key  # (display gives one path one way: the prefix is the content root's)
        return None

    def check_references(self, conn):
        """No row may name a post that is gone (the full build checks every foreign key)."""
        for table, column in (("posts", "reviews_post_id"), ("resolutions", "review_post_id"), ("claims", "post_id"),
                              ("score_sums", "post_id"), ("scored_predictions", "post_id")):
            if conn.execute(f"SELECT 1 FROM {table} WHERE {column} IS NOT NULL AND {column} NOT IN "
                            f"(SELECT id FROM posts) AND {column} IN (SELECT id FROM temp.gone) LIMIT 1").fetchone():
                raise Fallback(f"{table}.{column} would name a post that is gone")

    def save_manifest(self, fingerprint_now):
        files = dict(self.manifest.files)
        links = {k: v for k, v in self.manifest.links.items()}
        for key in self.changed:
            files.pop(key, None)
            if key in self.new:
                e = self.new[key]
                files[key] = (self.files[key][1], "draft", None) if e is None else None
        for key, e in self.rewritten.items():
            files[key] = (e.post.checksum, "candidate" if e.links is not None else "post", e.id)
        rows = [(s, p, c, st, pid) for (s, p), v in files.items() if v for c, st, pid in [v]]
        replaced = set(self.changed) | set(self.rewritten)
        link_rows = [(s, p, target) for (s, target), ks in links.items() for (s2, p) in ks if (s2, p) not in replaced]
        link_rows += [(e.site.id, e.post.rel_path, t) for e in self.rewritten.values() for t in e.links or ()]
        meta = dict(fingerprint_now, build_date=self.build_date.isoformat())
        write_manifest(manifest_path(self.dataset.db_path), self.dataset.db_path, meta, rows, link_rows)


NAMED = [("authors", "post_authors", "author_id"), ("tags", "post_tags", "tag_id")]
NOT_READ = SimpleNamespace(work=None)  # build.read_review's worker read: none here (the cache, or the file read again)


def review_of(message):
    """The review's path in an `ungraded` warning's message (build.warn_ungraded writes it)."""
    rest = message.split(UNGRADED, 1)[-1]
    if rest.endswith("; it stays open"):
        return rest[: -len("; it stays open")]
    return rest.rsplit("; resolved by ", 1)[0]


def renumber(conn, table, order, top, gone, join=""):
    """Give a table's INTEGER PRIMARY KEY ids 1..n in the given order (SQL over `t`, the table, and join), as a full
    build numbers its rows, after the rows with the ids in gone were deleted and new ones inserted above top.

    When the new rows fill the gap the deleted ones left, they take its ids. Otherwise the rows from the first one
    out of place on are copied out, deleted and inserted again in order (2-4x quicker than updating ids)."""
    sql = f"SELECT {order} FROM {table} t {join} WHERE t.id = ?"
    key = lambda i: conn.execute(sql, [i]).fetchone()  # noqa: E731 (a row's place in the order)
    (fresh,) = conn.execute(f"SELECT count(*) FROM {table} WHERE id > ?", [top]).fetchone()
    low = min(gone, default=None)
    if gone and fresh == len(gone) == max(gone) - low + 1 and (low == 1 or key(low - 1) < key(top + 1)) and (
            low + fresh > top or key(top + fresh) < key(low + fresh)):
        conn.execute(f"UPDATE {table} SET id = id - ? WHERE id > ?", [top + 1 - low, top])
        return
    starts = [low] if gone else []
    if fresh:  # the place of the first new row among the old ones
        first = key(top + 1)
        marks = ", ".join("?" * len(first))
        (before,) = conn.execute(f"SELECT count(*) FROM {table} t {join} WHERE t.id <= ? AND ({order}) < ({marks})",
                                 [top, *first]).fetchone()
        starts.append(before + 1)
    if not starts:
        return
    start = min(starts)  # the rows before it hold ids 1..start-1 in order: every other id is >= start
    names = [f'"{c[1]}"' for c in conn.execute(f'PRAGMA table_info("{table}")') if c[1] != "id"]
    columns = ", ".join(names)
    conn.execute(f"CREATE TEMP TABLE moved AS SELECT ? - 1 + row_number() OVER (ORDER BY {order}) AS id, "
                 f"{', '.join('t.' + n for n in names)} FROM {table} t {join} WHERE t.id >= ?", [start, start])
    conn.execute(f"DELETE FROM {table} WHERE id >= ?", [start])
    conn.execute(f"INSERT INTO {table} (id, {columns}) SELECT id, {columns} FROM temp.moved ORDER BY id")
    conn.execute("DROP TABLE temp.moved")


__all__ = ["Built", "Fallback", "build", "manifest_path"]
