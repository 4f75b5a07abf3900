"""The Datasette metadata of a dataset's site: the project's own (queries, descriptions) plus what the dataset is.

The package's ``web/metadata.yml`` describes every table and canned query. What belongs to the dataset comes
from its config and from the ``sources`` table of the database it serves: the title, the license (each
source's, when they differ) and the sources with their links, so a site never credits a blog it does not
contain. Last, the dataset folder's own ``metadata.yml``, when it has one, is merged over the result (a
mapping key by key, anything else replaced).
"""

import html
import sqlite3
from pathlib import Path

import yaml

from . import site_settings
from .export import duties


def merge(base, extra):
    """``extra`` merged over ``base``: mappings key by key, every other value replaced."""
    if not isinstance(base, dict) or not isinstance(extra, dict):
        return extra
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(base[key], value) if key in base else value
    return out


def read_sources(db_path):
    conn = sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sources ORDER BY id")]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def licenses(dataset, sources):
    """[(name, url)] of the data: the dataset's own when it states one, else each source's (distinct)."""
    if dataset is not None and dataset.license:
        return [(dataset.license, dataset.license_url)]
    found = []
    for s in sources:
        pair = (s.get("license") or "license not stated", s.get("license_url"))
        if pair not in found:
            found.append(pair)
    return found


def dataset_metadata(dataset, sources):
    """The top-level keys that say what this dataset is and whose it is."""
    one = sources[0] if len(sources) == 1 else None
    title = (dataset.title if dataset else None) or (f"{one['title']}: forecasts" if one else "Published forecasts")
    lic = licenses(dataset, sources)
    meta = {"title": title, "about": "this dataset", "about_url": "/about"}
    if len(lic) == 1:
        meta["license"], meta["license_url"] = lic[0][0], lic[0][1]
    else:
        meta["license"] = "; ".join(name for name, _ in lic) + " (each source's own: see /about)"
        meta["license_url"] = "/about"
    if one:
        meta["source"] = one["title"] + (f" ({one['author']})" if one.get("author") else "")
        meta["source_url"] = one["base_url"]
    elif sources:
        meta["source"] = ", ".join(s["title"] for s in sources)
        meta["source_url"] = "/data/sources"
    items = "".join(
        f'<li><a href="{html.escape(s["base_url"])}">{html.escape(s["title"])}</a>'
        + (f' by {html.escape(s["author"])}' if s.get("author") else "")
        + (f': <a href="{html.escape(s["license_url"])}">{html.escape(s["license"])}</a>' if s.get("license_url")
           and s.get("license") else f': {html.escape(s["license"] or "license not stated")}')
        + f' ({html.escape(duties(s.get("license")))})'
        + (f' (<a href="{html.escape(s["repository"])}">repository</a>'
           + (f' at <code>{html.escape(s["commit"][:12])}</code>' if s.get("commit") else "") + ")"
           if s.get("repository") else "")
        + "</li>" for s in sources)
    intro = html.escape(dataset.description) if dataset and dataset.description else (
        "Predictions stated with a probability in blog posts, how each one resolved, and how well calibrated "
        "the forecaster was. Every row links back to its post, section and verdict.")
    meta["description_html"] = (f"<p>{intro}</p><p>Forecasts from:</p><ul>{items}</ul>" if items else f"<p>{intro}</p>")
    if dataset and dataset.maintainers:
        meta["description_html"] += f"<p>Maintained by {html.escape(', '.join(dataset.maintainers))}.</p>"
    return meta


def site_metadata(dataset, db_path, extra=None):
    """The whole metadata for serving db_path as the dataset's site (a dict, ready for Datasette): the package's,
    what the dataset is, the dataset folder's metadata.yml, then `extra` (a metadata.yml given on the command line)."""
    meta = merge(yaml.safe_load(site_settings.METADATA.read_text(encoding="utf-8")),
                 dataset_metadata(dataset, read_sources(db_path)))
    for path in (dataset.metadata_path if dataset is not None else None, extra):
        if path:
            meta = merge(meta, yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
    return meta
