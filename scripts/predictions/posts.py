"""Find posts in a content root and read their front matter.

Hugo: page bundles ``<section>/<slug>/index.md`` and single files ``<section>/<slug>.md``, public at
``<base>/<section>/<slug>/`` (front matter ``slug`` replaces the last part, ``url`` the whole path).
Jekyll: ``_posts/YYYY-MM-DD-slug.md``, public at ``<base>/YYYY/MM/DD/slug.html``.
``_index.md`` (a section's own page) is not a post; drafts are skipped unless asked for.
"""

import datetime as dt
import errno
import hashlib
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import yaml

from .errors import display

JEKYLL_POST = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>.+)$")
TAG_GROUP = re.compile(r"^\s+#\s*(?P<group>.+?)(?:(?<=\S)\s*+|(?<!\S))$")
TAG_ITEM = re.compile(r"^\s+-\s")
TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")
MAX_BYTES = 5 * 1024 * 1024
IGNORED = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)  # errors Path.rglob skips
# A date, optionally followed by a time and a zone (as Hugo and Jekyll write them); nothing else after it.
DATE_TEXT = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})"
                       r"(?:[Tt ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}:?\d{2})?)?")
URL_SAFE = "/:@!$&'()*+,;=~-._%"  # kept as written in a URL path; anything else is percent-encoded
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same results, faster


@dataclass(slots=True)
class Post:
    path: Path  # the file
    rel_path: str  # relative to the content root, with forward slashes (stored in the database)
    shown: str  # the path as messages show it: relative to the working directory when possible
    slug: str
    section: str | None
    url_path: str
    meta: dict = field(default_factory=dict)
    meta_lines: dict = field(default_factory=dict)  # front matter key -> line number in the file
    tag_groups: list = field(default_factory=list)  # group comment per tag, in order
    body: str = ""
    body_line: int = 1  # the file's line number of the body's first line
    checksum: str = ""
    date: dt.date | None = None


def discover(content_root):
    """(path, relative path with forward slashes) of every Markdown file under the root that Hugo or Jekyll would
    publish as a page, sorted by path (see pages)."""
    root = Path(content_root)
    for rel in pages(root):
        yield root / rel, rel


def pages(content_root):
    """The relative paths (forward slashes) of the root's pages, sorted by their parts as paths sort.

    A walk of the folders, not following links to folders (as Path.rglob), that skips hidden and underscore
    folders but _posts: a folder named like a post ("notes.md/") holds pages, it is not one; a section's
    _index.md is not a post, nor a resource inside a page bundle."""
    root = Path(content_root)
    found, parts_of = [], {str(root): ()}

    def unreadable(error):  # as Path.rglob: a folder that vanished is skipped, one that cannot be read is an error
        if error.errno not in IGNORED:
            raise error

    for folder, dirs, names in os.walk(root, onerror=unreadable):
        parts = parts_of.pop(folder)
        dirs[:] = [d for d in dirs if not d.startswith((".", "_")) or d == "_posts"]
        parts_of.update((os.path.join(folder, d), (*parts, d)) for d in dirs)
        bundle = bool(parts) and ("index.md" in names or "index.md" in dirs) and os.path.exists(
            os.path.join(folder, "index.md"))
        for name in names:
            if name.endswith(".md") and name != "_index.md" and not (bundle and name != "index.md"):
                found.append((*parts, name))
    return ["/".join(parts) for parts in sorted(found)]


def locate(rel_path):
    """(slug, section, url path) from the file's place in the content tree."""
    parts = rel_path.split("/")
    if "_posts" in parts and (m := JEKYLL_POST.match(Path(parts[-1]).stem)):
        y, mo, d = m["date"].split("-")
        return m["slug"], None, f"{y}/{mo}/{d}/{m['slug']}.html"
    folders = parts[:-1] if parts[-1] == "index.md" else parts[:-1] + [Path(parts[-1]).stem]
    return folders[-1], (parts[0] if len(folders) > 1 else None), "/".join(folders) + "/"


def split_front_matter(text):
    """(format, front matter text, body, body's first line number); format is None without front matter."""
    lines = text.split("\n")
    fence = lines[0].rstrip() if lines else ""
    if fence not in ("---", "+++"):
        return None, "", text, 1
    for i in range(1, len(lines)):
        if lines[i].rstrip() == fence:
            return ("yaml" if fence == "---" else "toml"), "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    return fence, None, text, 1


def key_lines(front, first_line=2):
    """Line numbers of the top-level keys of the front matter."""
    found = {}
    for i, line in enumerate(front.split("\n")):
        if m := re.match(r"^([A-Za-z_][\w-]*)\s*[:=]", line):
            found.setdefault(m[1], first_line + i)
    return found


