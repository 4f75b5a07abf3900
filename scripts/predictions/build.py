"""The pipeline: read posts, extract predictions, read verdicts and resolution files, make rows.

``collect`` reads the posts one by one and hands each to a callback as soon as it is read (``Rows.post``
writes its rows through a database.Writer), then returns a Corpus of what spans posts; ``Rows.finish`` writes
the rest. Errors are gathered for the whole build and raised together.
"""

import contextlib
import datetime as dt
import gc
import itertools
import json
import pickle
import re
import sys
from dataclasses import dataclass, field, replace
from operator import itemgetter
from pathlib import Path

from . import claims as claiming
from . import database, grading, reading, reviews, scoring, trackers
from . import markdown as md
from . import resolutions as res
from . import styles as styling
from .cache import Cache, cache_path
from .errors import InputError, Problem, Report, display
from .extract import Extraction, extract_post
from .history import History
from .posts import as_date, discover
from .site import load_site, source_site

YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")


@dataclass(slots=True)
class Entry:
    site: object
    post: object
    id: str
    kind: str = "article"
    extraction: object = None
    reviews_post_id: str | None = None
    verdicts: list = field(default_factory=list)  # once graded: {prediction id: res.Resolution}
    references: int = 0  # how many the post has (its reference objects are dropped once written)
    reader: str = "markers"  # how its forecasts were read: markers (extract.py) or statements (statements.py)
    links: tuple | None = None  # a review-like post's linked post paths (update.py: which reviews a change affects)

    @property
    def url(self):
        return self.site.base_url + self.post.url_path

    @property
    def year(self):
        m = YEAR.search(str(self.post.meta.get("title") or ""))
        if m:
            return int(m[0])
        return self.post.date.year if self.post.date else None

    def period_start(self):
        """When the period the post forecasts begins: 1 January of the year its title names (`Predictions 2026`
        is about 2026), else the post's date."""
        if m := YEAR.search(str(self.post.meta.get("title") or "")):
            return dt.date(int(m[0]), 1, 1)
        return self.post.date

    def resolves_by(self):
        meta = self.post.meta
        if meta.get("resolves_by"):
            return as_date(meta["resolves_by"])
        if m := YEAR.search(str(meta.get("title") or "")):
            return dt.date(int(m[0]), 12, 31)
        if self.post.date:
            d = self.post.date
            return d.replace(year=d.year + 1, day=28 if (d.month, d.day) == (2, 29) else d.day)
        return None


@dataclass(slots=True)
class Corpus:
    sites: list
    entries: list
    resolutions: dict  # prediction id -> res.Resolution
    conditions: dict  # prediction id -> condition id
    report: Report
    skipped_drafts: int = 0
    build_date: dt.date = field(default_factory=dt.date.today)
    claims: list = field(default_factory=list)  # claims.Claim: authors' own calibration tallies
    inputs: dict = field(default_factory=dict)  # what the build read (recorded in build_info)
    history: dict = field(default_factory=dict)  # what reading the git sources' history took (History.stats)

    @property
    def predictions(self):
        return [p for e in self.entries if e.extraction for p in e.extraction.predictions]


def inputs(dataset):
    """What a build of the dataset reads, as recorded in build_info: a later `serve` compares it."""
    return {"config": str(dataset.config_path) if dataset.config_path else None,
            "resolutions": str(dataset.resolutions),
            "sources": [{"name": s.name, "content": str(s.content_root(dataset)) if s.kind == "blog" else str(s.path),
                         "git": s.git, "ref": s.ref} for s in dataset.sources]}


