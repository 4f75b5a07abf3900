"""Git sources: clone or update each into the dataset's cache (``.predictions/git/<name>``), check out its ref.

``predictions fetch`` is the only command that talks to a remote. With a cached clone that already holds
the pinned commit nothing is fetched; a branch is fetched when the remote answers, and when it does not
(offline) the cached copy is used with a warning. With no cached copy and no answer: a clear error.
The build reads the checked-out files and records the commit (``checkout_commit``).
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, Problem

SHA = re.compile(r"^[0-9a-f]{7,40}$")


class GitError(Exception):
    pass


@dataclass(frozen=True)
class Fetched:
    name: str
    commit: str
    action: str  # "cloned", "updated", "current" (nothing to fetch), "offline" (cached copy used)
    warning: str | None = None


def git(*args, cwd=None):
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"})
    if done.returncode != 0:
        raise GitError(((done.stderr or done.stdout).strip().splitlines() or ["git failed"])[-1])  # git's last word
    return done.stdout.strip()


def fetch(dataset, source, url=None):
    """Clone or update one git source and check out its ref; returns a Fetched."""
    url = url or source.git
    dest = source.checkout(dataset)
    action, warning = "current", None
    if not (dest / ".git").is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            git("clone", "--quiet", "--no-checkout", url, str(tmp))
        except GitError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InputError([Problem(source.name, None, f"cannot clone {url}: {e}; "
                                      "there is no cached copy to build from (check the URL and the network)")]) from None
        os.replace(tmp, dest)
        action = "cloned"
    elif not (source.ref and SHA.match(source.ref) and has_commit(dest, source.ref)):
        try:
            git("fetch", "--quiet", "--tags", "--force", url, "+refs/heads/*:refs/remotes/origin/*", cwd=dest)
            action = "updated"
        except GitError as e:
            action = "offline"
            warning = (f"{source.name}: cannot fetch {url} ({e}); "
                       "building from the cached copy")
    target = resolve_ref(dest, source)
    git("checkout", "--quiet", "--force", "--detach", target, cwd=dest)
    git("clean", "--quiet", "-fdx", cwd=dest)  # the checkout holds exactly the commit's files
    return Fetched(source.name, git("rev-parse", "HEAD", cwd=dest), action, warning)


def has_commit(dest, ref):
    try:
        git("cat-file", "-e", f"{ref}^{{commit}}", cwd=dest)
        return True
    except GitError:
        return False


def resolve_ref(dest, source):
    """The commit to check out: the ref as a remote branch, a tag or a commit; default the remote's HEAD."""
    candidates = [f"refs/remotes/origin/{source.ref}", f"refs/tags/{source.ref}", source.ref] if source.ref else \
        ["refs/remotes/origin/HEAD", "refs/remotes/origin/main", "refs/remotes/origin/master"]
    for ref in candidates:
        try:
            return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=dest)
        except GitError:
            continue
    wanted = source.ref or "the default branch"
    raise InputError([Problem(source.name, None, f"{wanted!r} is not a branch, tag or commit of {source.git}: "
                              "fix `ref` in predictions.toml")])


def checkout_commit(dataset, source):
    """The commit a git source's checkout holds; an error when it was never fetched."""
    dest = source.checkout(dataset)
    if not (dest / ".git").is_dir():
        raise InputError([Problem(source.name, None, f"git source {source.name!r} is not fetched yet: "
                                  "run `predictions fetch` (it clones it into .predictions/git/)")])
    return git("rev-parse", "HEAD", cwd=dest)


def public_url(url):
    """The repository URL to show readers: a remote URL as is (a .git suffix dropped); None for a local path."""
    if url and re.match(r"^https?://", url):
        return re.sub(r"\.git$", "", url)
    return None


def parse_overrides(pairs):
    """``NAME=URL_OR_PATH`` pairs (fetch --from) -> {name: url}; a path is made absolute."""
    found = {}
    for pair in pairs:
        name, sep, where = pair.partition("=")
        if not sep or not name or not where:
            raise ValueError(f"{pair!r}: write NAME=URL (or NAME=PATH to a local repository or bundle)")
        found[name] = where if re.match(r"^[a-z][a-z0-9+.-]*://|^git@", where) else str(Path(where).resolve())
    return found
