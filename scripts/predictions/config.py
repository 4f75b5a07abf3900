"""A dataset folder: its ``predictions.toml`` and the paths every command reads and writes.

A dataset is a folder. Its config file, ``predictions.toml``, is found from the current directory upward
(as git, ruff and pytest find theirs); with none, the current directory is the dataset folder and its
``content/`` (or ``site/content``) the one source. Every relative path in the file is resolved against the
file's folder, and every command writes there: ``data.db``, the cache folder ``.predictions/`` (git clones,
the incremental-build cache, the served site's metadata) and ``build/`` (exports). Nothing is read from or
written to the package's own location. The keys are documented in docs/dataset.md.
"""

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import InputError, Problem, display

CONFIG_NAME = "predictions.toml"
CACHE_DIR = ".predictions"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
KINDS = ("blog", "fatebook-csv", "predictionbook-json", "predictionbook-csv")
STYLE_KEYS = ("forecasts", "reviews", "marks", "exclude")
TOP_KEYS = {"title", "description", "license", "license_url", "maintainers", "resolutions", "sources", "db"}
SOURCE_KEYS = {"name", "kind", "path", "git", "ref", "root", "content", "site_config", "title", "author", "license",
               "license_url", "base_url", "id_prefix", "repository", *STYLE_KEYS}


@dataclass(frozen=True)
class Source:
    """One blog (a local site root or a git repository) or one tracker export file."""

    name: str
    kind: str = "blog"
    path: Path | None = None  # a local site root (or, for a tracker, the file)
    git: str | None = None  # a git URL or a local repository / bundle path
    ref: str | None = None  # branch, tag or commit; default: the repository's HEAD
    root: str = "."  # the site root inside the repository
    content: str = "content"  # the content folder inside the site root (Jekyll: ".")
    site_config: str | None = None  # the site's config file, relative to the site root (default: looked for)
    title: str | None = None  # these five override what the site's config says
    author: str | None = None
    license: str | None = None
    license_url: str | None = None
    base_url: str | None = None
    id_prefix: str = ""  # put before every post id of this source (to keep ids unique across sources)
    repository: str | None = None  # the public repository, when --from reads the source from elsewhere
    styles: dict = field(default_factory=dict)  # forecasts, reviews, marks, exclude: how its posts are read

    def checkout(self, dataset):
        """Where this source's files are: its path, or its clone in the dataset's cache."""
        if self.git is None:
            return self.path
        return dataset.cache_dir / "git" / self.name

    def site_root(self, dataset):
        return (self.checkout(dataset) / self.root).resolve()

    def content_root(self, dataset):
        if self.kind != "blog":
            return None
        return (self.site_root(dataset) / self.content).resolve()


@dataclass(frozen=True)
class Dataset:
    """A dataset folder, made once per command from its config and passed down to every stage."""

    folder: Path
    config_path: Path | None = None
    title: str | None = None
    description: str | None = None
    license: str | None = None
    license_url: str | None = None
    maintainers: tuple = ()
    resolutions: Path | None = None
    sources: tuple = ()
    db_path: Path | None = None

    def __post_init__(self):
        object.__setattr__(self, "folder", Path(self.folder).resolve())
        if self.db_path is None:
            object.__setattr__(self, "db_path", self.folder / "data.db")
        if self.resolutions is None:
            object.__setattr__(self, "resolutions", self.folder / "resolutions")

    @property
    def cache_dir(self):
        return self.folder / CACHE_DIR

    @property
    def build_dir(self):
        return self.folder / "build"

    @property
    def metadata_path(self):
        """The dataset's own additions to the site's metadata, when it has them."""
        path = self.folder / "metadata.yml"
        return path if path.is_file() else None

    def with_content(self, roots):
        """The dataset with its sources replaced by local content folders (the --content option)."""
        sources, names = [], set()
        for r in roots:
            source = local_source(Path(r))
            name, n = source.name, 1
            while name in names:
                n += 1
                name = f"{source.name}-{n}"
            names.add(name)
            sources.append(replace(source, name=name))
        return replace(self, sources=tuple(sources))

    def with_paths(self, db_path=None, resolutions=None):
        return replace(self, db_path=Path(db_path).resolve() if db_path else self.db_path,
                       resolutions=Path(resolutions).resolve() if resolutions else self.resolutions)


def with_overrides(dataset, overrides):
    """The dataset with sources read from elsewhere (--from NAME=PATH): a git repository or bundle replaces the
    source's git URL (its root and content still apply); a plain folder becomes the source's site root."""
    if not overrides:
        return dataset
    names = {s.name for s in dataset.sources}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise InputError([Problem(str(dataset.config_path or dataset.folder), None,
                                  f"--from names no source of this dataset: {', '.join(unknown)} "
                                  f"(its sources: {', '.join(sorted(names)) or 'none'})")])
    sources = []
    for s in dataset.sources:
        where = overrides.get(s.name)
        if where is None:
            sources.append(s)
        elif Path(where).is_dir() and not (Path(where) / ".git").exists() and s.kind == "blog":
            sources.append(replace(s, git=None, ref=None, path=Path(where).resolve(), root=".",
                                   repository=s.repository or s.git))
        elif s.kind == "blog":
            sources.append(replace(s, git=where, repository=s.repository or s.git))
        else:
            sources.append(replace(s, path=Path(where).resolve()))
    return replace(dataset, sources=tuple(sources))