def collect_dataset(dataset, history=None, **options):
    """collect() over a Dataset's sources and resolution files; the corpus records the build's inputs.
    With a history.History, the git sources' history is read first (post dates from first commits).

    A blog source's forecasts/reviews/marks/exclude keys are its style (styles.py); a tracker source (kind
    fatebook-csv, predictionbook-json, predictionbook-csv) is read by trackers.py; a ``claims/`` folder in the
    dataset folder holds authors' calibration claims (claims.py) unless claims_dir names another."""
    base_url = options.pop("base_url", None)
    blogs = [s for s in dataset.sources if s.kind == "blog"]
    tracked = [(s.name, s.kind, s.path) for s in dataset.sources if s.kind != "blog"]
    sites = [source_site(dataset, s, base_url=base_url) for s in blogs]
    if not sites and not tracked:
        where = dataset.config_path or dataset.folder
        raise InputError([Problem(str(where), None, "no sources to read: add a [[sources]] table to predictions.toml "
                                  "(`predictions init` writes one), or pass --content DIR")])
    styles = {}
    for source, site in zip(blogs, sites, strict=True):
        if source.styles:
            where = f"{display(dataset.config_path) if dataset.config_path else 'predictions.toml'}: " \
                    f"source {source.name!r}"
            styles[site.content_root] = styling.Style.from_config(source.styles, where)
    if options.get("claims_dir") is None and (dataset.folder / "claims").is_dir():
        options["claims_dir"] = dataset.folder / "claims"
    if history is not None:
        history.prepare(dataset, sites)
    corpus = collect([s.content_root for s in sites], dataset.resolutions, sites=sites, styles=styles,
                     trackers=tracked, history=history, **options)
    stated = {s.name: s for s in dataset.sources if s.kind != "blog"}  # a tracker's title, author, license
    corpus.sites = [replace(site, **{k: getattr(stated[site.id], k) for k in ("title", "author", "license", "license_url")
                                     if getattr(stated[site.id], k)}) if site.id in stated else site
                    for site in corpus.sites]
    corpus.inputs = inputs(dataset)
    return corpus


def write(dataset, full=False, jobs=None, **options):
    """Build the dataset's database: collect its posts, streaming each post's rows into a new file that replaces
    the old one only if everything succeeded. Returns (corpus, cache); raises InputError on bad input.
    --full (full=True) reads every post and every git source's history again instead of reusing cached work.
    jobs: worker processes that read and parse the files (reading.py); None: one per usable CPU (none for a
    small build), 1: none."""
    cache = Cache(cache_path(dataset.db_path), enabled=not full)
    history = History(dataset, enabled=not full)
    try:
        with few_collections(), database.Writer(dataset.db_path) as writer:
            rows = Rows(writer, history)
            corpus = collect_dataset(dataset, history=history, cache=cache, on_post=rows.post, jobs=jobs, **options)
            for kind, path, line, message in history.warnings:
                corpus.report.warn(kind, path, line, message)
            corpus.history = dict(history.stats)
            rows.finish(corpus)
            writer.finish()
        cache.save()
        history.save()
    finally:
        cache.close()
        history.close()
    return corpus, cache


