"""`predictions init`: look at the site in a folder and write a commented predictions.toml for it."""

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .site import CANDIDATES, load_site

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
    elif eleventy:
        found.generator, found.content = "eleventy", eleventy_input(folder / eleventy)
    elif (folder / "content").is_dir():
        found.content = "content"
    found.notes.append(f"site: {found.generator or 'no known site generator'} in {folder}"
                       + (f", config {found.site_config}" if found.site_config else "")
                       + f", posts under {found.content!r}")
    if found.generator in ("hugo", "jekyll"):
        try:
            site = load_site(folder / found.content, base_url="https://example.invalid/")
            found.title, found.author = site.title, site.author
            found.license, found.license_url = site.license, site.license_url
        except InputError:
            pass
    found.git_remote = git_remote(folder)
    if found.git_remote:
        found.notes.append(f"git: this folder is a repository with remote {found.git_remote}")
    if not found.license:
        found.notes.append("license: not stated in the site's config; say it in predictions.toml (license, license_url)")
    return found


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
    license_lines = (f"license = {q(found.license)}\nlicense_url = {q(found.license_url or '')}\n" if found.license else
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
"""
