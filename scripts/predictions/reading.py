"""Each file's own work, in worker processes: its post, and what depends on that file alone.

What a build needs of a file before it looks at other posts (the post with its front matter and checksum,
whether it is a draft or excluded, and the work of its role: a forecast post's extraction, a list-style
post's statements, a review's sections, links and verdicts) is a function of the file and its source's
settings. ``read_all`` runs it over the build's files in a pool of worker processes and yields the results in
file order, so a pooled build writes exactly the rows of a serial one (jobs=1: in this process, no pool).
A worker never holds the build's Report: it returns each file's problems, which the build adds in order.
The incremental cache and the git history stay in the main process; a worker is told which files' work the
cache holds, and skips it. A worker's work comes back pickled, which is also how the cache stores it; a
review's work waits, pickled and compressed, until every forecast post is read.
"""

import multiprocessing
import os
import pickle
import signal
import threading
import zlib
from dataclasses import dataclass, field

from . import grading, reviews, statements
from .cache import work_key
from .errors import Report
from .extract import extract, extract_post
from .posts import read_post

POOL_FROM = 100  # files: below this a default build (no --jobs) reads them in this process (forking costs more)
WINDOW = 8  # chunks per worker in flight: bounds the results waiting for a main process slower than its workers
PROTOCOL = pickle.HIGHEST_PROTOCOL


def usable_cpus():
    """The CPUs this process may run on (its affinity, which a container or `taskset` narrows)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_jobs(files):
    """Worker processes for a build that does not say: one per usable CPU, none for a small build."""
    return usable_cpus() if files >= POOL_FROM else 1


@dataclass(slots=True)
class Read:
    """One file as a worker read it. role: draft, excluded, forecast (markers), statements (a source's
    `forecasts` globs), review (verdicts), graded (a source's `reviews` globs); None when unreadable."""

    post: object = None  # posts.Post without its body, or None when the file cannot be read
    role: str | None = None
    work: object = None  # the role's work (None: none, or the cache holds it), pickled when `pickled`
    pickled: bool = False  # by a worker process, and always a review's (compressed: it waits for the others)
    problems: Report | None = field(default_factory=Report)  # of reading the file (None: there were none)
    work_problems: Report | None = field(default_factory=Report)  # of its work: added when the build uses the work

    def raw(self):
        """The work pickled, as the cache stores it; None when it is not pickled."""
        if not self.pickled:
            return None
        return zlib.decompress(self.work) if self.role == "review" else self.work

    def value(self):
        """The work itself."""
        return pickle.loads(self.raw()) if self.pickled else self.work


@dataclass(slots=True)
class Reader:
    """Reads one task (site index, path, relative path) into a Read."""

    sites: list
    styles: dict  # content root -> styles.Style
    drafts: bool = False
    cached: frozenset = frozenset()  # cache keys (cache.work_key) whose work the main process takes from the cache
    pickled: bool = False  # pickle the work (for a worker process: it is pickled on its way back anyway)

    def __call__(self, task):
        k, path, rel = task
        site, read = self.sites[k], Read()
        post = read.post = read_post(path, rel, read.problems, root=site.content_root)
        if post is None:
            return read
        post_id = site.id_prefix + post.slug
        style = self.styles.get(site.content_root)
        role = style.role(post.rel_path) if style else None
        work = None
        if post.meta.get("draft") is True and not self.drafts:
            read.role = "draft"
        elif role == "exclude":
            read.role = "excluded"
        elif role == "reviews":
            read.role, work = "graded", grading.read(post, post_id, site.base_url, style, read.work_problems)
        elif role == "forecasts":
            read.role = "statements"
            work = statements.extract_forecasts(post_id, post.shown, post.body, post.body_line, read.work_problems)
        elif reviews.looks_like_review(post.body):
            read.role = "review"
            if work_key(site, post, "review") not in self.cached:
                work = review_work(post_id, post, site.base_url)
        else:
            read.role = "forecast"
            if work_key(site, post, "forecast") not in self.cached:
                work = extract_post(post_id, post, read.work_problems)
        post.body = None  # read: the text is not kept (reread() gets it back in the rare case it is needed)
        post.meta_lines = {}  # only messages about the front matter, all made by now, use its lines
        read.problems, read.work_problems = read.problems or None, read.work_problems or None  # most files have none
        if work is not None and (self.pickled or read.role == "review"):
            work, read.pickled = pickle.dumps(work, protocol=PROTOCOL), True
            if read.role == "review":  # waits until every forecast post is read: kept small (a third)
                work = zlib.compress(work, 1)
        read.work = work
        return read


def review_work(post_id, post, base_url):
    """What a review post says on its own: (extraction, linked post paths, verdicts, errors)."""
    own = Report()
    extraction, tokens = extract(post_id, post.shown, post.body, post.body_line, own, scan=False)
    hrefs = [r.url for r in extraction.references if r.kind == "inline"]
    paths = reviews.linked_paths(post.body, base_url, hrefs)
    verdicts = reviews.read_verdicts(tokens, extraction.sections, post.body_line, post.shown, own)
    return extraction, paths, verdicts, own.errors


def reread(post, report):
    """The post with its body read again (a review that grades no post is read as a forecast post; a cache
    entry that cannot be read), or None, reported, when the file changed since the build first read it."""
    again = read_post(post.path, post.rel_path, Report())
    if again is None or again.checksum != post.checksum:
        report.error(post.shown, None, "the file changed while the build was reading it: build again")
        return None
    post.body = again.body
    return post


# ------------------------------------------------------------------ the pool

_reader = None


def _start(reader):
    global _reader
    _reader = reader
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the main process, which stops the pool


def _read(task):
    return _reader(task)


def read_all(tasks, reader, jobs=1):
    """reader(task) of each task, in order: in `jobs` worker processes, or in this one when jobs is 1.

    Workers are forked (they inherit the reader); the tasks are handed out in chunks with an ordered imap,
    and at most WINDOW chunks per worker are out at once, so results never pile up in memory."""
    if jobs <= 1 or len(tasks) < 2:
        yield from map(reader, tasks)
        return
    chunk = max(1, min(32, len(tasks) // (jobs * WINDOW)))
    window, stop = threading.Semaphore(jobs * chunk * WINDOW), threading.Event()

    def throttled():
        for task in tasks:
            window.acquire()
            if stop.is_set():
                return
            yield task

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with context.Pool(jobs, initializer=_start, initargs=(reader,)) as pool:
        try:
            for read in pool.imap(_read, throttled(), chunk):
                window.release()
                yield read
        finally:  # let the pool's feeder thread finish before the pool is stopped
            stop.set()
            window.release(len(tasks) + 1)
