"""Forecast trackers' exports as sources: Fatebook's CSV export and PredictionBook's API pages or CSV export.

Each question becomes a post of its source (kind forecast; its tags are the post's tags, its resolve-by date
the post's), each forecast on it a prediction (kind ``tracker``), and its resolution a resolution (source
``tracker``; a resolution file still overrides it). Ids keep the tracker's own: ``<source>-<PredictionBook
id>`` for a PredictionBook question; Fatebook's export has no id, so a question is ``<source>-<8 hex digits
of its title and creation time>``, stable across re-exports. Formats: docs/styles.md and
../shared/notes/calibration.md.

- ``fatebook-csv``: one row per forecast; ``Forecast (scale = 0-1)``; Resolution YES / NO / AMBIGUOUS (blank:
  open); tags joined with ``"; "``; dates ``YYYY-MM-DD HH:MM:S`` (local time, seconds not zero-padded).
- ``predictionbook-json``: ``my_predictions`` pages: a list of predictions (or {"predictions": [...]}, or a list
  of such pages); each response with a ``confidence`` (0-100) is a forecast; ``outcome`` true / false / null
  (did the event happen), ``withdrawn`` true makes it void.
- ``predictionbook-csv``: the same fields without responses: only ``mean_confidence``, the mean of every
  response, which the rows say in their commentary.
"""

import csv
import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from . import resolutions as res
from .errors import display
from .extract import Extraction, Prediction
from .posts import Post
from .site import Site

KINDS = ("fatebook-csv", "predictionbook-json", "predictionbook-csv")
FATEBOOK = ("Question title", "Forecast (scale = 0-1)", "Forecast created at", "Question created at",
            "Question resolve by", "Resolution", "Resolved at", "Question notes", "Question tags")
PREDICTIONBOOK_CSV = ("id", "description", "created_at", "deadline", "outcome", "withdrawn", "mean_confidence")
SITES = {"fatebook-csv": ("Fatebook", "https://fatebook.io/"),
         "predictionbook-json": ("PredictionBook", "https://predictionbook.com/"),
         "predictionbook-csv": ("PredictionBook", "https://predictionbook.com/")}
FATEBOOK_OUTCOMES = {"YES": "true", "NO": "false", "AMBIGUOUS": "ambiguous", "": None}
MEAN_NOTE = ("PredictionBook's CSV export holds only mean_confidence: this probability is the mean of every "
             "response to the question, not one forecast.")


@dataclass(slots=True)
class Question:
    """One tracker question: what becomes a post, its forecasts and its resolution."""

    key: str
    title: str
    created: dt.date | None
    resolve_by: dt.date | None
    line: int
    url_path: str = ""
    tags: list = field(default_factory=list)
    notes: str | None = None
    forecasts: list = field(default_factory=list)  # (percent Decimal, text as written, line, note)
    outcome: str | None = None
    verdict: str | None = None
    resolved_on: dt.date | None = None


class Bad(Exception):
    def __init__(self, line, message):
        super().__init__(message)
        self.line = line


def read(name, kind, path, report):
    """(Site, [build.Entry-like (site, post, extraction)], {prediction id: Resolution}) of one tracker file."""
    path = Path(path)
    shown = display(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        report.error(shown, None, f"cannot read this {kind} file ({e}): check the source's path and that it is UTF-8")
        return None, [], {}
    try:
        questions = READERS[kind](text)
    except Bad as e:
        report.error(shown, e.line, str(e))
        return None, [], {}
    title, base = SITES[kind]
    site = Site(id=name, title=f"{name} ({title})", base_url=base, content_root=path)
    checksum = hashlib.sha256(text.encode()).hexdigest()
    made, resolved = [], {}
    for q in questions:
        made.append(entry(name, kind, site, path, shown, checksum, q, resolved))
    return site, made, resolved


def entry(name, kind, site, path, shown, checksum, q, resolved):
    post_id = f"{name}-{q.key}"
    meta = {"title": q.title, "tags": q.tags}
    if q.resolve_by:
        meta["resolves_by"] = q.resolve_by
    post = Post(path, path.name, shown, post_id, None, q.url_path, meta=meta, body=None, body_line=q.line,
                checksum=checksum, date=q.created)
    ex = Extraction()
    for n, (percent, text, line, note) in enumerate(q.forecasts, 1):
        pid = f"{post_id}/{n}"
        ex.predictions.append(Prediction(
            id=pid, section=None, position=n, kind="tracker", text=q.title, passage_markdown=q.title,
            probability_text=text, stated_percent=percent, line=line,
            commentary_markdown="\n\n".join(x for x in (q.notes, note) if x) or None, resolves_by=q.resolve_by))
        if q.outcome:
            resolved[pid] = res.Resolution(
                prediction_id=pid, outcome=q.outcome, value=res.VALUES.get(q.outcome), resolved_on=q.resolved_on,
                verdict=q.verdict, judged_by="author", source="tracker", source_path=path.name, source_line=line)
    return site, post, ex, kind


def date_of(value, line, what):
    """A date from an export's timestamp (ISO 8601, or Fatebook's "2024-03-05 14:07:5"); None when blank."""
    value = (value or "").strip()
    if not value:
        return None
    m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]|$)", value)
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except (TypeError, ValueError):
        raise Bad(line, f"{what} {value!r} is not a date (YYYY-MM-DD…): fix the export or remove the row") from None