@contextlib.contextmanager
def few_collections():
    """The garbage collector rarely during a build: a build allocates millions of objects that live to its end
    (or are freed by reference counting), and each full collection scans them all. What exists before the build
    (modules, the parser) is frozen, never scanned; forked workers inherit both settings."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def collect(content_roots, resolutions_dir=None, drafts=False, base_url=None, progress=None, build_date=None,
            cache=None, on_post=None, sites=None, styles=None, claims_dir=None, trackers=None, history=None, jobs=1):
    """Read every post under the content roots, and the resolutions; raise InputError on bad input.

    Each post is read, extracted and handed to on_post(entry, build_date) (Rows.post writes its rows) before
    the next is read, then lightened: a build never holds every post's text at once. With a cache.Cache,
    unchanged posts' per-post work is reused instead of parsed again. styles maps a content root to its
    source's forecast style (a styles.Style, or the raw forecasts/reviews/marks/exclude keys of its source
    table): posts its globs name are read with the list/table grammar or graded by their marks (not cached).
    claims_dir: a folder of claims files (claims.py), authors' own tallies to set beside the recomputed ones.
    trackers: (source name, kind, file) of tracker exports (trackers.py): each question a post of that source.
    history: a history.History, which gives a post without a date its first commit's.
    jobs: how many worker processes read and parse the files (reading.py; 1: this process alone; None: as many
    as usable CPUs for a large build). The results come back in file order and are used here, in order, exactly
    as a serial build uses them."""
    report = Report()
    build_date = build_date or dt.date.today()
    style_of = styling.parse_all(styles)
    sites = sites or [load_site(root, base_url=base_url) for root in content_roots]
    tasks = [(k, path, rel) for k, site in enumerate(sites) for path, rel in discover(site.content_root)]
    jobs = reading.default_jobs(len(tasks)) if jobs is None else jobs
    reader = reading.Reader(sites, style_of, drafts, cache.keys() if cache else frozenset(), pickled=jobs > 1)
    entries, candidates, styled, written, skipped = [], [], [], (set(), set()), 0

    def done(entry):
        if on_post and not report.errors and first_time(entry, written):
            on_post(entry, build_date)
        lighten(entry)

    for n, ((k, path, rel), read) in enumerate(zip(tasks, reading.read_all(tasks, reader, jobs), strict=True), 1):
        if progress:
            progress(n, len(tasks))
        report.extend(read.problems)
        post, site = read.post, sites[k]
        if post is None:
            continue
        post.path, post.rel_path = path, rel  # one copy of each per file, not a worker's too
        if history is not None:
            history.date_post(site, post)
        if read.role == "draft":
            skipped += 1
            report.warn("draft", display(path), None, "draft skipped (build with --drafts to include it)")
            continue
        entry = Entry(site, post, site.id_prefix + post.slug)
        if read.role == "excluded":
            report.warn("excluded", display(path), None, "excluded by its source's `exclude` globs: not read")
            continue
        entries.append(entry)
        if read.role == "graded":
            styled.append((entry, read))  # graded after every forecast post is read
        elif read.role == "statements":
            read_statements(entry, report, read)
            done(entry)
        elif read.role == "review":
            candidates.append((entry, read))  # graded after every forecast post is read
        else:
            read_predictions(entry, report, cache, read)
            done(entry)
    from_trackers = read_trackers(trackers or [], sites, entries, report, done)
    check_unique_posts(entries, report)
    by_path = {(e.site.id, e.post.url_path): e for e in entries}
    for entry, read in candidates:
        read_review(entry, read, by_path, report, cache)
        done(entry)
    for entry, read in styled:
        read_graded(entry, read, entries, by_path, report, style_of[entry.site.content_root])
        done(entry)
    check_unique_predictions(entries, report)
    report.raise_errors()
    known = {p.id: p for e in entries if e.extraction for p in e.extraction.predictions}
    posts = {e.id for e in entries}
    from_reviews = verdict_resolutions(entries, report)
    from_reviews.update(from_trackers)
    from_files, conditions = res.load_dir(resolutions_dir, known, posts, report) if resolutions_dir else ({}, {})
    report.raise_errors()
    merged = res.merge(from_reviews, from_files, conditions, report)
    warn_ungraded(entries, merged, report)
    stated = {e.id for e in entries if e.kind == "forecast"}
    tallies = claiming.load_dir(Path(claims_dir), stated, report) if claims_dir else []
    report.raise_errors()
    return Corpus(sites, entries, merged, conditions, report, skipped, build_date, claims=tallies)


def first_time(entry, written):
    """True when none of the entry's post and prediction ids was written before (a clash is reported later).
    written: (post ids, prediction ids)."""
    posts, predictions = written
    ids = [p.id for p in entry.extraction.predictions] if entry.extraction else []
    if entry.id in posts or not predictions.isdisjoint(ids):
        return False
    posts.add(entry.id)
    predictions.update(ids)
    return True


def read_predictions(entry, report, cache=None, read=None):
    """A forecast post's extraction: from the cache, from its worker's read, or (a review that grades no post)
    parsed here from the file read again."""
    entry.extraction = cache.get(entry, "forecast") if cache else None
    if entry.extraction is None:
        blob = None
        if read is not None and read.role == "forecast" and read.work is not None:
            entry.extraction, blob = read.value(), read.raw()
            report.extend(read.work_problems)
        else:
            post = reading.reread(entry.post, report)
            entry.extraction = extract_post(entry.id, post, report) if post else Extraction()
            entry.post.body = None
        if cache:
            cache.put(entry, "forecast", entry.extraction, blob)
    if entry.extraction.predictions:
        entry.kind = "forecast"


def read_trackers(files, sites, entries, report, done):
    """Each tracker file's questions as forecast posts of their own source; returns their resolutions."""
    found = {}
    for name, kind, path in files:
        site, made, resolved = trackers.read(name, kind, path, report)
        if site is None:
            continue
        sites.append(site)
        for site, post, extraction, _ in made:
            entry = Entry(site, post, post.slug, kind="forecast" if extraction.predictions else "article",
                          extraction=extraction)
            entries.append(entry)
            done(entry)
        found |= resolved
    return found


