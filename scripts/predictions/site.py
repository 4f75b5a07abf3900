"""A content root's site configuration: base URL, title and license come from the site's own config file.

Looked for beside the content folder as Hugo keeps it (``hugo.yaml|toml``, ``config.yaml|toml``,
``config/_default/hugo.yaml|toml``) or inside it as Jekyll does (``_config.yml``: ``url`` + ``baseurl``), or
Eleventy's site data ``_data/metadata.json`` (``url``, ``title``, ``author.name``).
The license is read from ``params.license``/``params.license_url`` or the ``<a href>`` in ``copyright``.
"""

import json
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from . import gitsources
from .errors import InputError, Problem

CANDIDATES = [
    "hugo.yaml", "hugo.yml", "hugo.toml", "config.yaml", "config.yml", "config.toml",
    "config/_default/hugo.yaml", "config/_default/hugo.yml", "config/_default/hugo.toml",
    "config/_default/config.yaml", "config/_default/config.toml",
]
ELEVENTY_DATA = "_data/metadata.json"  # the Eleventy base blog's site data: title, url, author.name
LICENSE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING")
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
    id_prefix: str = ""  # put before every post id of this site (predictions.toml: id_prefix)
    license_file: Path | None = None  # the license's text as the site ships it (LICENSE beside its config)


def find_config(content_root):
    root = Path(content_root)
    for base in (root.parent, root):
        for name in CANDIDATES:
            if (base / name).is_file():
                return base / name
    if (root / "_config.yml").is_file():
        return root / "_config.yml"
    for base in (root, root.parent):
        if (base / ELEVENTY_DATA).is_file():
            return base / ELEVENTY_DATA
    return None


def load_config(path):
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise InputError([Problem(str(path), e.lineno, f"cannot read site config: {e.msg}")]) from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise InputError([Problem(str(path), None if line is None else line + 1, f"cannot read site config: {e}")]) from None
    return data if isinstance(data, dict) else {}


def slugify(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "site"


def load_site(content_root, base_url=None, title=None, config_path=None):
    """The Site for a content root; --base-url and --title override the config file."""
    root = Path(content_root).resolve()
    path = Path(config_path) if config_path else find_config(root)
    if config_path and not path.is_file():
        raise InputError([Problem(str(path), None, "no such site config file: fix site_config in predictions.toml")])
    config = load_config(path) if path else {}
    params = config.get("params") or {}
    if path and path.name == "_config.yml":
        base = (config.get("url") or "") + (config.get("baseurl") or "")
    elif path and path.suffix == ".json":
        base = config.get("url")
        author = config.get("author")
        params = {"author": author.get("name") if isinstance(author, dict) else author}
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
    license_file = next((p for base in (root.parent, root) for name in LICENSE_FILES
                         if (p := base / name).is_file()), None)
    return Site(
        id=slugify(site_title),
        title=site_title,
        base_url=base.rstrip("/") + "/",
        content_root=root,
        license=license_name,
        license_url=license_url,
        repository=params.get("repository"),
        commit=params.get("commit"),
        author=author_name(params.get("author")),
        license_file=license_file,
    )


def author_name(value):
    """A site config's author: a name, or a table with a name (Hugo themes write `[params.author] name = …`)."""
    if isinstance(value, dict):
        value = value.get("name")
    return str(value) if isinstance(value, str | int | float) and str(value).strip() else None


def source_site(dataset, source, base_url=None):
    """The Site of a dataset's source: its site config, with what predictions.toml states taking precedence.

    Its id is the source's name; a git source records the commit its checkout holds."""
    # a git source not fetched yet: say so before anything else
    commit = gitsources.checkout_commit(dataset, source) if source.git else None
    config = source.site_root(dataset) / source.site_config if source.site_config else None
    root = source.content_root(dataset)
    if not root.is_dir():
        where = f"the checkout of {source.git}" if source.git else str(source.site_root(dataset))
        raise InputError([Problem(source.name, None, f"no content folder {source.content!r} in {where}: "
                                  "fix `content` (or `root`) of this source in predictions.toml")])
    site = load_site(root, base_url=base_url or source.base_url, title=source.title, config_path=config)
    commit = commit or site.commit
    checkout = source.checkout(dataset)
    license_file = site.license_file or next((p for name in LICENSE_FILES if (p := checkout / name).is_file()), None)
    return replace(site, id=source.name, author=source.author or site.author, license=source.license or site.license,
                   license_url=source.license_url or site.license_url,
                   repository=gitsources.public_url(source.repository or source.git) or site.repository, commit=commit,
                   id_prefix=source.id_prefix, license_file=license_file)