def tag_groups(front):
    """The YAML comment group (``# meta``) above each tag in the ``tags:`` list, in order."""
    groups, group, inside = [], None, False
    for line in front.split("\n"):
        if re.match(r"^tags\s*:\s*$", line):
            inside = True
        elif inside and TOP_KEY.match(line):
            break
        elif inside and (m := TAG_GROUP.match(line)):
            group = m["group"]
        elif inside and TAG_ITEM.match(line):
            groups.append(group)
    return groups


def as_date(value):
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and (m := DATE_TEXT.fullmatch(value.strip())):
        try:
            return dt.date.fromisoformat(m["date"])
        except ValueError:
            return None
    return None


def read_post(path, rel_path, report, root=None):
    """Read one file into a Post, or report why it cannot be read and return None. A file reached through a link
    from outside the content root (when given) is refused: it is not part of the site."""
    shown = display(path)
    try:
        if not path.is_file():
            report.error(shown, None, "not a regular file (a pipe, device or broken link?): remove it")
            return None
        if root is not None and path.is_symlink() and not path.resolve().is_relative_to(Path(root).resolve()):
            report.error(shown, None, f"a link to a file outside the content root ({path.resolve()}): it is not "
                         "published; copy the file into the content root, or remove the link")
            return None
        size = path.stat().st_size  # checked before reading, so a huge file is never loaded
        data = path.read_bytes() if size <= MAX_BYTES else None
    except OSError as e:
        report.error(shown, None, f"cannot read the file ({e.strerror or e}): check its permissions")
        return None
    if data is None:
        report.error(shown, None, f"file is {size:,} bytes, over the {MAX_BYTES:,}-byte limit for a post: split it")
        return None
    return parse_post(data, path, rel_path, shown, report)


def parse_post(data, path, rel_path, shown, report):
    """A Post from a file's bytes (read from disk, or from a git commit: history.py), or None with the reason
    reported; path is where the file is (or was), shown how messages name it."""
    if len(data) > MAX_BYTES:  # (a file may have grown after the stat)
        report.error(shown, None, f"file is {len(data):,} bytes, over the {MAX_BYTES:,}-byte limit for a post: split it")
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        report.error(shown, 1, "file is UTF-16, not UTF-8: save it as UTF-8")
        return None
    if b"\0" in data:
        report.error(shown, None, "file is binary, not Markdown: remove it or rename it so it does not end in .md")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        report.error(shown, line, f"file is not UTF-8 (byte {e.start}): save it as UTF-8")
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    slug, section, url_path = locate(rel_path)
    post = Post(path, rel_path, shown, slug, section, url_path, checksum=hashlib.sha256(data).hexdigest())
    fmt, front, post.body, post.body_line = split_front_matter(text)
    if front is None:
        report.error(shown, 1, f"front matter opened with {fmt} is never closed: add a closing {fmt} line")
        return None
    if fmt:
        meta = parse_front_matter(fmt, front, shown, report)
        if meta is None:
            return None
        post.meta, post.meta_lines = meta, key_lines(front)
        post.tag_groups = tag_groups(front) if fmt == "yaml" else []
    return finish(post, report)


def parse_front_matter(fmt, front, rel_path, report):
    try:
        meta = tomllib.loads(front) if fmt == "toml" else yaml.load(front, Loader=SAFE_LOADER)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        report.error(rel_path, line, f"front matter is not valid YAML ({getattr(e, 'problem', e)}): fix the syntax")
        return None
    except tomllib.TOMLDecodeError as e:  # Python 3.11 gives the place only in the message
        where = getattr(e, "lineno", None) or (int(m[1]) if (m := re.search(r"at line (\d+)", str(e))) else None)
        line = (where or front.count("\n") + 1) + 1
        report.error(rel_path, line, f"front matter is not valid TOML ({e}): fix the syntax")
        return None
    except (ValueError, RecursionError) as e:  # a value YAML cannot build (2030-13-45), or nesting too deep
        reason = "nested too deeply" if isinstance(e, RecursionError) else e
        report.error(rel_path, 2, f"front matter is not valid {fmt.upper()} ({reason}): fix the values")
        return None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        report.error(rel_path, 2, "front matter is not a mapping of keys to values: write `key: value` lines")
        return None
    return meta


SCALAR = (str, int, float, dt.date, dt.time)  # bool is an int; datetime a date
SHAPES = {
    "title": "a single value: write `title: text`", "slug": "a single value: write `slug: text`",
    "url": "a single value: write `url: /path/`", "date": "a date: write it as YYYY-MM-DD",
    "resolves_by": "a date: write it as YYYY-MM-DD", "draft": "true or false: write `draft: true`",
    "tags": "a list of names: write `tags: [a, b]` or one `- name` line each",
    "series": "a list of names: write `series: [a]`",
    "authors": "a list of names, or of `name:`/`link:`/`image:` entries",
}


