"""A build after a few changed files updates the previous database (update.py): its rows are those of a full build.

Every test changes a synthetic corpus (benchmarks/synth.py: forecast posts, their reviews, articles, drafts), builds
again, and compares every table, every row and every column (ids included; rows in primary-key order: the order
rows are stored in is not part of the contract) with a `--full` build of the same files in another folder.
"""

import random
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli, small_filesystem, tree
from predictions.update import manifest_path

UPDATED = "build path: updated the previous database"
REWROTE = "build path: rewrote the database"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    subprocess.run([sys.executable, ROOT / "benchmarks" / "synth.py", "--posts", "40", "--seed", "3", "--out", out],
                   check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture
def site(synthetic, tmp_path):
    """A copy of the synthetic site, built once (so the next build can update it)."""
    shutil.copytree(synthetic, tmp_path / "site")
    (tmp_path / "resolutions").mkdir()
    draft = post(tmp_path, slugs(tmp_path, "notes-")[1])
    draft.write_text(draft.read_text().replace("draft: false", "draft: true", 1))
    build(tmp_path)
    return tmp_path


def build(folder, *extra, db="data.db"):
    result = run_cli("build", "--content", folder / "site" / "content", "--db", folder / db,
                     "--resolutions", folder / "resolutions", "--quiet", *extra)
    assert result.exit_code == 0, result.output
    return result.output


def tables(path):
    """{table: rows in primary-key order}, every column; checks the full-text index against the predictions."""
    conn = sqlite3.connect(path)
    names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                        "'sqlite_%' AND name NOT LIKE 'predictions_fts%' ORDER BY name")]
    found = {}
    for name in names:
        key = [c[1] for c in sorted(conn.execute(f'PRAGMA table_info("{name}")'), key=lambda c: c[5]) if c[5]]
        assert key, name
        found[name] = conn.execute(f'SELECT * FROM "{name}" ORDER BY ' + ", ".join(f'"{k}"' for k in key)).fetchall()
    conn.execute("INSERT INTO predictions_fts (predictions_fts) VALUES ('integrity-check')")  # raises if out of step
    found["search: agents"] = conn.execute(
        "SELECT p.id FROM predictions_fts JOIN predictions p ON p.rowid = predictions_fts.rowid "
        "WHERE predictions_fts MATCH 'agents' ORDER BY p.id").fetchall()
    conn.close()
    return found


def assert_same_as_full(folder):
    """The database equals a --full build's of the same files; both print the same summary."""
    (folder / "full").mkdir(exist_ok=True)
    full = build(folder, "--full", db="full/data.db")
    mine, theirs = tables(folder / "data.db"), tables(folder / "full" / "data.db")
    assert mine.keys() == theirs.keys()
    for name in mine:
        assert mine[name] == theirs[name], name
    assert sum(map(len, mine.values())) > 500
    return full


def summary(output):
    return [line for line in output.splitlines() if not line.startswith(("build path:", "incremental:", "wrote"))]


def post(folder, slug):
    return folder / "site" / "content" / "blog" / slug / "index.md"


def slugs(folder, prefix):
    return sorted(p.name for p in (folder / "site" / "content" / "blog").glob(prefix + "*"))


def reviewed(folder):
    """A forecast post that has a review, and the review."""
    slug = next(s for s in slugs(folder, "predictions-") if post(folder, f"year-in-review-{s}").exists())
    return post(folder, slug), post(folder, f"year-in-review-{slug}")


def edit_probability(folder):
    forecast, review = reviewed(folder)
    text = forecast.read_text()
    old = re.search(r"_Probability: (\d+)%_", text)[1]
    new = "42" if old != "42" else "43"
    forecast.write_text(text.replace(f"_Probability: {old}%_", f"_Probability: {new}%_", 1))
    verdicts = review.read_text()
    review.write_text(verdicts.replace(f"({old}%)", f"({new}%)", 1) if f"({old}%)" in verdicts else verdicts)