def read_statements(entry, report, read):
    """A post named by its source's `forecasts` globs: its list and table statements (statements.py)."""
    post = entry.post
    entry.extraction, entry.reader = read.value(), "statements"
    report.extend(read.work_problems)
    if entry.extraction.predictions:
        entry.kind = "forecast"
    else:
        report.warn("no-statements", post.shown, None, "named by its source's `forecasts` globs but states no "
                    "forecast in list or table form (`Statement: 70%`): check the globs or the post")


def read_graded(entry, read, entries, by_path, report, style):
    """A post named by its source's `reviews` globs grades the forecast post it links, or whose statements it
    repeats; each graded item's mark gives the outcome (grading.py)."""
    post = entry.post
    review = read.value()
    report.extend(read.work_problems)
    entry.extraction, entry.kind = review.extraction, "review"
    target = linked_forecast(entry, review.paths, entries, by_path)
    if target is None:
        scored = sorted(((grading.repeated(review, e.extraction.predictions), e.id, e) for e in entries
                         if e.kind == "forecast" and e.site.id == entry.site.id and e is not entry),
                        key=lambda x: (-x[0], x[1]))
        if scored and scored[0][0] and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            target = scored[0][2]
        else:
            report.error(post.shown, None, "this review grades no forecast post: it links none and repeats the "
                         "statements of none (or of two equally): link the forecast post it grades")
            entry.kind = "article"
            return
    entry.reviews_post_id = target.id
    entry.verdicts = resolutions_of(entry, grading.match(review, target.extraction.predictions, post.shown, report))


def linked_forecast(entry, paths, entries, by_path):
    """The first forecast post a review links: by its URL path, or by its file (Hugo refs name files)."""
    site = entry.site.id
    by_file = {}
    for e in entries:
        if e.site.id == site:
            key = reviews.normalise(e.post.rel_path)
            by_file.setdefault(key, e)
            by_file.setdefault(key.rsplit("/", 2)[-2] + "/", e)  # a ref by the file's name alone
    for p in paths:
        e = by_path.get((site, p)) or by_file.get(p)
        if e is not None and e.kind == "forecast":
            return e
    return None


def read_review(entry, read, by_path, report, cache=None):
    """A post with verdicts grades the first forecast post it links; without one it is an article."""
    work = cache.get(entry, "review") if cache else None
    if work is None:
        blob = read.raw() if read.work is not None else None
        read.work = None
        if blob is not None:
            work = pickle.loads(blob)
        else:
            post = reading.reread(entry.post, report)
            work = reading.review_work(entry.id, post, entry.site.base_url) if post else (Extraction(), [], [], [])
            entry.post.body = None
        if cache and not work[3]:
            cache.put(entry, "review", work, blob)
    extraction, paths, verdicts, errors = work
    entry.links = tuple(paths)
    targets = [by_path.get((entry.site.id, p)) for p in paths]
    target = next((t for t in targets if t and t.kind == "forecast"), None)
    if target is None:
        return read_predictions(entry, report, cache)
    report.errors += errors
    entry.extraction, entry.kind, entry.reviews_post_id = extraction, "review", target.id
    entry.verdicts = resolutions_of(entry, reviews.match(verdicts, target.extraction.predictions, entry.post.shown,
                                                         report))