def shape_ok(key, value):
    if key == "draft":
        return isinstance(value, bool)
    if key in ("tags", "series"):
        return isinstance(value, list) and all(isinstance(x, SCALAR) for x in value)
    if key == "authors":
        return isinstance(value, list) and all(isinstance(a, SCALAR) or isinstance(a, dict) and all(
            isinstance(a.get(k), (*SCALAR, type(None))) for k in ("name", "link", "image")) for a in value)
    return isinstance(value, SCALAR)


def kind(key, value):
    if isinstance(value, list) and key in ("tags", "series", "authors"):
        return "a list holding a list or mapping"
    names = {bool: "true/false", str: "text", list: "a list", dict: "a mapping", int: "a number", float: "a number"}
    return names.get(type(value), "a date" if isinstance(value, dt.date | dt.time) else type(value).__name__)


def finish(post, report):
    """Apply slug/url/date from the front matter, checking what a user can get wrong."""
    meta = post.meta
    if isinstance(meta.get("tags"), str):  # Eleventy's `tags: post`: one tag
        meta["tags"] = [meta["tags"]]
    wrong = [k for k in SHAPES if meta.get(k) is not None and not shape_ok(k, meta[k])]
    for key in wrong:  # the message never quotes the value: it may be huge (YAML aliases)
        report.error(post.shown, post.meta_lines.get(key),
                     f"front matter `{key}` is {kind(key, meta[key])}, not {SHAPES[key]}")
    if wrong:
        return None
    for key in SHAPES:
        if (char := control_character(meta.get(key))) is not None:
            report.error(post.shown, post.meta_lines.get(key),
                         f"front matter `{key}` holds a control character (U+{ord(char):04X}): remove it")
            return None
    if meta.get("slug"):
        post.slug = str(meta["slug"])
        post.url_path = "/".join(post.url_path.rstrip("/").split("/")[:-1] + [post.slug]) + "/"
    if problem := slug_problem(post.slug):
        where = "front matter `slug`" if meta.get("slug") else "the file name"
        report.error(post.shown, post.meta_lines.get("slug") if meta.get("slug") else None,
                     f"{where} gives the slug {post.slug!r}, which {problem}: it would break prediction ids, resolution "
                     "files and URLs; " + ("write a plain name" if meta.get("slug") else "rename the file or set `slug:`"))
        return None
    if meta.get("url"):
        post.url_path = str(meta["url"]).strip("/") + "/"
    post.url_path = quote(post.url_path, safe=URL_SAFE)
    if "date" in meta:
        post.date = as_date(meta["date"])
        if post.date is None:
            report.error(post.shown, post.meta_lines.get("date"),
                         f"date {meta['date']!r} is not a date: write it as YYYY-MM-DD")
            return None
    elif m := JEKYLL_POST.match(post.path.stem):
        post.date = as_date(m["date"])
    if "resolves_by" in meta and (resolves_by := as_date(meta["resolves_by"])) is None:
        report.error(post.shown, post.meta_lines.get("resolves_by"),
                     f"resolves_by {meta['resolves_by']!r} is not a date: write it as YYYY-MM-DD")
        return None
    if "resolves_by" in meta and post.date and resolves_by < post.date:
        report.error(post.shown, post.meta_lines.get("resolves_by"),
                     f"resolves_by {resolves_by} is before the post's date {post.date}: a forecast resolves after it "
                     "is made; fix one of the two dates")
        return None
    return post


def slug_problem(slug):
    """Why a slug cannot be an id and a file name, or None."""
    if not slug.strip():
        return "is empty"
    if "/" in slug or "\\" in slug:
        return "holds a / or \\"
    if slug.startswith("."):
        return "starts with a dot"
    if (char := control_character(slug, allowed="")) is not None:
        return f"holds a control character (U+{ord(char):04X})"
    return None


def control_character(value, allowed="\t\n\r"):
    """The first control character (NUL, escape, ...) in a front matter value, its lists and mappings, or None."""
    if isinstance(value, str):
        return next((c for c in value if c not in allowed and unicodedata.category(c) in ("Cc", "Cs")), None)
    if isinstance(value, list):
        return next((c for v in value if (c := control_character(v, allowed)) is not None), None)
    if isinstance(value, dict):
        return next((c for v in value.values() if (c := control_character(v, allowed)) is not None), None)
    return None
