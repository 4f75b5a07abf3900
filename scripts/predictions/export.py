"""Bulk exports of data.db for use without our server, written to build/:

- ``<name>.csv`` for every table and public view: UTF-8, a header row, ISO dates, NULL as an empty field,
  rows ordered by primary key (views: the key in VIEW_KEYS, else every column), "\\n" line ends;
- ``<name>.jsonl``: the same rows as JSON Lines (one object per row, NULL as null, numbers as numbers);
- ``datapackage.json``: a Frictionless Tabular Data Package (v1) describing the CSV files: field types from
  the SQLite types, descriptions from metadata.yml (the file Datasette shows, so the two cannot drift),
  primary and foreign keys read from the database, license, sources, contributors, citation, a version
  (package version + content hash) and ``created`` (the build date stored in the database, never now);
- ``README.md`` and ``LICENSE.md`` (CC BY-NC 4.0 with attribution: the license travels with the files),
  and ``SHA256SUMS``.

Exported: every table but the full-text index (``*_fts*``), SQLite's own tables and ``build_info`` (its one
row, the build date, is the package's ``created``); ``build_warnings`` is exported (what the build skipped).
The same database gives byte-identical files. The folder is written as outfolder.py says: only a new folder or
one an export made, swapped in whole (a failed export leaves the previous one); files whose content did not
change keep their inode and time, files of a table no longer exported are removed, other files are left alone.
``--excel-safe`` defuses cells a spreadsheet would run as formulas (the CSV then no longer round-trips exactly).
"""

import csv
import datetime as dt
import hashlib
import io
import json
import re
from importlib.metadata import version as package_version
from pathlib import Path

import sqlite_utils
import yaml

from . import outfolder
from .site_settings import METADATA

INTERNAL = {"build_info"}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAINTAINERS = "the maintainers of the predictions project"
# Views declare no keys in SQLite: state them here (frictionless validation checks them against the rows).
VIEW_KEYS = {
    "prediction_status": (["prediction_id"], {"prediction_id": "predictions", "post_id": "posts", "section_id": "sections",
                                              "source_id": "sources"}),
    "prediction_overview": (["prediction_id"], {"prediction_id": "predictions", "post_id": "posts",
                                                "source_id": "sources"}),
    "claim_comparison": (["claim_id"], {"claim_id": "claims", "post_id": "posts"}),
}
FATEBOOK_FILE = "fatebook.csv"  # written by --format fatebook; the default export leaves it alone
# Fatebook's spreadsheet import (lib/web/import_router.ts) maps columns the user picks: the forecast in percent
# (a "%" is stripped, then /100), resolution yes/no (anything else not blank = AMBIGUOUS), tags comma-separated.
FATEBOOK_COLUMNS = ("Question", "Forecast", "Created at", "Resolve by", "Resolution", "Resolved at", "Tags", "Notes")
FATEBOOK_RESOLUTION = {"true": "YES", "false": "NO", "open": "", "void": "AMBIGUOUS", "ambiguous": "AMBIGUOUS",
                       "partial": "AMBIGUOUS"}
DESCRIPTION = ("Predictions stated with a probability in blog posts, how each one resolved (with the verdict and its "
               "evidence), and the posts, sections, tags, authors and references they come from. Every row traces "
               "back to a post, a line and a verdict.")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LICENSE_TITLES = {"CC BY-NC 4.0": "Creative Commons Attribution-NonCommercial 4.0 International"}


def load_metadata(path=METADATA):
    """Datasette metadata: a dict as given, or read from a YAML/JSON file."""
    if isinstance(path, dict):
        return path
    path = Path(path)
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def exported(db):
    """Tables then views to export, in the database's own order."""
    tables = db.table_names()
    fts = [t for t in tables if "VIRTUAL TABLE" in (db[t].schema or "").upper()]
    hidden = {t for t in tables for f in fts if t == f or t.startswith(f + "_")}
    keep = [t for t in tables if t not in hidden and t not in INTERNAL and not t.startswith("sqlite_")]
    return keep + db.view_names()


def primary_key(db, name):
    if name in VIEW_KEYS:
        return VIEW_KEYS[name][0]
    return None if name in db.view_names() else db[name].pks


def foreign_keys(db, name):
    if name in db.view_names():
        return [{"fields": [c], "reference": {"resource": t, "fields": primary_key(db, t)}}
                for c, t in VIEW_KEYS.get(name, ([], {}))[1].items()]
    fks = sorted(db[name].foreign_keys, key=lambda fk: fk.columns)
    return [{"fields": list(fk.columns),
             "reference": {"resource": "" if fk.other_table == name else fk.other_table, "fields": list(fk.other_columns)}}
            for fk in fks]


