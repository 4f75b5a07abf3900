"""A git source's history: which commits touched each file, following renames, read in one pass.

One ``git log --first-parent -M --raw`` over the content folder lists every commit of the published branch
(a merge counts once, as the change it brought to the branch) with the files it added, changed or renamed and
each file's new blob; ``file_versions`` follows each current file back through its renames, as
``git log --follow`` would, for every file at once instead of one walk per file. A log is extended by the
commits since the last one read (``read_log(since=...)``). Blobs are read on demand through one
``git cat-file --batch`` process.
"""

import subprocess
from typing import NamedTuple

from .gitsources import git

RECORD, FIELD = "\x1e", "\x1f"
FORMAT = FIELD.join(["%H", "%P", "%cI", "%aI", "%an", "%B"])


class Commit(NamedTuple):
    sha: str
    parent: str | None  # the first parent: the branch before this commit
    time: str  # committer date, ISO 8601 with the committer's offset: when the change reached the branch
    authored: str  # author date
    author: str
    message: str
    changes: tuple  # (status letter, old path, new path, new blob sha) per file, paths relative to the repository

    @property
    def date(self):
        """The committer's calendar date (YYYY-MM-DD), as the committer's clock showed it."""
        return self.time[:10]


class Version(NamedTuple):
    """One commit's version of a file: the commit, what it did to the file, the file's path and blob then."""

    commit: Commit
    status: str  # A (added), M (modified), R (renamed, maybe modified), T (type changed)
    path: str
    blob: str


def head(checkout):
    return git("rev-parse", "HEAD", cwd=checkout)


def read_log(checkout, pathspec, since=None):
    """The commits of HEAD's first-parent history that touched pathspec, newest first; with since (an earlier
    HEAD), only those after it, or None when since is not on that history (the log must be read whole)."""
    if since and not on_first_parent_line(checkout, since):
        return None
    argv = ["git", "log", "--first-parent", "-M", "--raw", "--no-abbrev", "-z", f"--format={RECORD}{FORMAT}{FIELD}"]
    argv += [f"{since}..HEAD" if since else "HEAD", "--", pathspec]
    done = subprocess.run(argv, cwd=checkout, capture_output=True, check=True)
    return [parse_record(r) for r in done.stdout.decode("utf-8", "replace").split(RECORD)[1:]]


def on_first_parent_line(checkout, since):
    """True when since is an ancestor of HEAD on its first-parent line, so the log after it extends its log."""
    chain = git("rev-list", "--first-parent", f"{since}..HEAD", cwd=checkout).split()
    return bool(chain) and git("rev-parse", f"{chain[-1]}^", cwd=checkout) == since


def parse_record(record):
    sha, parents, time, authored, author, message, raw = record.split(FIELD, 6)
    fields = raw.lstrip("\0\n").split("\0")
    changes, i = [], 0
    while i < len(fields) and fields[i].startswith(":"):
        meta = fields[i].split()
        status, blob = meta[4][0], meta[3]
        if status in "RC":
            changes.append((status, fields[i + 1], fields[i + 2], blob))
            i += 3
        else:
            changes.append((status, fields[i + 1], fields[i + 1], blob))
            i += 2
    return Commit(sha, (parents.split() or [None])[0], time, authored, author, message.strip(), tuple(changes))


def file_versions(commits, paths):
    """{path: [Version, ...] oldest first} for each current path: the commits (newest first) that touched it,
    followed back through renames to the commit that added it."""
    names = {p: p for p in paths}  # the file's name at this point of the walk -> its current path
    found = {p: [] for p in paths}
    for c in commits:
        moves = []
        for status, old, new, blob in c.changes:
            current = names.get(new)
            if current is None or status == "D":
                continue
            found[current].append(Version(c, status, new, blob))
            moves.append((new, old if status in "RC" else new if status != "A" else None, current))
        for new, _, _ in moves:
            del names[new]
        for _, old, current in moves:
            if old is not None:  # before an add, the file did not exist: its history ends here
                names[old] = current
        if not names:
            break
    return {p: v[::-1] for p, v in found.items()}


class BlobError(Exception):
    pass


class Blobs:
    """Reads blobs by sha through one `git cat-file --batch` process, started on the first read."""

    def __init__(self, checkout):
        self.checkout, self.process, self.count = checkout, None, 0

    def read(self, sha):
        if self.process is None:
            self.process = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.checkout,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.process.stdin.write(sha.encode() + b"\n")
        self.process.stdin.flush()
        header = self.process.stdout.readline().split()
        if len(header) != 3:
            raise BlobError(f"git cat-file cannot read blob {sha}: {b' '.join(header).decode()}")
        data = self.process.stdout.read(int(header[2]))
        self.process.stdout.read(1)  # the newline after the content
        self.count += 1
        return data

    def close(self):
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait()
            self.process.stdout.close()
            self.process = None