def percent_of(value, scale, line, what):
    """A Decimal percent from a 0-1 (scale 100) or 0-100 (scale 1) number as exported."""
    try:
        percent = Decimal(str(value).strip().rstrip("%")) * scale
    except InvalidOperation:
        raise Bad(line, f"{what} {value!r} is not a number") from None
    if not 0 <= percent <= 100:
        raise Bad(line, f"{what} {value!r} is outside {'0-1' if scale == 100 else '0-100'}")
    percent = percent.normalize()
    return Decimal(int(percent)) if percent == percent.to_integral_value() else percent


def csv_rows(text, required, what):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise Bad(1, f"not {what}: the header lacks {', '.join(repr(c) for c in missing)} (export the file again)")
    for row in reader:
        yield reader.line_num, row


def fatebook(text):
    questions = {}
    for line, row in csv_rows(text, FATEBOOK, "a Fatebook CSV export"):
        title = row["Question title"].strip()
        created = row["Question created at"].strip()
        key = hashlib.sha256(f"{title}\0{created}".encode()).hexdigest()[:8]
        q = questions.get(key)
        if q is None:
            outcome = row["Resolution"].strip().upper()
            if outcome not in FATEBOOK_OUTCOMES:
                raise Bad(line, f"Resolution {row['Resolution']!r}: Fatebook writes YES, NO, AMBIGUOUS or nothing")
            q = questions[key] = Question(
                key, title, date_of(created, line, "Question created at"),
                date_of(row["Question resolve by"], line, "Question resolve by"), line,
                tags=[t.strip() for t in row["Question tags"].split(";") if t.strip()],
                notes=row["Question notes"].strip() or None, outcome=FATEBOOK_OUTCOMES[outcome],
                verdict=outcome or None, resolved_on=date_of(row["Resolved at"], line, "Resolved at"))
        percent = percent_of(row["Forecast (scale = 0-1)"], 100, line, "Forecast (scale = 0-1)")
        by = row.get("Forecast created by", "").strip()
        q.forecasts.append((percent, f"{percent}%", line, f"Forecast by {by} on {row['Forecast created at'].strip()}."
                            if by else None))
    return list(questions.values())


def predictionbook_json(text):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise Bad(e.lineno, f"not valid JSON ({e.msg}): export the my_predictions pages again") from None
    pages = data if isinstance(data, list) and data and all(isinstance(p, (list, dict)) and not is_prediction(p)
                                                            for p in data) else [data]
    items = []
    for page in pages:
        page = page.get("predictions", page) if isinstance(page, dict) and not is_prediction(page) else page
        items += page if isinstance(page, list) else [page]
    lines = line_finder(text)
    out = []
    for p in items:
        if not is_prediction(p):
            raise Bad(None, "a my_predictions page holds predictions with id, description and responses")
        line = lines(p["id"])
        q = pb_question(p, line)
        for r in p.get("responses") or []:
            if isinstance(r, dict) and r.get("confidence") is not None:
                percent = percent_of(r["confidence"], 1, line, "confidence")
                note = " ".join(x for x in (f"By {r['user_label']}." if r.get("user_label") else None,
                                            str(r.get("comment") or "").strip() or None) if x) or None
                q.forecasts.append((percent, f"{percent}%", line, note))
        out.append(q)
    return out


def is_prediction(p):
    return isinstance(p, dict) and "id" in p and "description" in p


def line_finder(text):
    """The line of a prediction's `"id": N` in the JSON text (for messages and rows)."""
    def line(pid):
        m = re.search(rf'"id"\s*:\s*{re.escape(json.dumps(pid))}\s*[,}}\n]', text)
        return text.count("\n", 0, m.start()) + 1 if m else None
    return line


def pb_question(p, line):
    outcome = p.get("outcome")
    if isinstance(outcome, str):
        outcome = {"true": True, "false": False, "": None}.get(outcome.strip().lower(), outcome)
    if outcome not in (True, False, None):
        raise Bad(line, f"outcome {outcome!r}: PredictionBook writes true, false or null")
    withdrawn = str(p.get("withdrawn")).strip().lower() == "true"
    state = "void" if withdrawn else {True: "true", False: "false", None: None}[outcome]
    verdict = "withdrawn" if withdrawn else None if outcome is None else str(outcome).lower()
    return Question(str(p["id"]), str(p["description"]).strip(), date_of(p.get("created_at"), line, "created_at"),
                    date_of(p.get("deadline"), line, "deadline"), line, url_path=f"predictions/{p['id']}",
                    outcome=state, verdict=verdict)


def predictionbook_csv(text):
    out = []
    for line, row in csv_rows(text, PREDICTIONBOOK_CSV, "a PredictionBook CSV export"):
        q = pb_question(row, line)
        if row["mean_confidence"].strip():
            percent = percent_of(row["mean_confidence"], 1, line, "mean_confidence")
            q.forecasts.append((percent, f"{percent}% (mean_confidence)", line, MEAN_NOTE))
        out.append(q)
    return out


READERS = {"fatebook-csv": fatebook, "predictionbook-json": predictionbook_json, "predictionbook-csv": predictionbook_csv}
