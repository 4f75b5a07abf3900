"""The pipeline: read posts, extract predictions, read verdicts and resolution files, make rows.

Everything here is pure (no database): ``collect`` returns a Corpus, ``rows`` turns it into table rows,
and database.write stores them. Errors are gathered for the whole build and raised together.
"""

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import markdown as md
from . import resolutions as res
from . import reviews
from .errors import Report
from .extract import extract
from .posts import as_date, discover, display, read_post
from .site import load_site

YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")


@dataclass
class Entry:
    site: object
    post: object
    id: str
    kind: str = "article"
    extraction: object = None
    reviews_post_id: str | None = None
    verdicts: list = field(default_factory=list)

    @property
    def url(self):
        return self.site.base_url + self.post.url_path

    @property
    def year(self):
        m = YEAR.search(str(self.post.meta.get("title") or ""))
        if m:
            return int(m[0])
        return self.post.date.year if self.post.date else None

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


@dataclass
class Corpus:
    sites: list
    entries: list
    resolutions: dict  # prediction id -> res.Resolution
    conditions: dict  # prediction id -> condition id
    report: Report
    skipped_drafts: int = 0
    build_date: dt.date = field(default_factory=dt.date.today)

    @property
    def predictions(self):
        return [p for e in self.entries if e.extraction for p in e.extraction.predictions]


def collect(content_roots, resolutions_dir=None, drafts=False, base_url=None, progress=None, build_date=None,
            cache=None):
    """Read every post under the content roots, and the resolutions; raise InputError on bad input.

    With a cache.Cache, unchanged posts' per-post work is reused instead of parsed again."""
    report = Report()
    sites = [load_site(root, base_url=base_url) for root in content_roots]
    files = [(site, path, rel) for site in sites for path, rel in discover(site.content_root)]
    entries, skipped = [], 0
    for n, (site, path, rel) in enumerate(files, 1):
        if progress:
            progress(n, len(files))
        post = read_post(path, rel, report)
        if post is None:
            continue
        if post.meta.get("draft") is True and not drafts:
            skipped += 1
            report.warn("draft", display(path), None, "draft skipped (build with --drafts to include it)")
            continue
        entries.append(Entry(site, post, post.slug))
    check_unique_posts(entries, report)
    by_path = {(e.site.id, e.post.url_path): e for e in entries}
    review_candidates = []
    for e in entries:
        if reviews.looks_like_review(e.post.body):
            review_candidates.append(e)
        else:
            read_predictions(e, report, cache)
    for e in review_candidates:
        read_review(e, by_path, report, cache)
    check_unique_predictions(entries, report)
    report.raise_errors()
    known = {p.id: p for e in entries if e.extraction for p in e.extraction.predictions}
    posts = {e.id for e in entries}
    from_reviews = verdict_resolutions(entries, report)
    from_files, conditions = res.load_dir(resolutions_dir, known, posts, report) if resolutions_dir else ({}, {})
    report.raise_errors()
    merged = res.merge(from_reviews, from_files, conditions, report)
    warn_ungraded(entries, merged, report)
    return Corpus(sites, entries, merged, conditions, report, skipped, build_date or dt.date.today())


def read_predictions(entry, report, cache=None):
    post = entry.post
    entry.extraction = cache.get(entry, "forecast") if cache else None
    if entry.extraction is None:
        bare = bool(post.meta.get("forecasts")) or "Probability" in post.body
        entry.extraction, _ = extract(entry.id, post.shown, post.body, post.body_line, report, bare=bare)
        if cache:
            cache.put(entry, "forecast", entry.extraction)
    if entry.extraction.predictions:
        entry.kind = "forecast"
    post.body = None  # read: the text is not needed again


def review_work(entry):
    """What a review post says on its own: sections, references, linked post paths, verdicts, problems."""
    post, own = entry.post, Report()
    extraction, tokens = extract(entry.id, post.shown, post.body, post.body_line, own, scan=False)
    hrefs = [r.url for r in extraction.references if r.kind == "inline"]
    paths = reviews.linked_paths(post.body, entry.site.base_url, hrefs)
    verdicts = reviews.read_verdicts(tokens, extraction.sections, post.body_line, post.shown, own)
    return extraction, paths, verdicts, own.errors


