"""Worker processes (`build --jobs N`, reading.py) change nothing: the database of --jobs 2 is that of --jobs 1,
every table and every row in rowid order, and a failing build reports the same problems in the same order."""

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SHARED, run_cli, write_site
from predictions import reading

PREDICTIONS = Path(sys.executable).with_name("predictions")
LOCAL = {"aimlbling-about": "aimlbling-about", "blog-urth-org": "blog.urth.org", "seinmastudios": "seinmastudios.com",
         "czinn-web": "czinn-web", "erwald-blog": "erwald-blog"}
PUBLISHED = ROOT / "datasets" / "published-forecasts"


def every_row(db):
    """{table: its rows in rowid order (key order for a table without rowid)} of every table, FTS included."""
    conn = sqlite3.connect(db)
    out = {}
    for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        order = "1, 2" if "WITHOUT ROWID" in (sql or "").upper() else "rowid"
        columns = "*" if order != "rowid" else "rowid, *"
        out[name] = (sql, conn.execute(f'SELECT {columns} FROM "{name}" ORDER BY {order}').fetchall())
    conn.close()
    return out


def published(db, jobs, tmp):
    """Build the published dataset (five real blogs, git history, list-style forecasts and graded reviews) from
    the copies in ../shared/corpus, as its own test does (test_registry.py)."""
    env = {**os.environ, "PREDICTIONS_FROM": " ".join(f"{k}={SHARED / 'corpus' / v}" for k, v in LOCAL.items())}
    done = subprocess.run([PREDICTIONS, "build", "--quiet", "--db", db, "--jobs", str(jobs)], cwd=PUBLISHED, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.replace(str(db), "DB")


def test_the_published_dataset_is_the_same_with_two_workers(tmp_path):
    one = published(tmp_path / "one.db", 1, tmp_path)
    two = published(tmp_path / "two.db", 2, tmp_path)
    assert one == two
    a, b = every_row(tmp_path / "one.db"), every_row(tmp_path / "two.db")
    assert a.keys() == b.keys() and len(a["predictions"][1]) > 150
    for table in a:
        assert a[table] == b[table], table


def synthetic(root, posts=120, seed=3):
    """A synthetic corpus (benchmarks/synth.py): forecast posts, their reviews, articles, drafts."""
    subprocess.run([sys.executable, ROOT / "benchmarks" / "synth.py", "--posts", str(posts), "--seed", str(seed),
                    "--out", root], check=True, capture_output=True, timeout=120)
    return root / "content"


def build(content, db, *extra):
    return run_cli("build", "--content", content, "--db", db, "--resolutions", content.parent / "none", *extra)


def test_a_synthetic_corpus_with_reviews_and_drafts_is_the_same_with_two_workers(tmp_path):
    content = synthetic(tmp_path / "synth")
    outputs = {}
    for jobs in (1, 2):
        db = tmp_path / str(jobs) / "data.db"
        db.parent.mkdir()
        result = build(content, db, "--jobs", jobs, "--full")
        assert result.exit_code == 0, result.output
        # the database is named as display() shows it: absolute, or relative to the working directory
        outputs[jobs] = re.sub(rf"\S*/{jobs}/data\.db", "DB", result.output), result.stderr
    assert outputs[1] == outputs[2]
    assert "review posts: 9" in outputs[1][0] and "draft skipped" in outputs[1][1]
    a, b = every_row(tmp_path / "1" / "data.db"), every_row(tmp_path / "2" / "data.db")
    for table in a:
        assert a[table] == b[table], table
    assert len(a["resolutions"][1]) > 300


BROKEN = {
    "blog/aa-bad-yaml/index.md": "---\ntitle: [unclosed\n---\nText.\n",
    "blog/bb-latin1/index.md": "---\ntitle: Caf\xe9\n---\n".encode("latin-1"),
    "blog/predictions-2019-zz/index.md": ("---\ntitle: Predictions 2019\n---\n\n## One\n\nOne.\n\n"
                                          "_Probability: 70%_ _Probability: 40%_\n"),
    "blog/zz-review/index.md": ("---\ntitle: 2019 in review\n---\n\nGrading [my forecasts](/blog/predictions-2019-zz/)."
                                "\n\n- **Something nobody predicted (70%):** _Correct_ ✅\n"),
    "blog/zz-unknown-verdict/index.md": ("---\ntitle: Also in review\n---\n\nSee [them](/blog/predictions-2019-zz/).\n\n"
                                         "- **One (70%):** _Perhaps_ 🤷\n"),
}


def test_errors_are_reported_the_same_in_the_same_order_with_two_workers(tmp_path):
    content = synthetic(tmp_path / "synth", posts=40)
    write_site(tmp_path / "synth", BROKEN, base_url="https://synthetic.example.org/")
    results = {}
    for jobs in (1, 2):
        db = tmp_path / str(jobs) / "data.db"
        db.parent.mkdir()
        db.write_bytes(b"the previous database")
        results[jobs] = build(content, db, "--jobs", jobs)
        assert results[jobs].exit_code == 1
        assert db.read_bytes() == b"the previous database"
    assert results[1].stderr == results[2].stderr
    lines = results[1].stderr.splitlines()
    order = [needle for line in lines for needle in ("aa-bad-yaml", "bb-latin1", "predictions-2019-zz/index.md",
                                                     "zz-review", "zz-unknown-verdict") if needle in line]
    assert order == ["aa-bad-yaml", "bb-latin1", "predictions-2019-zz/index.md", "zz-review", "zz-unknown-verdict"]
    assert "Traceback" not in results[2].output + results[2].stderr


def test_workers_are_other_processes_and_results_come_in_order():
    reader = lambda task: (task, os.getpid())  # noqa: E731 (forked workers inherit it; nothing is pickled)
    results = list(reading.read_all(list(range(500)), reader, jobs=2))
    assert [task for task, _ in results] == list(range(500))
    assert os.getpid() not in {pid for _, pid in results}


def test_stopping_early_stops_the_workers():
    """A build that fails while the workers still read (a write error) leaves no process behind and does not hang."""
    results = reading.read_all(list(range(5000)), lambda task: os.getpid(), jobs=2)
    workers = {next(results) for _ in range(3)}
    results.close()
    for pid in workers:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
