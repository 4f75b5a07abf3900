"""Shared fixtures: databases built by the real CLI from real files."""

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from predictions.cli import cli
from predictions.serve import stop

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "aimlbling-about" / "content"
RESOLUTIONS = ROOT / "datasets" / "published-forecasts" / "resolutions"  # the hand-kept files


def run_cli(*args):
    """Run `predictions ARGS` in-process; returns the click Result (exit_code, output, stderr)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def build_db(db_path, content=None, resolutions=None, *extra):
    """Build a database with the real CLI; fails the test with the CLI's output if the build fails."""
    args = ["build", "--db", db_path, "--quiet"]
    for c in [content] if isinstance(content, (str, Path)) else content or []:
        args += ["--content", c]
    args += ["--resolutions", resolutions or RESOLUTIONS, *extra]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output + result.stderr
    return Path(db_path)


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory):
    """The whole real blog (../shared) with the project's resolution files."""
    assert CORPUS.is_dir(), f"the shared corpus is missing: {CORPUS}"
    return build_db(tmp_path_factory.mktemp("corpus") / "data.db", CORPUS)


@pytest.fixture(scope="session")
def bundled_db(tmp_path_factory):
    """The bundled default content (the seed post)."""
    return build_db(tmp_path_factory.mktemp("bundled") / "data.db")


def write_site(root, posts, base_url="https://example.org/"):
    """A Hugo site for a test: {"blog/slug/index.md": text} under root/content, with hugo.yaml."""
    root = Path(root)
    (root / "content").mkdir(parents=True, exist_ok=True)
    (root / "hugo.yaml").write_text(
        f'title: Test Blog\nbaseURL: "{base_url}"\n'
        "copyright: '<a href=\"https://creativecommons.org/licenses/by-nc/4.0/\">CC BY-NC-4.0</a>'\n"
    )
    for rel, text in posts.items():
        path = root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return root / "content"


@contextlib.contextmanager
def small_filesystem(where, size):
    """A real tmpfs of `size` (e.g. "512k") mounted at `where` for the block: writes beyond it fail with ENOSPC
    as on a full disk (needs root, as the test machine and CI run)."""
    where = Path(where)
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def tree(folder):
    """{relative path: bytes} of every file under folder (links read through)."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- reliability figures (issue 7)
# Tests record what they tried; when the run ends its figures become .predictions/reliability.json and, after a passing
# run that produced every section, the README's reliability section is rewritten from them (between its FIGURES
# markers), so its numbers are never typed. Each run keeps its figures in a file of its own until it ends: runs of the suite
# side by side in one checkout never mix their figures.

FIGURES = ROOT / ".predictions" / "reliability.json"  # not build/: that folder is the export's own
RELIABILITY_DOC = ROOT / "README.md"  # its "Reliability and security" section
FIGURE_SECTIONS = ("bad_inputs", "hostile_sizes", "crashes", "fuzz", "site", "load")
# Tests each of whose cases is one bad input answered with a message (counted as "bad inputs tried").
BAD_INPUT_TESTS = {
    "test_bad_input_names_file_and_line_and_leaves_db_untouched": "posts",
    "test_duplicate_prediction_ids": "posts",
    "test_empty_file_is_a_post_without_predictions": "posts",
    "test_crlf_and_bom_simply_work": "posts",
    "test_bad_resolution_file": "resolution files",
    "test_verdict_matching_nothing_is_an_error": "review verdicts",
    "test_more_bad_posts": "posts",
    "test_inputs_that_must_simply_work": "posts",
    "test_special_files_are_reported_not_read": "posts",
    "test_post_over_the_size_limit_is_refused_unread": "posts",
    "test_more_bad_resolution_files": "resolution files",
    "test_hostile_resolution_folders": "resolution files",
    "test_posts_that_would_publish_what_they_should_not": "posts",
}
DOC_TEST = "test_reliability_doc_quotes_figures_rendered_from_the_tests"
_bad_inputs_passed, _failed = [], []


def session_figures():
    import os

    return FIGURES.with_name(f".reliability-{os.getpid()}.json")


def record_figures(section, **figures):
    """Merge figures into this run's figures under section."""
    import json

    path = session_figures()
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault(section, {}).update(figures)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def pytest_sessionstart(session):
    session_figures().unlink(missing_ok=True)  # figures describe one run, never a mix of runs


def pytest_runtest_logreport(report):
    name = report.nodeid.split("::")[-1].split("[")[0]
    if report.when == "call" and report.passed and name in BAD_INPUT_TESTS:
        _bad_inputs_passed.append(BAD_INPUT_TESTS[name])
    if report.failed:
        _failed.append(name)


def pytest_sessionfinish(session, exitstatus):
    if _bad_inputs_passed:
        kinds = {k: _bad_inputs_passed.count(k) for k in sorted(set(_bad_inputs_passed))}
        record_figures("bad_inputs", tried=len(_bad_inputs_passed), by_kind=kinds)
    if not session_figures().exists():
        return
    session_figures().replace(FIGURES)
    # The README's figures are rewritten on request (WRITE_FIGURES=1 make test), so an ordinary run leaves the
    # checkout clean; .predictions/reliability.json always holds the latest run's figures.
    if os.environ.get("WRITE_FIGURES") and (exitstatus == 0 or set(_failed) == {DOC_TEST}):
        from reliability_doc import update

        update(FIGURES, RELIABILITY_DOC, FIGURE_SECTIONS)


# ---------------------------------------------------------------- a real `predictions serve` on loopback


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.headers.get("content-type", ""), response.read()


@contextlib.contextmanager
def serving(command, log_path, timeout=90, cwd=ROOT):
    """Run a `predictions serve ... --port P` command (in cwd) until the block ends; yields http://127.0.0.1:P."""
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen([*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, f"the server exited:\n{Path(log_path).read_text()}"
            try:
                if get(base + "/-/versions.json", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:  # a hung server fails the test instead of hanging it
                raise AssertionError(f"the server did not answer:\n{Path(log_path).read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        stop(process)


def processes():
    """{pid: (parent pid, nice, command line)} of every process this user can see."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(proc.name)] = (int(stat[1]), int(stat[16]), (proc / "cmdline").read_bytes().split(b"\0"))
        except (ValueError, OSError):
            continue
    return found