def edit_article(folder):
    path = post(folder, slugs(folder, "notes-")[0])
    path.write_text(path.read_text() + "\nOne more paragraph, with [a link](https://example.com/new).\n")


def add_post(folder):
    source = reviewed(folder)[0].read_text()
    (folder / "site" / "content" / "blog" / "aaa-added").mkdir()
    post(folder, "aaa-added").write_text(source.replace("title: Predictions", "title: Added Predictions", 1))


def delete_forecast_post(folder):
    """Its review then grades nothing and is read as a post of its own."""
    shutil.rmtree(reviewed(folder)[0].parent)


def delete_article(folder):
    shutil.rmtree(post(folder, slugs(folder, "notes-")[-1]).parent)


def rename_folder(folder):
    forecast = reviewed(folder)[0].parent
    forecast.rename(forecast.with_name(forecast.name + "-renamed"))


def edit_verdict(folder):
    review = reviewed(folder)[1]
    text = review.read_text()
    swapped = text.replace("✅", "\0").replace("❌", "✅").replace("\0", "❌")
    review.write_text(swapped.replace("Correct", "Wrong").replace("Miss", "Right"))


def stop_being_a_review(folder):
    """A review without its verdicts is an article: the forecast post's predictions lose their resolutions."""
    review = reviewed(folder)[1]
    review.write_text(re.sub(r"[✅❌]", "", review.read_text()).replace("Verdict", "Note"))


def start_being_a_review(folder):
    """An article that links a forecast post and grades one of its predictions becomes its review."""
    forecast, _ = reviewed(folder)
    text = forecast.read_text()
    claim = re.search(r"I expect that (.+?)\.\n", text)[1]
    percent = re.search(r"_Probability: (\d+)%_", text)[1]
    slug = forecast.parent.name
    path = post(folder, slugs(folder, "notes-")[0])
    path.write_text(path.read_text() + f"\nAbout [my forecasts](/blog/{slug}/):\n\n"
                    f"- **{claim[0].upper() + claim[1:]} ({percent}%):** _Correct_ ✅\n")


def toggle_draft(folder):
    forecast = reviewed(folder)[0]
    forecast.write_text(forecast.read_text().replace("draft: false", "draft: true", 1))


def publish_draft(folder):
    path = next(p for p in (folder / "site" / "content" / "blog").glob("*/index.md") if "draft: true" in p.read_text())
    path.write_text(path.read_text().replace("draft: true", "draft: false", 1))


CHANGES = [edit_probability, edit_article, add_post, delete_forecast_post, delete_article, rename_folder, edit_verdict,
           stop_being_a_review, start_being_a_review, toggle_draft, publish_draft]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
def test_each_kind_of_change_updates_the_database_as_a_full_build_would(site, change):
    before = tables(site / "data.db")
    change(site)
    output = build(site)
    assert UPDATED in output
    assert tables(site / "data.db") != before  # the change made a difference
    full = assert_same_as_full(site)
    assert summary(output) == summary(full)


def test_changes_one_after_another_and_back(site):
    """Each update starts from the last one's database and manifest; undoing every change gives the first rows."""
    first = tables(site / "data.db")
    originals = {p: p.read_bytes() for p in (site / "site" / "content").rglob("*.md")}
    for change in (delete_forecast_post, edit_verdict, add_post, toggle_draft):
        change(site)
        assert UPDATED in build(site)
    assert_same_as_full(site)
    shutil.rmtree(site / "site" / "content" / "blog" / "aaa-added")
    for path, data in originals.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert UPDATED in build(site)
    assert tables(site / "data.db") == first


def test_nothing_changed_writes_nothing(site):
    """(After a rewrite the update reads drafts once more: the rewrite does not record what they held.)"""
    assert f"{UPDATED} (1 file changed: the rows of 0 posts replaced)" in build(site)
    db = site / "data.db"
    stamp = db.stat().st_mtime_ns
    output = build(site)
    assert f"{UPDATED} (nothing changed since the last build)" in output
    assert db.stat().st_mtime_ns == stamp