def read_review(entry, by_path, report, cache=None):
    """A post with verdicts grades the first forecast post it links; without one it is an article."""
    work = cache.get(entry, "review") if cache else None
    if work is None:
        work = review_work(entry)
        if cache and not work[3]:
            cache.put(entry, "review", work)
    extraction, paths, verdicts, errors = work
    targets = [by_path.get((entry.site.id, p)) for p in paths]
    target = next((t for t in targets if t and t.kind == "forecast"), None)
    if target is None:
        return read_predictions(entry, report, cache)
    report.errors += errors
    entry.extraction, entry.kind, entry.reviews_post_id = extraction, "review", target.id
    entry.verdicts = reviews.match(verdicts, target.extraction.predictions, entry.post.shown, report)
    entry.post.body = None


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


def verdict_resolutions(entries, report):
    found = {}
    for e in entries:
        for pid, v in e.verdicts.items() if isinstance(e.verdicts, dict) else ():
            found[pid] = res.Resolution(
                prediction_id=pid, outcome=v.outcome, value=res.VALUES.get(v.outcome),
                resolved_on=e.post.date, verdict=v.words, note=v.note or None, judged_by="author",
                source="review", source_path=e.post.rel_path, source_line=v.line,
                review_post_id=e.id, review_url=f"{e.url}#{v.anchor}" if v.anchor else e.url,
                evidence=[res.Evidence(u, t or None) for u, t in v.evidence],
            )
    return found


def check_unique_posts(entries, report):
    seen = {}
    for e in entries:
        if e.id in seen:
            report.error(e.post.shown, None, f"two posts have the slug {e.id!r} (also {seen[e.id]}): "
                         "their prediction ids would collide; set a distinct `slug:` in one's front matter")
        seen.setdefault(e.id, e.post.shown)


def check_unique_predictions(entries, report):
    seen = {}
    for e in entries:
        for p in e.extraction.predictions if e.extraction else ():
            if p.id in seen:
                report.error(e.post.shown, p.line, f"two predictions have the id {p.id!r} (also {seen[p.id]}): "
                             "give one of their sections a distinct heading")
            seen.setdefault(p.id, f"{e.post.shown}:{p.line}")


def rows(corpus):
    """{table: [row, ...]} for database.write, in a stable order."""
    t = {name: [] for name in ("sources", "posts", "authors", "post_authors", "tags", "post_tags", "sections",
                               "predictions", "references", "prediction_references", "resolutions", "evidence",
                               "build_warnings", "build_info")}
    for s in corpus.sites:
        t["sources"].append(dict(id=s.id, title=s.title, base_url=s.base_url, content_root=s.content_root.name,
                                 license=s.license, license_url=s.license_url, repository=s.repository,
                                 commit=s.commit))
    authors, tags = {}, {}
    for e in corpus.entries:
        post_rows(e, t, authors, tags, corpus)
    t["authors"], t["tags"] = list(authors.values()), list(tags.values())
    for pid, r in sorted(corpus.resolutions.items()):
        t["resolutions"].append(r.row())
        t["evidence"].extend(dict(prediction_id=pid, position=i, url=ev.url, title=ev.title,
                                  domain=md.domain(ev.url)) for i, ev in enumerate(r.evidence, 1))
    for kind, p in corpus.report.warnings:
        t["build_warnings"].append(dict(kind=kind, path=p.path, line=p.line, message=p.message))
    t["build_info"] = [dict(key="build_date", value=corpus.build_date.isoformat())]
    t["scored_predictions"], t["score_sums"] = scored_rows(t)
    return t


SCORED = ("true", "false", "partial")
SUMS = ("squared_errors", "log_score_bits", "sum_probability", "sum_value", "sum_probability_value", "z_numerator",
        "z_variance")