def local_source(content_root):
    """A source for a content folder given on the command line; its site root is the folder above it."""
    content_root = content_root.resolve()
    return Source(name=content_root.parent.name or "site", path=content_root.parent, content=content_root.name)


def find(start=None, config=None):
    """The Dataset for a command: the named config file, else the nearest predictions.toml upward, else cwd."""
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise InputError([Problem(str(path), None, "no such config file (--config names a predictions.toml)")])
        return load(path)
    start = Path(start or os.getcwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return load(folder / CONFIG_NAME)
    return default(start)


def default(folder):
    """A folder without a config: its content/ (Hugo or Eleventy) or site/content, else itself (Jekyll)."""
    folder = Path(folder).resolve()
    for content in (folder / "content", folder / "site" / "content"):
        if content.is_dir():
            return Dataset(folder=folder, sources=(local_source(content),))
    if (folder / "_posts").is_dir():
        return Dataset(folder=folder, sources=(Source(name=folder.name, path=folder, content="."),))
    return Dataset(folder=folder)


def load(path):
    """Read and check a predictions.toml; every problem names the file (and the key)."""
    path = Path(path).resolve()
    shown = display(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError([Problem(shown, None, "not UTF-8 text: save the file as UTF-8")]) from None
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"line (\d+)", str(e))
        raise InputError([Problem(shown, int(line[1]) if line else None,
                                  f"not valid TOML ({e}); see docs/dataset.md for the file's shape")]) from None
    problems = []

    def bad(message):
        problems.append(Problem(shown, None, message))

    for key in sorted(set(data) - TOP_KEYS):
        bad(f"unknown key {key!r} (known: {', '.join(sorted(TOP_KEYS))})")
    folder = path.parent
    text = {k: data.get(k) for k in ("title", "description", "license", "license_url", "resolutions", "db")}
    for k, v in text.items():
        if v is not None and not isinstance(v, str):
            bad(f"{k} must be a string")
    maintainers = data.get("maintainers") or []
    if isinstance(maintainers, str):
        maintainers = [maintainers]
    if not isinstance(maintainers, list) or not all(isinstance(m, str) for m in maintainers):
        bad("maintainers must be a list of names")
        maintainers = []
    tables = data.get("sources") or []
    if not isinstance(tables, list):
        bad("sources must be an array of tables: [[sources]]")
        tables = []
    sources, names = [], set()
    for i, table in enumerate(tables, 1):
        source = read_source(table, i, folder, bad)
        if source is None:
            continue
        if source.name in names:
            bad(f"two sources are named {source.name!r}: give each a distinct name")
        names.add(source.name)
        sources.append(source)
    if problems:
        raise InputError(problems)
    return Dataset(
        folder=folder, config_path=path, title=text["title"], description=text["description"],
        license=text["license"], license_url=text["license_url"], maintainers=tuple(maintainers),
        resolutions=(folder / text["resolutions"]).resolve() if isinstance(text["resolutions"], str) else None,
        db_path=(folder / text["db"]).resolve() if isinstance(text["db"], str) else None,
        sources=tuple(sources),
    )


def read_source(table, i, folder, bad):
    where = f"[[sources]] #{i}"
    if not isinstance(table, dict):
        bad(f"{where} must be a table")
        return None
    for key in sorted(set(table) - SOURCE_KEYS):
        bad(f"{where}: unknown key {key!r} (known: {', '.join(sorted(SOURCE_KEYS))})")
    name = table.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        bad(f"{where}: name must be lower-case letters, digits, '.', '_' or '-' (it names the source's rows)")
        return None
    where = f"source {name!r}"
    for key in SOURCE_KEYS - {"marks", "forecasts", "reviews", "exclude"}:
        if key in table and not isinstance(table[key], str):
            bad(f"{where}: {key} must be a string")
            return None
    kind = table.get("kind", "blog")
    if kind not in KINDS:
        bad(f"{where}: kind must be one of {', '.join(KINDS)}")
        return None
    if ("path" in table) == ("git" in table):
        bad(f"{where}: give exactly one of path (a folder here) or git (a repository URL or path)")
        return None
    if kind != "blog" and "git" in table:
        bad(f"{where}: a {kind} source is a file: give its path")
        return None
    if "ref" in table and "git" not in table:
        bad(f"{where}: ref goes with git")
    for key in ("root", "content"):
        value = table.get(key, ".")
        if Path(value).is_absolute() or ".." in Path(value).parts:
            bad(f"{where}: {key} must be a folder inside the site ({value!r} leaves it)")
            return None
    git = table.get("git")
    if git is not None and not re.match(r"^[a-z][a-z0-9+.-]*://|^git@", git):
        git = str((folder / git).resolve())  # a local repository or bundle, relative to the config
    styles = {k: table[k] for k in STYLE_KEYS if k in table}
    return Source(
        name=name, kind=kind, path=(folder / table["path"]).resolve() if "path" in table else None, git=git,
        ref=table.get("ref"), root=table.get("root", "."), content=table.get("content", "content"),
        site_config=table.get("site_config"), title=table.get("title"), author=table.get("author"),
        license=table.get("license"), license_url=table.get("license_url"), base_url=table.get("base_url"),
        id_prefix=table.get("id_prefix", ""), repository=table.get("repository"), styles=styles,
    )