def warn_ungraded(entries, resolutions, report):
    """A prediction of a graded post that no verdict covers is reported, with what resolves it instead."""
    by_id = {e.id: e for e in entries}
    for e in entries:
        if e.kind != "review":
            continue
        target = by_id[e.reviews_post_id]
        for p in target.extraction.predictions:
            if p.id not in e.verdicts:
                r = resolutions.get(p.id)
                instead = f"; resolved by {r.source_path}:{r.source_line}" if r else "; it stays open"
                report.warn("ungraded", target.post.shown, p.line,
                            f"{p.id} ({p.probability_text}) is graded by no verdict in {e.post.shown}{instead}")


def resolutions_of(e, verdicts):
    """{prediction id: res.Resolution} of a review's matched verdicts, made as soon as they are matched (the
    verdicts, with the claims they restate, are not kept)."""
    return {pid: res.Resolution(
        prediction_id=pid, outcome=v.outcome, value=res.VALUES.get(v.outcome),
        resolved_on=e.post.date, verdict=v.words, note=v.note or None, judged_by="author",
        source="review", source_path=e.post.rel_path, source_line=v.line,
        review_post_id=e.id, review_url=f"{e.url}#{v.anchor}" if v.anchor else e.url,
        evidence=[res.Evidence(u, t or None) for u, t in v.evidence],
    ) for pid, v in verdicts.items()}


def verdict_resolutions(entries, report):
    """The reviews' resolutions; where two reviews grade one prediction, the later post's (in build order)."""
    found = {}
    for e in entries:
        found.update(e.verdicts if isinstance(e.verdicts, dict) else ())
    return found


def check_unique_posts(entries, report):
    seen = {}
    for e in entries:
        if e.id in seen:
            report.error(e.post.shown, None, f"two posts have the slug {e.id!r} (also {seen[e.id]}): "
                         "their prediction ids would collide; set a distinct `slug:` in one's front matter, or (two blogs) "
                         "an `id_prefix` on one of the sources in predictions.toml")
        seen.setdefault(e.id, e.post.shown)


def check_unique_predictions(entries, report):
    ids = [p.id for e in entries for p in (e.extraction.predictions if e.extraction else ())]
    if len(set(ids)) == len(ids):
        return  # (the places are only gathered, for the message, when two predictions share an id)
    seen = {}
    for e in entries:
        for p in e.extraction.predictions if e.extraction else ():
            if p.id in seen:
                report.error(e.post.shown, p.line, f"two predictions have the id {p.id!r} (also {seen[p.id]}): "
                             "give one of their sections a distinct heading")
            seen.setdefault(p.id, f"{e.post.shown}:{p.line}")