def scored_rows(t):
    """(scored_predictions, score_sums) rows, from the prediction, resolution and post rows.

    scored_predictions: one narrow row per prediction with its resolution (none = open). score_sums: for each
    post, then each of its sections, how many predictions by outcome and, over the resolved ones
    (f = probability, o = outcome value), the sums each score of the `scores` query is made of; added in
    prediction order as SQLite's sum() adds, and NULL when nothing is summed, as in SQL."""
    years = {p["id"]: p["year"] for p in t["posts"]}
    resolved = {r["prediction_id"]: (r["outcome"], r["value"]) for r in t["resolutions"]}
    predictions, units = [], {}
    for p in t["predictions"]:
        outcome, o = resolved.get(p["id"], ("open", None))
        f, year = p["probability"], years[p["post_id"]]
        predictions.append(dict(prediction_id=p["id"], post_id=p["post_id"], position=p["position"], year=year,
                                stated_percent=p["stated_percent"], probability=f, outcome=outcome, value=o,
                                resolves_by=p["resolves_by"]))
        terms = score_terms(f, o) if outcome in SCORED else {}
        for key in (("post", p["post_id"], None), ("section", p["post_id"], p["section_id"])):
            u = units.get(key)
            if u is None:
                u = units[key] = dict(id=len(units) + 1, level=key[0], post_id=key[1], section_id=key[2], year=year,
                                      n=0, n_resolved=0, n_open=0, n_void=0, n_ambiguous=0, certain_misses=0)
                u |= dict.fromkeys(SUMS)
            u["n"] += 1
            if not terms:
                u[f"n_{outcome}"] += 1
                continue
            u["n_resolved"] += 1
            if "log_score_bits" not in terms:
                u["certain_misses"] += 1
            for k, v in terms.items():
                u[k] = v if u[k] is None else u[k] + v
    return predictions, list(units.values())


def score_terms(f, o):
    """What one resolved prediction adds to each sum of score_sums (the expressions of the `scores` query)."""
    terms = dict(squared_errors=(f - o) * (f - o), sum_probability=f, sum_value=o, sum_probability_value=f * o,
                 z_numerator=(o - f) * (1 - 2 * f), z_variance=(1 - 2 * f) * (1 - 2 * f) * f * (1 - f))
    if not ((f == 1 and o < 1) or (f == 0 and o > 0)):  # a certain miss scores minus infinity: counted apart
        terms["log_score_bits"] = 1 + (o * math.log2(f) if o > 0 else 0) + ((1 - o) * math.log2(1 - f) if o < 1 else 0)
    return terms


def post_rows(e, t, authors, tags, corpus):
    post, ex = e.post, e.extraction
    resolves_by = e.resolves_by()
    t["posts"].append(dict(
        id=e.id, source_id=e.site.id, title=str(post.meta.get("title") or post.slug),
        date=post.date.isoformat() if post.date else None, year=e.year, url=e.url, section=post.section,
        slug=post.slug, kind=e.kind, series=", ".join(map(str, post.meta.get("series") or [])) or None,
        draft=int(post.meta.get("draft") is True), resolves_by=resolves_by.isoformat() if resolves_by else None,
        reviews_post_id=e.reviews_post_id, prediction_count=len(ex.predictions) if ex else 0,
        path=post.rel_path, checksum=post.checksum,
    ))
    for i, a in enumerate(post.meta.get("authors") or [], 1):
        a = a if isinstance(a, dict) else {"name": str(a)}
        aid = md.hugo_anchor(str(a.get("name") or "")) or f"author-{len(authors) + 1}"
        authors.setdefault(aid, dict(id=aid, name=str(a.get("name")), link=a.get("link"), image=a.get("image")))
        t["post_authors"].append(dict(post_id=e.id, author_id=aid, position=i))
    seen = set()
    for i, name in enumerate(post.meta.get("tags") or [], 1):
        tid = md.hugo_anchor(str(name))
        if tid in seen:
            continue
        seen.add(tid)
        tags.setdefault(tid, dict(id=tid, name=str(name)))
        group = post.tag_groups[i - 1] if i <= len(post.tag_groups) else None
        t["post_tags"].append(dict(post_id=e.id, tag_id=tid, tag_group=group, position=i))
    if not ex:
        return
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
            condition_id=corpus.conditions.get(p.id),
            resolves_by=resolves_by.isoformat() if resolves_by else corpus.build_date.isoformat(),
            url=f"{e.url}#{p.section.anchor}" if p.section else e.url, path=post.rel_path, line=p.line,
        ))
        linked = dict.fromkeys(refs[c] for c in p.citations if c in refs)
        t["prediction_references"].extend(dict(prediction_id=p.id, reference_id=r) for r in linked)


def default_content():
    """The bundled content root (the seed post), next to the package in a source checkout."""
    return Path(__file__).resolve().parents[2] / "site" / "content"
