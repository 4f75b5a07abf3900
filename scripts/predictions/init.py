"""`predictions init`: look at the site in a folder and write a commented predictions.toml for it."""

import datetime as dt
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import reviews, statements
from .errors import InputError, Report
from .posts import discover, read_post
from .site import CANDIDATES, ELEVENTY_DATA, LICENSE_FILES, load_site

ELEVENTY_CONFIGS = ("eleventy.config.js", "eleventy.config.mjs", "eleventy.config.cjs", ".eleventy.js")


@dataclass
class Found:
    folder: Path
    generator: str | None = None  # hugo, jekyll, eleventy
    content: str = "content"
    site_config: str | None = None
    title: str | None = None
    license: str | None = None
    license_url: str | None = None
    author: str | None = None
    git_remote: str | None = None
    listed: list = field(default_factory=list)  # (post path, how many `Statement: 70%` forecasts it lists)
    license_file: str | None = None  # a LICENSE file at the site root: its text travels with the data
    notes: list = field(default_factory=list)


def detect(folder):
    """What kind of site the folder holds, where its posts and config are, and what its config says."""
    folder = Path(folder).resolve()
    found = Found(folder)
    hugo = next((name for name in CANDIDATES if (folder / name).is_file()), None)
    eleventy = next((name for name in ELEVENTY_CONFIGS if (folder / name).is_file()), None)
    if hugo and (folder / "content").is_dir():
        found.generator, found.content, found.site_config = "hugo", "content", hugo
    elif (folder / "_config.yml").is_file():
        found.generator, found.content, found.site_config = "jekyll", ".", "_config.yml"
    elif eleventy or (folder / ELEVENTY_DATA).is_file():
        found.generator = "eleventy"
        found.content = eleventy_input(folder / eleventy) if eleventy else "."
        if (folder / ELEVENTY_DATA).is_file():
            found.site_config = ELEVENTY_DATA
    elif not (folder / "content").is_dir():
        found.content = "."
    found.notes.append(f"site: {found.generator or 'no known site generator'} in {folder}"
                       + (f", config {found.site_config}" if found.site_config else "")
                       + f", posts under {found.content!r}")
    if found.generator in ("hugo", "jekyll") or found.site_config:
        try:
            config = folder / found.site_config if found.site_config else None
            site = load_site(folder / found.content, base_url="https://example.invalid/", config_path=config)
            found.title, found.author = site.title, site.author
            found.license, found.license_url = site.license, site.license_url
        except InputError:
            pass
    found.git_remote = git_remote(folder)
    if found.git_remote:
        found.notes.append(f"git: this folder is a repository with remote {found.git_remote}")
    found.listed = listed_forecasts(folder / found.content)
    if found.listed:
        found.notes.append(f"{len(found.listed)} posts list forecasts as `Statement: 70%` lines (most: "
                           f"{found.listed[0][0]}, {found.listed[0][1]}): they are read only when named in the "
                           "source's `forecasts` globs; predictions.toml suggests them, commented (docs/styles.md)")
    license_file = next((folder / name for name in LICENSE_FILES if (folder / name).is_file()), None)
    if license_file:
        found.license_file = license_file.name
        found.notes.append(f"license file: {license_file.name} (its text travels with the data)")
    if not found.license:
        named = license_named(license_file) if license_file else None
        if named:
            found.license, found.license_url = named
            found.notes.append(f"license: {named[0]}, read from the title of {license_file.name}: check that it "
                               "covers the posts (a repository's LICENSE may cover only its code)")
        else:
            found.notes.append("license: not stated in the site's config"
                               + (f" nor recognised in {license_file.name}" if license_file else "")
                               + "; say it in predictions.toml (license, license_url)")
    return found