class Rows:
    """Turns the corpus into table rows and hands them to a database.Writer as the build goes.

    Each post's rows are written as soon as the post is read (``post``), and its heavy parts dropped, so a
    build holds only what spans posts: prediction ids, texts and stated percents for matching verdicts, and
    the verdicts' outcomes. A review's resolutions (their notes and evidence are most of their size) wait in
    temporary tables (``temp.kept``, ``temp.kept_evidence``) from the moment they are matched. What depends on
    every post (resolutions, conditions, warnings, scores) is written by ``finish`` once the corpus is complete."""

    def __init__(self, writer, history=None):
        self.writer, self.history, self.authors, self.tags = writer, history, set(), set()
        self.kept, self.keeping = 0, False  # resolutions in temp.kept

    def post(self, e, build_date):
        for table, rows in post_tables(e, self.authors, self.tags, build_date).items():
            self.writer.insert(table, rows)
        for table, rows in (self.history.tables(e) if self.history else {}).items():
            self.writer.insert(table, rows)
        if isinstance(e.verdicts, dict):
            self.keep(e.verdicts.values())

    def keep(self, resolutions):
        """Put the resolutions' rows and evidence in temp.kept; each keeps only its key there and what matching
        resolution files and scoring read (outcome, value, dates, where it was stated)."""
        if not self.keeping:
            self.writer.execute(KEPT)
            self.writer.execute(KEPT_EVIDENCE)
            self.keeping = True
        rows, evidence = [], []
        for r in resolutions:
            self.kept += 1
            r.kept = self.kept
            rows.append(r.row() | {"key": r.kept})
            evidence += [dict(key=r.kept, position=i, url=ev.url, title=ev.title, domain=md.domain(ev.url))
                         for i, ev in enumerate(r.evidence, 1)]
            r.note, r.evidence = None, []
        self.writer.insert("kept", rows)
        self.writer.insert("kept_evidence", evidence)

    def finish(self, corpus):
        """Write what spans posts. Every review is matched by now: the predictions' texts are dropped first."""
        w = self.writer
        for p in corpus.predictions:
            p.text = None
        for table, rows in source_tables(corpus.sites).items():
            w.insert(table, rows)
        w.execute("CREATE TEMP TABLE conditions (prediction_id TEXT PRIMARY KEY, condition_id TEXT)")
        w.insert("conditions", (dict(prediction_id=k, condition_id=v) for k, v in sorted(corpus.conditions.items())))
        w.execute("UPDATE predictions SET condition_id = (SELECT condition_id FROM temp.conditions c "
                  "WHERE c.prediction_id = predictions.id) WHERE id IN (SELECT prediction_id FROM temp.conditions)")
        self.keep(r for r in corpus.resolutions.values() if r.kept is None)  # from files, conditions, trackers
        if self.kept:
            w.execute("CREATE TEMP TABLE chosen (prediction_id TEXT PRIMARY KEY, key INTEGER NOT NULL)")
            w.insert("chosen", (dict(prediction_id=pid, key=r.kept) for pid, r in corpus.resolutions.items()))
            w.execute(f"INSERT INTO resolutions SELECT {', '.join(f'k.{c}' for c in RESOLUTION_COLUMNS)} FROM temp.chosen "
                      "c JOIN temp.kept k ON k.key = c.key ORDER BY c.prediction_id")
            w.execute("INSERT INTO evidence (prediction_id, position, url, title, domain) SELECT c.prediction_id, "
                      "e.position, e.url, e.title, e.domain FROM temp.chosen c JOIN temp.kept_evidence e ON e.key = c.key "
                      "ORDER BY c.prediction_id, e.position")
        w.insert("build_warnings", (dict(kind=kind, path=p.path, line=p.line, message=p.message)
                                    for kind, p in corpus.report.warnings))
        w.insert("build_info", [dict(key="build_date", value=corpus.build_date.isoformat()),
                                dict(key="inputs", value=json.dumps(corpus.inputs, sort_keys=True))])
        w.insert("claims", (c.row() for c in corpus.claims))
        ids = itertools.count(1)
        for _, facts in itertools.groupby(prediction_facts(corpus), key=itemgetter("post_id")):
            units = {}  # a post's score_sums rows (each is a post's): written with the post's scored predictions
            w.insert("scored_predictions", scored_rows(facts, corpus.resolutions, units, ids))
            w.insert("score_sums", units.values())


RESOLUTION_COLUMNS = ("prediction_id", "outcome", "value", "resolved_on", "verdict", "note", "judged_by", "source",
                      "source_path", "source_line", "review_post_id", "review_url")
KEPT = ("CREATE TEMP TABLE kept (key INTEGER PRIMARY KEY, prediction_id TEXT, outcome TEXT, value REAL, resolved_on "
        "TEXT, verdict TEXT, note TEXT, judged_by TEXT, source TEXT, source_path TEXT, source_line INTEGER, "
        "review_post_id TEXT, review_url TEXT)")
KEPT_EVIDENCE = "CREATE TEMP TABLE kept_evidence (key INTEGER, position INTEGER, url TEXT, title TEXT, domain TEXT)"


def source_tables(sites):
    """{table: rows} of the sources: what each site's config and predictions.toml say, and its license text."""
    return {"sources": [dict(id=s.id, title=s.title, base_url=s.base_url, content_root=s.content_root.name,
                             author=s.author, license=s.license, license_url=s.license_url, repository=s.repository,
                             commit=s.commit) for s in sites],
            "source_licenses": [dict(source_id=s.id, file=s.license_file.name,
                                     text=s.license_file.read_text(encoding="utf-8", errors="replace"))
                                for s in sites if s.license_file]}


