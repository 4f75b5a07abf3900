"""A content root's site configuration: base URL, title and license come from the site's own config file.

Looked for beside the content folder as Hugo keeps it (``hugo.yaml|toml``, ``config.yaml|toml``,
``config/_default/hugo.yaml|toml``) or inside it as Jekyll does (``_config.yml``: ``url`` + ``baseurl``).
The license is read from ``params.license``/``params.license_url`` or the ``<a href>`` in ``copyright``.
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import InputError, Problem

CANDIDATES = [
    "hugo.yaml", "hugo.yml", "hugo.toml", "config.yaml", "config.yml", "config.toml",
    "config/_default/hugo.yaml", "config/_default/hugo.yml", "config/_default/hugo.toml",
    "config/_default/config.yaml", "config/_default/config.toml",
]
LICENSE_LINK = re.compile(r"""href=["'](?P<url>[^"']+)["'][^>]*>(?P<name>[^<]+)<""")


@dataclass(frozen=True)
class Site:
    id: str
    title: str
    base_url: str
    content_root: Path
    license: str | None = None
    license_url: str | None = None
    repository: str | None = None
    commit: str | None = None
    author: str | None = None


def find_config(content_root):
    root = Path(content_root)
    for base in (root.parent, root):
        for name in CANDIDATES:
            if (base / name).is_file():
                return base / name
    if (root / "_config.yml").is_file():
        return root / "_config.yml"
    return None


def load_config(path):
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise InputError([Problem(str(path), None if line is None else line + 1, f"cannot read site config: {e}")]) from None
    return data if isinstance(data, dict) else {}


def slugify(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "site"


def load_site(content_root, base_url=None, title=None):
    """The Site for a content root; --base-url and --title override the config file."""
    root = Path(content_root).resolve()
    path = find_config(root)
    config = load_config(path) if path else {}
    params = config.get("params") or {}
    if path and path.name == "_config.yml":
        base = (config.get("url") or "") + (config.get("baseurl") or "")
    else:
        base = config.get("baseURL") or config.get("baseurl")
    base = base_url or base
    if not base:
        where = path or root
        raise InputError([Problem(str(where), None,
            "no base URL for this content root: set baseURL in the site's hugo.yaml (or url in Jekyll's "
            "_config.yml), or pass --base-url")])
    license_name, license_url = params.get("license"), params.get("license_url")
    if not license_name and (m := LICENSE_LINK.search(str(config.get("copyright") or ""))):
        license_name, license_url = m["name"].strip(), m["url"]
    if license_name and re.fullmatch(r"CC BY-NC-4\.0", license_name):
        license_name = "CC BY-NC 4.0"
    site_title = title or config.get("title") or root.parent.name
    return Site(
        id=slugify(site_title),
        title=site_title,
        base_url=base.rstrip("/") + "/",
        content_root=root,
        license=license_name,
        license_url=license_url,
        repository=params.get("repository"),
        commit=params.get("commit"),
        author=params.get("author"),
    )