def resolve_first_prediction(folder):
    """A resolution file for the first forecast post with a review: it overrides the review's verdict."""
    forecast = reviewed(folder)[0]
    pid = sqlite3.connect(folder / "data.db").execute(
        "SELECT id FROM predictions WHERE post_id = ? ORDER BY position", [forecast.parent.name]).fetchone()[0]
    (folder / "resolutions" / f"{forecast.parent.name}.yml").write_text(
        f"resolutions:\n  {pid}:\n    outcome: ambiguous\n    resolved_on: 2030-01-02\n    verdict: Unclear\n")
    return forecast


def test_a_resolution_file_edited_is_a_rewrite_that_says_why(site):
    resolve_first_prediction(site)
    output = build(site)
    assert f"{REWROTE} (the resolution files changed since the last build)" in output
    assert_same_as_full(site)
    assert sqlite3.connect(site / "data.db").execute(
        "SELECT count(*) FROM resolutions WHERE outcome = 'ambiguous'").fetchone() == (1,)


def test_a_post_a_resolution_file_resolves_is_a_rewrite(site):
    forecast = resolve_first_prediction(site)
    build(site)
    forecast.write_text(forecast.read_text() + "\nA closing remark.\n")
    output = build(site)
    assert f"{REWROTE} (a resolution file resolves a changed post's forecasts)" in output
    assert_same_as_full(site)


def test_predictions_toml_changed_is_a_rewrite(site):
    config = site / "predictions.toml"
    config.write_text(f'[[sources]]\nname = "blog"\npath = "{site / "site"}"\n')
    args = ["--config", config, "build", "--db", site / "data.db", "--resolutions", site / "resolutions", "--quiet"]
    first = run_cli(*args)
    assert first.exit_code == 0 and REWROTE in first.output  # other inputs than the --content builds
    assert UPDATED in run_cli(*args).output
    config.write_text(config.read_text() + 'title = "A title"\n')
    output = run_cli(*args).output
    assert f"{REWROTE} (predictions.toml changed since the last build)" in output


def test_another_version_of_the_package_is_a_rewrite(site):
    """The manifest records the package's code version: a build by another version rewrites."""
    conn = sqlite3.connect(manifest_path(site / "data.db"))
    conn.execute("UPDATE meta SET value = 'another version' WHERE key = 'the package'")
    conn.commit()
    conn.close()
    edit_article(site)
    assert f"{REWROTE} (the package changed since the last build)" in build(site)
    assert_same_as_full(site)


def test_a_database_replaced_by_hand_is_rewritten(site):
    shutil.copy(site / "data.db", site / "copy.db")
    (site / "copy.db").replace(site / "data.db")
    edit_article(site)
    assert f"{REWROTE} (the database is not the one the previous build wrote)" in build(site)


def test_an_error_in_a_changed_post_fails_the_build_and_leaves_every_file(site):
    files = {p: p.read_bytes() for p in site.iterdir() if p.is_file()} | {
        p: p.read_bytes() for p in site.glob(".data.db*")}
    path = post(site, slugs(site, "notes-")[0])
    path.write_text("---\ntitle: [unclosed\n---\n\nBody.\n")
    result = run_cli("build", "--content", site / "site" / "content", "--db", site / "data.db",
                     "--resolutions", site / "resolutions", "--quiet")
    assert result.exit_code == 1
    assert "front matter is not valid YAML" in result.output and "Traceback" not in result.output
    assert {p: p.read_bytes() for p in files} == files
    assert not list(site.glob(".data.db.*.tmp"))