def prediction_facts(corpus):
    """What the score tables need of each prediction, in build order."""
    for e in corpus.entries:
        resolves_by = e.resolves_by() or corpus.build_date
        for p in e.extraction.predictions if e.extraction else ():
            yield dict(id=p.id, post_id=e.id, position=p.position, year=e.year, section_id=p.section.id if p.section
                       else None, stated_percent=float(p.stated_percent), probability=float(p.stated_percent / 100),
                       resolves_by=(p.resolves_by or resolves_by).isoformat(), posted_on=e.post.date)


SCORED = ("true", "false", "partial")
SUMS = ("squared_errors", "squared_errors_squared", "log_score_bits", "log_score_bits_clipped",
        "log_score_bits_clipped_squared", "sum_probability", "sum_value", "sum_value_squared", "sum_probability_value",
        "sum_sharpness", "sum_folded_probability", "sum_folded_value", "z_numerator", "z_variance")


def scored_rows(facts, resolutions, units, ids=None):
    """scored_predictions rows, one per prediction fact, filling units with the score_sums rows.

    scored_predictions: one narrow row per prediction with its resolution (none = open). score_sums: for each
    post, each of its sections, and (over its predictions with a resolution: open ones have no date) each
    quarter of resolution and each horizon bucket, how many predictions by outcome and, over the resolved ones
    (f = probability, o = outcome value), the sums each score of the `scores` query is made of; added in
    prediction order as SQLite's sum() adds, and NULL when nothing is summed, as in SQL. ids numbers the
    score_sums rows (default: from 1)."""
    ids = itertools.count(len(units) + 1) if ids is None else ids
    for p in facts:
        r = resolutions.get(p["id"])
        outcome, o = (r.outcome, r.value) if r else ("open", None)
        f, year, post_id = p["probability"], p["year"], p["post_id"]
        resolved_on = r.resolved_on if r and outcome != "open" else None
        horizon = (resolved_on - p["posted_on"]).days if resolved_on and p["posted_on"] else None
        yield dict(prediction_id=p["id"], post_id=post_id, position=p["position"], year=year,
                   stated_percent=p["stated_percent"], probability=f, outcome=outcome, value=o,
                   resolves_by=p["resolves_by"], resolved_on=resolved_on.isoformat() if resolved_on else None,
                   horizon_days=horizon)
        terms = scoring.score_terms(f, o) if outcome in SCORED else {}
        keys = [("post", post_id, None, None, None), ("section", post_id, p["section_id"], None, None)]
        if outcome != "open":
            keys += [("quarter", post_id, None, scoring.quarter(resolved_on), None),
                     ("horizon", post_id, None, None, scoring.horizon_bucket(p["posted_on"], resolved_on))]
        for key in keys:
            add(units, key, year, outcome, terms, ids)


def add(units, key, year, outcome, terms, ids):
    """Count one prediction in the score_sums row of key (level, post, section, quarter, horizon)."""
    u = units.get(key)
    if u is None:
        level, post_id, section_id, period, horizon = key
        u = units[key] = dict(id=next(ids), level=level, post_id=post_id, section_id=section_id,
                              resolved_quarter=period, horizon_days_min=horizon, year=year, n=0, n_resolved=0,
                              n_open=0, n_void=0, n_ambiguous=0, certain_misses=0)
        u |= dict.fromkeys(SUMS)
    u["n"] += 1
    if not terms:
        u[f"n_{outcome}"] += 1
        return
    u["n_resolved"] += 1
    if "log_score_bits" not in terms:
        u["certain_misses"] += 1
    for k, v in terms.items():
        u[k] = v if u[k] is None else u[k] + v