def read(db, name):
    """(columns, rows) in a stable order: by primary key, or by every column for a view without one."""
    columns = [c.name for c in db[name].columns]
    order = primary_key(db, name) or columns
    cur = db.execute(f"SELECT * FROM [{name}] ORDER BY " + ", ".join(f"[{c}]" for c in order))
    return columns, [tuple(r) for r in cur.fetchall()]


def field_type(declared, values):
    """Frictionless type from the column's declared SQLite type, or from its values where none is declared."""
    declared = declared.upper()
    present = [v for v in values if v is not None]
    if "INT" in declared:
        return "integer"
    if any(k in declared for k in ("REAL", "FLOA", "DOUB", "NUM")):
        return "number"
    if not declared and present and all(isinstance(v, int) for v in present):
        return "integer"
    if not declared and present and all(isinstance(v, int | float) for v in present):
        return "number"
    if present and all(is_date(v) for v in present):
        return "date"
    return "string"


def is_date(value):
    try:
        return isinstance(value, str) and bool(ISO_DATE.fullmatch(value)) and bool(dt.date.fromisoformat(value))
    except ValueError:
        return False


def schema(db, name, columns, rows, described):
    notnull = {c.name for c in db[name].columns if c.notnull}
    declared = {r[1]: r[2] for r in db.execute(f"PRAGMA table_info([{name}])")}
    fields = []
    for i, col in enumerate(columns):
        f = {"name": col, "type": field_type(declared.get(col) or "", [r[i] for r in rows])}
        if described.get(col):
            f["description"] = described[col]
        if col in notnull:
            f["constraints"] = {"required": True}
        fields.append(f)
    s = {"fields": fields, "missingValues": [""]}
    if pk := primary_key(db, name):
        s["primaryKey"] = pk
    if fks := foreign_keys(db, name):
        s["foreignKeys"] = fks
    return s


def to_csv(columns, rows, excel_safe=False):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    if excel_safe:
        rows = ([excel_cell(v) for v in r] for r in rows)
    w.writerows(rows)  # None is written as an empty field, floats in their shortest exact form
    return buf.getvalue().encode("utf-8")