# The titles of the licenses blogs use most, as their texts state them, with their short names and URLs.
KNOWN_LICENSES = [
    (r"Attribution[- ]NonCommercial[- ]ShareAlike 4\.0", "CC BY-NC-SA 4.0", "https://creativecommons.org/licenses/by-nc-sa/4.0/"),
    (r"Attribution[- ]NonCommercial 4\.0", "CC BY-NC 4.0", "https://creativecommons.org/licenses/by-nc/4.0/"),
    (r"Attribution[- ]ShareAlike 4\.0", "CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    (r"Attribution[- ]NoDerivatives 4\.0", "CC BY-ND 4.0", "https://creativecommons.org/licenses/by-nd/4.0/"),
    (r"Creative Commons Attribution 4\.0", "CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    (r"\bCC0 1\.0|Public Domain Dedication", "CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    (r"^\W*MIT License", "MIT", "https://opensource.org/license/mit"),
    (r"Apache License,? Version 2\.0", "Apache-2.0", "https://www.apache.org/licenses/LICENSE-2.0"),
]


def license_named(path):
    """(name, url) of the license whose title opens the file (its first 600 characters), or None."""
    with open(path, encoding="utf-8", errors="replace") as f:
        head = " ".join(f.read(600).split())
    return next(((name, url) for pattern, name, url in KNOWN_LICENSES if re.search(pattern, head, re.I)), None)


def listed_forecasts(content, least=5):
    """Posts that state at least `least` forecasts in list or table form (statements.py), most first, each as
    (path, count, path of the earlier listed post it grades or None). A blog in the `Statement: 70%` style shows
    no prediction until its posts are named in `forecasts` and `reviews`. A post whose items mostly restate an
    earlier listed post's (same percent, like words: reviews.similarity) is taken for its review."""
    listed = []
    for path, rel in discover(content) if content.is_dir() else ():
        post = read_post(path, rel, Report(), root=content)
        if post is None or not post.body or "%" not in post.body:
            continue
        found = statements.extract_forecasts(post.slug, rel, post.body, post.body_line, Report()).predictions
        if len(found) >= least:
            listed.append((post.date or dt.date.max, rel, found))
    listed.sort(key=lambda x: (x[0], x[1]))
    out = []
    for i, (_, rel, found) in enumerate(listed):
        grades = next((earlier for _, earlier, theirs in reversed(listed[:i])
                       if 2 * restated(found, theirs) >= len(found)), None)
        out.append((rel, len(found), grades))
    return sorted(out, key=lambda x: (-x[1], x[0]))


def restated(items, predictions):
    """How many items restate one of the predictions (same percent, like words)."""
    return sum(any(p.stated_percent == i.stated_percent and reviews.similarity(i.text, p.text) >= reviews.MIN_SIMILARITY
                   for p in predictions) for i in items)


def eleventy_input(config):
    """Eleventy's input folder from its config (`dir: { input: "src" }`), else '.'."""
    text = config.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"""input\s*:\s*["']([^"']+)["']""", text)
    return m[1].strip("./") or "." if m else "."


def git_remote(folder):
    try:
        done = subprocess.run(["git", "-C", str(folder), "remote", "get-url", "origin"], capture_output=True, text=True)
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def q(value):
    return json.dumps(value, ensure_ascii=False)


def render(found):
    """The commented predictions.toml text for what was found."""
    title = found.title or found.folder.name
    license_lines = (f"license = {q(found.license)}\nlicense_url = {q(found.license_url or '')}\n"
                     if found.license else
                     '# license = "CC BY 4.0"     # the license of the posts: say it, or the site says none\n'
                     '# license_url = "https://creativecommons.org/licenses/by/4.0/"\n')
    site_config = f"site_config = {q(found.site_config)}" if found.site_config else '# site_config = "hugo.yaml"'
    name = re.sub(r"[^a-z0-9._-]+", "-", found.folder.name.lower()).strip("-") or "blog"
    return f"""# A forecasts dataset (see docs/dataset.md for every key). Every path is relative to this file.
# `predictions build` writes data.db here, `predictions serve` serves it, `predictions export` writes build/.
title = {q(title + ": forecasts")}
# description = "What these forecasts are about, in a sentence."
{license_lines}# maintainers = ["Your Name"]
resolutions = "resolutions"                      # folder of resolution files (<post id>.yml)

[[sources]]
name = {q(name)}                                  # names the source's rows (posts.source_id)
path = "."                                       # the site root: the folder holding the content and config
{"# git = " + q(found.git_remote) + "     # instead of path: read the repository (then `predictions fetch`)"
 if found.git_remote else '# git = "https://github.com/you/blog"       # instead of path: a git repository'}
# ref = "main"                                   # with git: a branch, tag or commit
# root = "."                                     # with git: the site root inside the repository
content = {q(found.content)}                              # the content folder inside the site root (Jekyll: ".")
{site_config}                        # the site's config (base URL, title, license)
# title, author, license, license_url, base_url: override what the site's config says
{readme_line(found)}{suggest_forecasts(found.listed)}"""


def readme_line(found):
    """With the posts at the site root, its README.md is the repository's, not a post: excluded (and reported)."""
    if found.content == "." and (found.folder / "README.md").is_file():
        return 'exclude = ["README.md"]                          # the repository\'s README, not a post\n'
    return ""


def suggest_forecasts(listed):
    """Commented `forecasts` and `reviews` globs for the posts that list forecasts, each with its count."""
    if not listed:
        return ('# forecasts = ["posts/*predictions*.md"]       # posts that list forecasts as `Statement: 70%` '
                '(docs/styles.md)\n')

    def lines(rows):
        return "".join(f"#   {q(rel)},{' ' * max(1, 46 - len(q(rel)))}# {why}\n" for rel, why in rows)
    stated = [(rel, f"{n} forecasts listed") for rel, n, grades in listed if not grades]
    graders = [(rel, f"restates {grades}") for rel, n, grades in listed if grades]
    text = ("# These posts list forecasts as `Statement: 70%` lines: uncomment the ones that state forecasts\n"
            "# (an article's list of percentages is not one) and the posts that grade them (docs/styles.md):\n"
            f"# forecasts = [\n{lines(stated)}# ]\n")
    if graders:
        text += f"# reviews = [\n{lines(graders)}# ]\n"
    return text + '# marks = { "Yup" = "right", "Nope" = "wrong" }  # the words or marks the reviews grade with\n'