def test_exports_of_an_updated_database_are_byte_identical(site):
    """Rows are stored in another order after an update (rowids are not part of the contract): every reader orders
    by primary key, so `predictions export` writes the same bytes as from a full build."""
    for change in (add_post, edit_verdict, delete_article):
        change(site)
    assert UPDATED in build(site)
    assert_same_as_full(site)
    stored = [sqlite3.connect(site / name).execute("SELECT id FROM posts ORDER BY rowid").fetchall()
              for name in ("data.db", "full/data.db")]
    assert stored[0] != stored[1]  # the added post's row was stored last, a full build's first
    for name in ("data.db", "full/data.db"):
        result = run_cli("export", "--db", site / name, "--out", site / f"export-{name.replace('/', '-')}")
        assert result.exit_code == 0, result.output
    mine, theirs = site / "export-data.db", site / "export-full-data.db"
    files = sorted(p.relative_to(mine) for p in mine.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
    assert any(str(f).endswith(".csv") for f in files)
    for f in files:
        assert (mine / f).read_bytes() == (theirs / f).read_bytes(), f


def test_an_update_on_a_full_disk_says_so_and_leaves_every_file(site, tmp_path):
    """The update copies the database beside it: on a full disk the copy fails, and nothing is changed."""
    with small_filesystem(tmp_path / "disk", "8m") as disk:
        shutil.copytree(site / "site", disk / "site")
        (disk / "resolutions").mkdir()
        build(disk)
        free = shutil.disk_usage(disk).free  # leave room for half a copy of the database
        (disk / "filler").write_bytes(b"\0" * max(0, free - (disk / "data.db").stat().st_size // 2))
        edit_article(disk)
        before = tree(disk)
        result = run_cli("build", "--content", disk / "site" / "content", "--db", disk / "data.db",
                         "--resolutions", disk / "resolutions", "--quiet")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "cannot write the database" in result.output and "was left as it was" in result.output
        assert tree(disk) == before


def test_authors_and_tags_rows_follow_the_first_post_naming_them(site):
    """A post placed first in build order that names an author and a tag in other words gives their rows; deleting it
    gives them back to the next post naming them (read again for its front matter)."""
    source = reviewed(site)[0].read_text()
    author = re.search(r"  - name: (.+)\n    link: (.+)\n", source)
    tag = re.search(r"tags:\n(?:  #.*\n)?  - (.+)\n", source)[1]
    text = source.replace(author[2], "https://elsewhere.example/", 1).replace(f"  - {tag}\n", f"  - {tag.upper()}\n", 1)
    (site / "site" / "content" / "blog" / "aaa-first").mkdir()
    post(site, "aaa-first").write_text(text.replace("title: Predictions", "title: First Predictions", 1))
    assert UPDATED in build(site)
    assert_same_as_full(site)
    conn = sqlite3.connect(site / "data.db")
    assert conn.execute("SELECT link FROM authors WHERE name = ?", [author[1]]).fetchone() == (
        "https://elsewhere.example/",)
    assert conn.execute("SELECT count(*) FROM tags WHERE name = ?", [tag.upper()]).fetchone() == (1,)
    conn.close()
    shutil.rmtree(post(site, "aaa-first").parent)
    assert UPDATED in build(site)
    assert_same_as_full(site)
    assert sqlite3.connect(site / "data.db").execute("SELECT link FROM authors WHERE name = ?",
                                                     [author[1]]).fetchone() == (author[2],)


@pytest.mark.parametrize("seed", [1, 2, 9])
def test_random_sequences_of_changes(site, seed):
    """Changes drawn at random, one after another: after each, the updated database equals a full build's. A change
    the corpus cannot take (nothing left to apply it to, or one that makes a build fail) is undone and skipped."""
    rng = random.Random(seed)
    content = site / "site" / "content"
    done = 0
    for _ in range(6):
        snapshot = tree(content)
        try:
            rng.choice(CHANGES)(site)
        except (StopIteration, TypeError, IndexError, FileExistsError):
            continue
        result = run_cli("build", "--content", content, "--db", site / "check.db", "--resolutions",
                         site / "resolutions", "--quiet", "--full")
        if result.exit_code != 0:  # an invalid corpus: undo it
            shutil.rmtree(content)
            for rel, data in snapshot.items():
                (content / rel).parent.mkdir(parents=True, exist_ok=True)
                (content / rel).write_bytes(data)
            continue
        assert UPDATED in build(site)
        assert_same_as_full(site)
        done += 1
    assert done >= 3