def post_tables(e, authors, tags, build_date):
    """{table: rows} of one post; authors and tags (sets of ids) say which were written already."""
    post, ex = e.post, e.extraction
    resolves_by = e.resolves_by()
    t = {name: [] for name in ("posts", "authors", "post_authors", "tags", "post_tags", "sections", "references",
                               "predictions", "prediction_references")}
    t["posts"].append(dict(
        id=e.id, source_id=e.site.id, title=str(post.meta.get("title") or post.slug),
        date=post.date.isoformat() if post.date else None, year=e.year, url=e.url, section=post.section,
        slug=post.slug, kind=e.kind, series=", ".join(map(str, post.meta.get("series") or [])) or None,
        draft=int(post.meta.get("draft") is True), resolves_by=resolves_by.isoformat() if resolves_by else None,
        reviews_post_id=e.reviews_post_id, prediction_count=len(ex.predictions) if ex else 0,
        path=post.rel_path, checksum=post.checksum,
    ))
    named = set()
    for i, a in enumerate(post.meta.get("authors") or [], 1):
        a = a if isinstance(a, dict) else {"name": str(a)}
        aid = md.hugo_anchor(str(a.get("name") or "")) or f"author-{len(authors) + 1}"
        if aid in named:
            continue  # an author named twice is one author of the post
        named.add(aid)
        if aid not in authors:
            authors.add(aid)
            t["authors"].append(dict(id=aid, name=str(a.get("name")), link=a.get("link"), image=a.get("image")))
        t["post_authors"].append(dict(post_id=e.id, author_id=aid, position=i))
    seen = set()
    for i, name in enumerate(post.meta.get("tags") or [], 1):
        tid = md.hugo_anchor(str(name))
        if tid in seen:
            continue
        seen.add(tid)
        if tid not in tags:
            tags.add(tid)
            t["tags"].append(dict(id=tid, name=str(name)))
        group = post.tag_groups[i - 1] if i <= len(post.tag_groups) else None
        t["post_tags"].append(dict(post_id=e.id, tag_id=tid, tag_group=group, position=i))
    if not ex:
        return t
    for s in ex.sections:
        t["sections"].append(dict(id=s.id, post_id=e.id, anchor=s.anchor, title=s.title, level=s.level,
                                  parent_id=s.parent_id, position=s.position, line=s.line,
                                  url=f"{e.url}#{s.anchor}"))
    refs = {}
    for r in ex.references:
        refs[("fn", r.key) if r.kind == "footnote" else ("url", r.url)] = r.id
        t["references"].append(dict(id=r.id, post_id=e.id, kind=r.kind, key=r.key, title=r.title, url=r.url,
                                    domain=md.domain(r.url), line=r.line))
    for p in ex.predictions:
        t["predictions"].append(dict(
            id=p.id, post_id=e.id, section_id=p.section.id if p.section else None, position=p.position,
            kind=p.kind, text=p.text, passage_markdown=p.passage_markdown, commentary_markdown=p.commentary_markdown,
            probability_text=p.probability_text, stated_percent=float(p.stated_percent),
            probability=float(p.stated_percent / 100), parent_id=p.parent_id, depends_on_id=p.depends_on_id,
            condition_id=None,  # set by Rows.finish once the resolution files are read
            resolves_by=(p.resolves_by or resolves_by or build_date).isoformat(),
            url=f"{e.url}#{p.section.anchor}" if p.section else e.url, path=post.rel_path, line=p.line,
        ))
        linked = dict.fromkeys(refs[c] for c in p.citations if c in refs)
        t["prediction_references"].extend(dict(prediction_id=p.id, reference_id=r) for r in linked)
    return t


def lighten(entry):
    """Drop what only the post's own rows needed, keeping what matching verdicts and scoring use."""
    ex = entry.extraction
    if ex is None:
        return
    entry.references = len(ex.references)
    ex.sections, ex.references = [], []
    for p in ex.predictions:
        p.passage_markdown = p.commentary_markdown = None
        p.citations = ()
        if p.stated_percent == (whole := int(p.stated_percent)):
            p.stated_percent = whole  # a small int is shared, a Decimal is 104 bytes: the same number everywhere used
        p.probability_text = sys.intern(p.probability_text)  # "(70%)": a few dozen distinct texts
        if p.section is not None:  # matching reads its title, scoring its id
            p.section.anchor = p.section.parent_id = None
    post = entry.post  # the year and resolves_by still read the title, resolves_by and date
    post.meta = {k: post.meta[k] for k in ("title", "resolves_by") if k in post.meta}
    post.meta_lines, post.tag_groups = {}, []