def excel_cell(value):
    """A text cell a spreadsheet would run as a formula, prefixed with ' (OWASP's advice for CSV injection)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def to_jsonl(columns, rows):
    return "".join(json.dumps(dict(zip(columns, r, strict=True)), ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def facts(db):
    """What the package says about where the data comes from, read from the database."""
    sources = list(db.query("SELECT * FROM sources ORDER BY id"))
    authors = [r["name"] for r in db.query(
        "SELECT DISTINCT a.name FROM authors a JOIN post_authors pa ON pa.author_id = a.id "
        "JOIN posts p ON p.id = pa.post_id WHERE p.kind = 'forecast' ORDER BY a.name")]
    if not authors:
        authors = [r["name"] for r in db.query("SELECT name FROM authors ORDER BY name")]
    row = db.execute("SELECT value FROM build_info WHERE key = 'build_date'").fetchone()
    return sources, authors, row[0] if row else None


def licenses(sources, meta):
    found = {(s["license"], s["license_url"]) for s in sources if s["license"]}
    if not found and meta.get("license"):
        found = {(meta["license"], meta.get("license_url"))}
    return [{"name": re.sub(r"\s+", "-", name), "title": LICENSE_TITLES.get(name, name), **({"path": url} if url else {})}
            for name, url in sorted(found, key=lambda x: (x[0], x[1] or ""))]


def package(db, meta, data, url=None):
    """The datapackage.json dict; `data` maps each exported name to (columns, rows, CSV bytes); `url` is
    where the dataset is published (default: metadata's about_url when it is absolute)."""
    sources, authors, build_date = facts(db)
    tables = ((meta.get("databases") or {}).get("data") or {}).get("tables") or {}
    content = sha256("".join(f"{sha256(d[2])}  {n}.csv\n" for n, d in data.items()).encode())
    title = meta.get("title") or "Predictions"
    version = f"{package_version('predictions')}+{content[:12]}"
    about = meta.get("about_url") or ""
    homepage = url or (about if about.startswith(("http://", "https://")) else None)
    lic = licenses(sources, meta)
    pkg = {
        "profile": "tabular-data-package",
        "name": re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
        "title": title,
        "description": meta.get("description") or DESCRIPTION,
        "version": version,
        "created": f"{build_date}T00:00:00Z" if build_date else None,
        "homepage": homepage,
        "licenses": lic,
        "sources": source_list(sources),
        "contributors": [{"title": a, "role": "author"} for a in authors] + [{"title": MAINTAINERS, "role": "maintainer"}],
        "keywords": ["forecasts", "predictions", "calibration", "Brier score"],
        "citation": citation(title, authors, version, homepage, sources, lic, build_date),
        "resources": [],
    }
    pkg = {k: v for k, v in pkg.items() if v not in (None, "", [])} | {"resources": []}
    for name, (columns, rows, csv_bytes) in data.items():
        info = tables.get(name) or {}
        r = {"name": name, "path": f"{name}.csv", "profile": "tabular-data-resource", "format": "csv",
             "mediatype": "text/csv", "encoding": "utf-8", "bytes": len(csv_bytes), "hash": f"sha256:{sha256(csv_bytes)}"}
        if info.get("title"):
            r["title"] = info["title"]
        if info.get("description"):
            r["description"] = info["description"]
        r["schema"] = schema(db, name, columns, rows, info.get("columns") or {})
        pkg["resources"].append(r)
    return pkg


# What a Creative Commons license adds to attribution: (marker in its name, label, the duty in words)
RESTRICTIONS = (("-NC", None, "non-commercial use only"),
                ("-SA", "ShareAlike", "share what you make from it under the same license"))


def restrictions(license_name):
    """The RESTRICTIONS a license's name carries (CC BY-NC 4.0, CC-BY-SA-4.0, ...)."""
    name = re.sub(r"[\s-]+", "-", license_name or "").upper()
    return [r for r in RESTRICTIONS if r[0] in name]


def duties(license_name):
    """What a license obliges a reuser to do, in words (credit, then NonCommercial, ShareAlike)."""
    if re.sub(r"\s+", "", license_name or "").upper() == "MIT":
        return "keep the copyright and license notice with the data"
    return "; ".join(["credit the author and link to the source and the license",
                      *(text for _, _, text in restrictions(license_name))])


def source_list(sources):
    """The package's sources: each blog with its license, what it obliges, and which rows it covers."""
    out = []
    for s in sources:
        out.append({"title": s["title"], "path": s["base_url"], "license": s["license"],
                    "license_url": s["license_url"], "obligations": duties(s["license"]),
                    "rows": f"every row whose source_id is {s['id']!r} (sources, posts; predictions, resolutions "
                            "and the rest through their post)"})
        if s["repository"]:
            at = f" at commit {s['commit']}" if s["commit"] else ""
            path = f"{s['repository'].rstrip('/')}/tree/{s['commit']}" if s["commit"] else s["repository"]
            out.append({"title": f"{s['title']}: source repository{at}", "path": path})
    return out


def citation(title, authors, version, url, sources, lic, build_date):
    year = f" ({build_date[:4]})" if build_date else ""
    who = ", ".join(authors) or "unknown author"
    where = f" {url}." if url else ""
    blogs = "; ".join(f"{s['title']}, {s['base_url']}" for s in sources)
    names = "; ".join(x["name"] for x in lic) or "see LICENSE.md"
    return (f"{who} (forecasts); {MAINTAINERS} (dataset){year}. {title}, version {version}.{where} "
            f"Forecasts from {blogs}. License: {names}.")


EXCEL_SAFE_NOTE = """
These CSV files were written with `--excel-safe`: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return has a `'` put before it, so a spreadsheet never runs it as a formula. They no longer hold the
exact values: use the `.jsonl` files (unchanged) or an export without `--excel-safe` to compute with them.
"""


def readme(pkg, names, excel_safe=False):
    src = "\n".join(f"- {s['title']}: <{s['path']}>" for s in pkg.get("sources", []))
    lic = "\n".join(f"- {x['title']} ({x['name']}): <{x.get('path', '')}>" for x in pkg.get("licenses", []))
    authors = ", ".join(c["title"] for c in pkg["contributors"] if c["role"] == "author")
    files = "\n".join(f"- `{n}.csv`, `{n}.jsonl`" + (f": {d}" if (d := r.get('description')) else "")
                      for n, r in zip(names, pkg["resources"], strict=True))
    return f"""# {pkg['title']}: bulk exports

{pkg.get('description', '')}

Forecasts by **{authors}**, extracted from the blog with its verdicts and resolutions, by {MAINTAINERS}.

## License and attribution

The data is licensed under:

{lic}

Attribution: credit {authors} as the author of the forecasts and link to the sources below. {obligations(pkg)}
The full license text is in `LICENSE.md`.

Sources:

{src}

## Files

`datapackage.json` describes every CSV file (Frictionless Tabular Data Package: field types and descriptions,
primary and foreign keys, license, sources, version and creation date, and a citation). Each CSV has a
`.jsonl` twin with the same rows in the same order (NULL as `null`). `SHA256SUMS` checks the downloads
(`sha256sum -c SHA256SUMS`).

{files}

CSV: UTF-8, a header row, dates as `YYYY-MM-DD`, an empty field is NULL, rows ordered by primary key.
{EXCEL_SAFE_NOTE if excel_safe else ""}
## How to cite

> {pkg['citation']}

The same text is the `citation` of `datapackage.json`; the version is the software version plus a hash of
the data, so two releases with the same version hold the same rows.
"""


def obligations(pkg):
    """What the licenses oblige a reuser to do beyond attribution, in a sentence."""
    found = {r for x in pkg.get("licenses") or [] for r in restrictions(x["name"])}
    sentences = [f"{label}: {text}." if label else f"{text[0].upper()}{text[1:]}."
                 for restriction in RESTRICTIONS if restriction in found for _, label, text in [restriction]]
    return " ".join(sentences) or "Reuse is allowed under the license's terms."


def license_md(pkg, legal_codes=()):
    authors = ", ".join(c["title"] for c in pkg["contributors"] if c["role"] == "author")
    lic = pkg.get("licenses") or []
    head = "\n".join(f"- {x['title']} ({x['name']}): <{x.get('path', '')}>" for x in lic) or "- no license is declared"
    src = "\n".join(f"- {s['title']}: <{s['path']}>" for s in pkg.get("sources", []))
    text = f"""# License

The data in this folder (every CSV, JSON Lines and JSON file) is derived from the blog below and carries its
license:

{head}

Attribution: the forecasts are by **{authors}**; the dataset is prepared by {MAINTAINERS}.

{src}

{obligations(pkg)} Give credit, link to the license and indicate if changes were made.
"""
    for source_id, file, legal in legal_codes:
        text += f"\n## Legal code: {source_id} ({file})\n\n```text\n{legal.strip()}\n```\n"
    return text


def export_all(db_path, out, metadata=METADATA, url=None, excel_safe=False):
    """Write every export file into folder `out`, swapped in whole (see outfolder.py); returns ({file name:
    bytes}, whether anything changed, the entries of `out` not written by the export, left alone)."""
    db = sqlite_utils.Database(Path(db_path))
    names = exported(db)
    data, outputs = {}, {}
    for name in names:
        columns, rows = read(db, name)
        data[name] = (columns, rows, to_csv(columns, rows, excel_safe))
        outputs[f"{name}.csv"] = data[name][2]
        outputs[f"{name}.jsonl"] = to_jsonl(columns, rows)
    pkg = package(db, load_metadata(metadata), data, url)
    legal_codes = [tuple(r) for r in db.execute("SELECT source_id, file, text FROM source_licenses ORDER BY source_id")]
    db.close()
    outputs["datapackage.json"] = (json.dumps(pkg, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    outputs["README.md"] = readme(pkg, names, excel_safe).encode("utf-8")
    outputs["LICENSE.md"] = license_md(pkg, legal_codes).encode("utf-8")
    outputs["SHA256SUMS"] = "".join(f"{sha256(d)}  {n}\n" for n, d in sorted(outputs.items())).encode()
    changed, others = outfolder.write_folder(out, outputs, "predictions export", keep=lambda name: name == FATEBOOK_FILE)
    return outputs, changed, others


def fatebook_rows(db_path):
    """One row per prediction for Fatebook's spreadsheet import: the question is the prediction's text (with
    its topic), the forecast its stated percent; Fatebook has no void or partial: both import as AMBIGUOUS."""
    conn = sqlite_utils.Database(Path(db_path)).conn
    sql = """
        SELECT s.text, s.stated_percent, po.date, s.resolves_by, s.outcome, s.resolved_on, s.url, s.prediction_id,
               s.verdict,
               (SELECT group_concat(name, ', ') FROM (SELECT replace(t.name, ',', ' ') AS name FROM post_tags pt
                JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = s.post_id ORDER BY pt.position)) AS tags
        FROM prediction_status s JOIN posts po ON po.id = s.post_id JOIN predictions p ON p.id = s.prediction_id
        ORDER BY s.post_id, p.position"""
    for text, pct, created, by, outcome, resolved, url, pid, verdict, tags in conn.execute(sql):
        notes = f"{url} ({pid})" + (f"; verdict: {verdict}" if verdict else "") + (
            "; resolved partial, void or ambiguous here" if FATEBOOK_RESOLUTION[outcome] == "AMBIGUOUS" else "")
        yield [text, f"{pct:g}%", created or "", by or "", FATEBOOK_RESOLUTION[outcome], resolved or "", tags or "",
               notes]
    conn.close()


def export_fatebook(db_path, out):
    """Write <out>/fatebook.csv (the folder's other export files kept, see outfolder.py); returns (how many
    predictions it holds, the entries of `out` not written by the export, left alone)."""
    rows = list(fatebook_rows(db_path))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FATEBOOK_COLUMNS)
    writer.writerows(rows)
    _, others = outfolder.write_folder(out, {FATEBOOK_FILE: buffer.getvalue().encode("utf-8")}, "predictions export",
                                       keep=lambda name: True)
    return len(rows), others
