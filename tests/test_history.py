"""Forecast history: small git repositories made here (a probability edited in February, a forecast added in
March, a section renamed, a file renamed, a shortcode turned into an admonition), the cache, and the real blog's
history bundle asserted as issue 12 states it. Expected versions come from `git log --follow` run here."""

import math
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import SHARED, run_cli
from predictions import build, config, site_settings

BUNDLE = SHARED / "corpus" / "aimlbling-about" / "history.bundle"
QUERIES = yaml.safe_load(site_settings.METADATA.read_text())["databases"]["data"]["queries"]


class Repo:
    """A blog kept in git: a Hugo site at the repository's root, commits with the dates a test gives."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True)
        self.git("init", "--quiet", "--initial-branch=main")
        (self.path / "hugo.yaml").write_text('title: Git Blog\nbaseURL: "https://git.example/"\n')

    def git(self, *args, date=None):
        env = {**os.environ, "GIT_AUTHOR_NAME": "Ann", "GIT_AUTHOR_EMAIL": "ann@example.org",
               "GIT_COMMITTER_NAME": "Ann", "GIT_COMMITTER_EMAIL": "ann@example.org"}
        if date:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{date}T12:00:00+00:00"
        return subprocess.run(["git", *args], cwd=self.path, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()

    def commit(self, date, message, files=(), moves=()):
        for old, new in moves:
            (self.path / new).parent.mkdir(parents=True, exist_ok=True)
            self.git("mv", old, new)
        for rel, text in dict(files).items():
            (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.path / rel).write_text(text)
            self.git("add", rel)
        self.git("add", "hugo.yaml")
        self.git("commit", "--quiet", "-m", message, date=date)
        return self.git("rev-parse", "HEAD")


def post(title, body, date="2030-01-01", **meta):
    front = [f"title: {title}"] + ([f"date: {date}"] if date else []) + [f"{k}: {v}" for k, v in meta.items()]
    return "---\n" + "\n".join(front) + "\n---\n\n" + body


def dataset(folder, repo, resolutions=None):
    """A dataset folder whose one source is the repository (or bundle); fetched, ready to build."""
    folder.mkdir(parents=True, exist_ok=True)
    res = resolutions or folder / "resolutions"
    (folder / "predictions.toml").write_text(f'resolutions = "{res}"\n[[sources]]\nname = "blog"\ngit = "{repo}"\n')
    assert run_cli("--config", folder / "predictions.toml", "fetch").exit_code == 0
    return folder


def build_it(folder, *extra):
    result = run_cli("--config", folder / "predictions.toml", "build", "--quiet", *extra)
    assert result.exit_code == 0, result.output + result.stderr
    return folder / "data.db"


def rows(db, sql, params=()):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def canned(db, name, **params):
    """A canned query of the site's metadata.yml, its parameters empty unless given (as Datasette sends them)."""
    query = QUERIES[name]
    return rows(db, query["sql"], {p: params.get(p, "") for p in query["params"]})


def history_of(db, post_id):
    (row,) = canned(db, "history", post=post_id)
    return row


def changes(db, post_id):
    return rows(db, "select prediction_id, version_prediction_id, version, date, kind, old_value, new_value, "
                    "old_percent, new_percent, formatting_only from forecast_changes where post_id = ? order by id",
                [post_id])


P = "content/blog/p/index.md"


def test_probability_edited_in_february_is_flagged_and_scored_as_first_published(tmp_path):
    repo = Repo(tmp_path / "repo")
    body = "## Weather\n\nIt rains on new year's day. _Probability: {a}_\n\nIt snows in July. _Probability: 20%_\n"
    repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", body.format(a="70%"))})
    repo.commit("2030-02-10", "more sure now", {P: post("Predictions 2030", body.format(a="80%"))})
    res = tmp_path / "res"
    res.mkdir()
    (res / "p.yml").write_text("resolutions:\n  p/weather/1:\n    outcome: true\n  p/weather/2:\n    outcome: false\n")
    db = build_it(dataset(tmp_path / "ds", repo.path, res))
    assert rows(db, "select prediction_id, first_published, first_stated_percent, first_probability, "
                    "probability_changes, probability_changed, added_later, published_after_period_start "
                    "from forecast_history order by prediction_id") == [
        dict(prediction_id="p/weather/1", first_published="2030-01-01", first_stated_percent=70.0, first_probability=0.7,
             probability_changes=1, probability_changed=1, added_later=0, published_after_period_start=0),
        dict(prediction_id="p/weather/2", first_published="2030-01-01", first_stated_percent=20.0, first_probability=0.2,
             probability_changes=0, probability_changed=0, added_later=0, published_after_period_start=0),
    ]
    assert changes(db, "p") == [dict(prediction_id="p/weather/1", version_prediction_id="p/weather/1", version=2,
                                     date="2030-02-10", kind="probability", old_value="70%", new_value="80%",
                                     old_percent=70.0, new_percent=80.0, formatting_only=None)]
    assert history_of(db, "p") == dict(post_id="p", first_published="2030-01-01", versions=2, forecasts_first_version=2,
                                       forecasts_now=2, probability_changes=1, statement_changes=0,
                                       added_after_period_start=0)
    # scores: the current 80% (true) and 20% (false); probabilities=first: the 70% first published
    (now,), (first,) = canned(db, "scores"), canned(db, "scores", probabilities="first")
    assert abs(now["brier_0_1"] - ((0.8 - 1) ** 2 + 0.2 ** 2) / 2) < 1e-12
    assert abs(first["brier_0_1"] - ((0.7 - 1) ** 2 + 0.2 ** 2) / 2) < 1e-12
    bits = (1 + math.log2(0.7)) + (1 + math.log2(0.8))
    assert first["n_resolved"] == 2 and abs(first["log_score_bits_clipped"] - bits / 2) < 1e-12


def test_forecast_added_in_march_is_published_after_its_period_began(tmp_path):
    repo = Repo(tmp_path / "repo")
    first = "## Weather\n\nIt rains on new year's day. _Probability: 70%_\n"
    repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", first)})
    later = first + "\n## Sport\n\nThe home team wins the cup. _Probability: 40%_\n"
    repo.commit("2030-03-03", "one more", {P: post("Predictions 2030", later)})
    db = build_it(dataset(tmp_path / "ds", repo.path))
    assert rows(db, "select prediction_id, first_published, added_later, days_after_period_start, "
                    "published_after_period_start, period_start from forecast_history order by prediction_id") == [
        dict(prediction_id="p/sport/1", first_published="2030-03-03", added_later=1, days_after_period_start=31 + 28 + 2,
             published_after_period_start=1, period_start="2030-01-01"),
        dict(prediction_id="p/weather/1", first_published="2030-01-01", added_later=0, days_after_period_start=0,
             published_after_period_start=0, period_start="2030-01-01"),
    ]
    assert [(c["prediction_id"], c["kind"], c["version"], c["date"]) for c in changes(db, "p")] == [
        ("p/sport/1", "added", 2, "2030-03-03")]
    assert history_of(db, "p") == dict(post_id="p", first_published="2030-01-01", versions=2, forecasts_first_version=1,
                                       forecasts_now=2, probability_changes=0, statement_changes=0,
                                       added_after_period_start=1)


def test_section_renamed_keeps_the_forecast_and_records_its_new_id(tmp_path):
    repo = Repo(tmp_path / "repo")
    text = "The grid sees a record peak in August. _Probability: 60%_\n"
    other = "\n## Sport\n\nThe home team wins the cup. _Probability: 40%_\n"
    repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", "## Power\n\n" + text + other)})
    repo.commit("2030-01-20", "better heading", {P: post("Predictions 2030", "## Electric power\n\n" + text + other)})
    db = build_it(dataset(tmp_path / "ds", repo.path))
    assert [(c["prediction_id"], c["kind"], c["old_value"], c["new_value"]) for c in changes(db, "p")] == [
        ("p/electric-power/1", "id", "p/power/1", "p/electric-power/1")]
    assert rows(db, "select prediction_id, first_published, added_later from forecast_history order by 1") == [
        dict(prediction_id="p/electric-power/1", first_published="2030-01-01", added_later=0),
        dict(prediction_id="p/sport/1", first_published="2030-01-01", added_later=0)]


def test_file_renamed_is_followed_and_a_post_without_a_date_takes_its_first_commits(tmp_path):
    repo = Repo(tmp_path / "repo")
    old, new = "content/blog/forecasts-draft/index.md", "content/blog/forecasts/index.md"
    body = "## Weather\n\nIt rains on new year's day. _Probability: 70%_\n\nIt snows in July. _Probability: 5%_\n"
    repo.commit("2030-01-05", "forecasts", {old: post("My forecasts", body, date=None, draft="true")})
    repo.commit("2030-01-07", "publish", {old: post("My forecasts", body, date=None)})
    repo.commit("2030-02-01", "a better slug", moves=[(old, new)])
    db = build_it(dataset(tmp_path / "ds", repo.path))
    assert rows(db, "select position, date, path, change, draft, forecasts from post_versions") == [
        dict(position=1, date="2030-01-05", path="blog/forecasts-draft/index.md", change="added", draft=1, forecasts=2),
        dict(position=2, date="2030-01-07", path="blog/forecasts-draft/index.md", change="modified", draft=0,
             forecasts=2),
        dict(position=3, date="2030-02-01", path="blog/forecasts/index.md", change="renamed", draft=0, forecasts=2),
    ]
    # the date of its first commit; the period of a post without a year in its title begins with that date
    assert rows(db, "select date, year from posts") == [dict(date="2030-01-05", year=2030)]
    assert rows(db, "select prediction_id, first_version, first_published, days_after_period_start, "
                    "published_after_period_start from forecast_history order by 1") == [
        dict(prediction_id=f"forecasts/weather/{n}", first_version=2, first_published="2030-01-07",
             days_after_period_start=2, published_after_period_start=1) for n in (1, 2)]
    assert changes(db, "forecasts") == []  # the draft version is not compared; the rename changed nothing
    checksums = rows(db, "select (select checksum from post_versions where position = 3) = checksum as same from posts")
    assert checksums == [dict(same=1)]


def test_shortcode_turned_into_an_admonition_is_a_formatting_change(tmp_path):
    repo = Repo(tmp_path / "repo")
    head = "## Architecture\n\nOld designs return. _Probability: 75%_\n\n"
    callout = "{{< callout >}}\nBonus:<br>\nInspired by [one paper](https://a.example), more makeovers<br>\n" \
              "_Probability: 60%_\n{{< /callout >}}\n"
    note = "> [!NOTE]\n> Bonus:\\\n> Inspired by [one paper](https://a.example), more makeovers\\\n> _Probability: 60%_\n"
    repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", head + callout)})
    repo.commit("2030-02-16", "alerts", {P: post("Predictions 2030", head + note)})
    repo.commit("2030-03-01", "reword", {P: post("Predictions 2030", head + note.replace("more makeovers", "fewer"))})
    db = build_it(dataset(tmp_path / "ds", repo.path))
    got = changes(db, "p")
    assert [(c["prediction_id"], c["kind"], c["version"], c["formatting_only"]) for c in got] == [
        ("p/architecture/2", "statement", 2, 1), ("p/architecture/2", "statement", 3, 0)]
    assert got[0]["old_value"] == "Bonus:<br>\nInspired by [one paper](https://a.example), more makeovers<br>"
    assert rows(db, "select first_text, statement_changes, formatting_changes from forecast_history "
                    "where prediction_id = 'p/architecture/2'") == [
        dict(first_text="Bonus: Inspired by one paper, more makeovers", statement_changes=1, formatting_changes=1)]
    assert history_of(db, "p")["statement_changes"] == 1


def test_a_styled_source_reads_each_version_with_its_statement_grammar(tmp_path):
    """A post its source names in `forecasts` (list statements, `Statement: 70%`) is read the same way in every
    version, so its forecasts are followed and their probability changes found."""
    repo = Repo(tmp_path / "repo")
    body = "## Politics\n\n- The incumbent wins: {a}\n- Turnout is above 60%: 30%\n"
    repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", body.format(a="70%"))})
    repo.commit("2030-02-01", "less sure", {P: post("Predictions 2030", body.format(a="60%"))})
    folder = dataset(tmp_path / "ds", repo.path)
    toml = folder / "predictions.toml"
    toml.write_text(toml.read_text() + 'forecasts = ["blog/p/index.md"]\n')
    db = build_it(folder)
    assert [(c["version_prediction_id"], c["kind"], c["old_value"], c["new_value"]) for c in changes(db, "p")] == [
        ("p/politics/1", "probability", "70%", "60%")]
    assert history_of(db, "p")["forecasts_first_version"] == 2


def test_removed_forecast_is_recorded_without_a_current_id(tmp_path):
    repo = Repo(tmp_path / "repo")
    a, b = "It rains on new year's day. _Probability: 70%_\n", "\nIt snows in July. _Probability: 5%_\n"
    repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", "## Weather\n\n" + a + b)})
    repo.commit("2030-04-01", "drop one", {P: post("Predictions 2030", "## Weather\n\n" + a)})
    db = build_it(dataset(tmp_path / "ds", repo.path))
    assert [(c["prediction_id"], c["version_prediction_id"], c["kind"], c["date"]) for c in changes(db, "p")] == [
        (None, "p/weather/2", "removed", "2030-04-01")]
    assert history_of(db, "p")["forecasts_first_version"] == 2


def test_a_merged_branch_is_published_when_it_reaches_the_branch(tmp_path):
    repo = Repo(tmp_path / "repo")
    body = "## Weather\n\nIt rains on new year's day. _Probability: {a}_\n"
    repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", body.format(a="70%"))})
    repo.git("checkout", "--quiet", "-b", "edit")
    repo.commit("2030-01-10", "draft an edit", {P: post("Predictions 2030", body.format(a="90%"))})
    repo.git("checkout", "--quiet", "main")
    repo.git("merge", "--quiet", "--no-ff", "-m", "merge the edit", "edit", date="2030-02-20")
    db = build_it(dataset(tmp_path / "ds", repo.path))
    assert [(v["date"], v["message"]) for v in rows(db, "select date, message from post_versions order by position")] \
        == [("2030-01-01", "Predictions 2030"), ("2030-02-20", "merge the edit")]
    assert [(c["kind"], c["date"], c["new_value"]) for c in changes(db, "p")] == [("probability", "2030-02-20", "90%")]


def test_a_rebuild_with_no_new_commits_reads_no_history(tmp_path):
    repo = Repo(tmp_path / "repo")
    body = "## Weather\n\nIt rains on new year's day. _Probability: {a}_\n"
    repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", body.format(a="70%")),
                                                   "content/blog/notes/index.md": post("Notes", "Plain text.\n")})
    repo.commit("2030-02-01", "edit", {P: post("Predictions 2030", body.format(a="75%"))})
    folder = dataset(tmp_path / "ds", repo.path)

    def stats(*, full=False):
        corpus, _ = build.write(config.find(config=folder / "predictions.toml"), full=full)
        return {k: corpus.history[k] for k in ("commits_read", "blobs_read")}

    assert stats() == {"commits_read": 2, "blobs_read": 3}  # two versions of p, one of notes
    before = rows(folder / "data.db", "select * from forecast_changes")
    assert stats() == {"commits_read": 0, "blobs_read": 0}
    assert rows(folder / "data.db", "select * from forecast_changes") == before
    repo.commit("2030-03-01", "edit again", {P: post("Predictions 2030", body.format(a="80%"))})
    assert run_cli("--config", folder / "predictions.toml", "fetch").exit_code == 0
    assert stats() == {"commits_read": 1, "blobs_read": 1}  # only the new commit and its one new version
    assert [c["new_value"] for c in changes(folder / "data.db", "p")] == ["75%", "80%"]
    assert stats(full=True) == {"commits_read": 3, "blobs_read": 4}


def test_a_failed_build_writes_no_history_cache(tmp_path):
    repo = Repo(tmp_path / "repo")
    repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", "## A\n\nRain. _Probability: 70%_\n")})
    folder = dataset(tmp_path / "ds", repo.path)
    (folder / "resolutions").mkdir()
    (folder / "resolutions" / "p.yml").write_text("resolutions:\n  p/a/9:\n    outcome: true\n")
    result = run_cli("--config", folder / "predictions.toml", "build", "--quiet")
    assert result.exit_code == 1 and "p/a/9" in result.stderr
    assert not (folder / ".predictions" / "history.sqlite").exists()
    assert not (folder / "data.db").exists()


def test_an_old_version_that_cannot_be_read_is_a_warning_not_a_failure(tmp_path):
    repo = Repo(tmp_path / "repo")
    good = post("Predictions 2030", "## A\n\nRain. _Probability: 70%_\n")
    repo.commit("2030-01-01", "broken front matter", {P: "---\ntitle: [unclosed\n---\n\nRain. _Probability: 70%_\n"})
    repo.commit("2030-01-02", "fixed", {P: good})
    db = build_it(dataset(tmp_path / "ds", repo.path))
    (warning,) = rows(db, "select kind, path, line, message from build_warnings where kind = 'history'")
    assert warning["path"].startswith("content/blog/p/index.md at ") and "(2030-01-01)" in warning["path"]
    assert "not valid YAML" in warning["message"] and "this version is not compared" in warning["message"]
    assert rows(db, "select first_published, first_version from forecast_history") == [
        dict(first_published="2030-01-02", first_version=2)]


@pytest.mark.parametrize("lost", ["tree", "blob"])
def test_a_clone_whose_history_git_cannot_read_fails_clearly(tmp_path, lost):
    repo = Repo(tmp_path / "repo")
    body = "## A\n\nRain. _Probability: {a}_\n"
    first = repo.commit("2030-01-01", "Predictions 2030", {P: post("Predictions 2030", body.format(a="70%"))})
    repo.commit("2030-01-02", "edit", {P: post("Predictions 2030", body.format(a="75%"))})
    folder = dataset(tmp_path / "ds", repo.path)
    clone = folder / ".predictions" / "git" / "blog"
    sha = repo.git("rev-parse", f"{first}^{{tree}}" if lost == "tree" else f"{first}:{P}")
    (clone / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    result = run_cli("--config", folder / "predictions.toml", "build", "--quiet")
    assert result.exit_code == 1, result.output
    assert f"blog: cannot read the history of the clone in {clone}" in result.stderr
    assert "run `predictions fetch` to clone it again" in result.stderr and "Traceback" not in result.stderr
    assert not (folder / "data.db").exists() and not (folder / ".predictions" / "history.sqlite").exists()


# ---------------------------------------------------------------- the real blog's history (issue 12's expectations)


def real_history(tmp_path):
    folder = tmp_path / "aimlbling"
    folder.mkdir()
    (folder / "predictions.toml").write_text(
        f'resolutions = "{folder / "resolutions"}"\n[[sources]]\nname = "aimlbling-about"\ngit = "{BUNDLE}"\n'
        'root = "hugo"\ncontent = "content"\nsite_config = "config/_default/hugo.yaml"\n')
    assert run_cli("--config", folder / "predictions.toml", "fetch").exit_code == 0
    return folder, build_it(folder)


def test_the_real_history(tmp_path):
    folder, db = real_history(tmp_path)
    assert canned(db, "history") == [
        dict(post_id="predictions-2025", first_published="2025-01-01", versions=5, forecasts_first_version=13,
             forecasts_now=13, probability_changes=0, statement_changes=0, added_after_period_start=0),
        dict(post_id="year-in-review---2025", first_published="2025-12-23", versions=2, forecasts_first_version=None,
             forecasts_now=0, probability_changes=0, statement_changes=0, added_after_period_start=0),
        # published on 3 January, two days into the year it is about: every one of its forecasts is flagged
        dict(post_id="predictions-2026", first_published="2026-01-03", versions=1, forecasts_first_version=12,
             forecasts_now=12, probability_changes=0, statement_changes=0, added_after_period_start=12),
    ]
    versions = rows(db, "select date, message from post_versions where post_id = 'predictions-2025' order by position")
    assert [v["date"] for v in versions] == ["2025-01-01", "2025-02-16", "2025-02-16", "2025-04-26", "2026-01-01"]
    assert re.search(r"Original commit: bd1b224[0-9a-f]*$", versions[0]["message"])
    # the same 13 ids first and now, none added or removed; the statement changes are formatting only
    first = rows(db, "select prediction_id, first_version, days_after_period_start from forecast_history "
                     "where post_id = 'predictions-2025'")
    assert len(first) == 13 and all(r["first_version"] == 1 and r["days_after_period_start"] == 0 for r in first)
    kinds = rows(db, "select kind, formatting_only, count(*) as n from forecast_changes "
                     "where post_id = 'predictions-2025' group by 1, 2")
    assert [(k["kind"], k["formatting_only"]) for k in kinds] == [("statement", 1)] and kinds[0]["n"] > 0
    # the Bonus stood in a {{< callout >}} in the first version: read as the same note, no shortcode text
    (bonus,) = rows(db, "select h.first_text, h.first_stated_percent, p.text, p.kind from forecast_history h "
                        "join predictions p on p.id = h.prediction_id where h.first_text like 'Bonus%'")
    text = 'Bonus: Inspired by ModernBert, other "deprecated" architectures will be given "modern" makeovers'
    assert bonus == dict(first_text=text, first_stated_percent=60.0, text=text, kind="note")
    assert rows(db, "select count(*) as n from forecast_changes where post_id = 'predictions-2026'") == [dict(n=0)]


def test_the_real_history_matches_git_log_follow(tmp_path):
    """Every post's versions are the commits `git log --follow --first-parent` lists for its file."""
    folder, db = real_history(tmp_path)
    clone = folder / ".predictions" / "git" / "aimlbling-about"
    posts = rows(db, "select id, path from posts")
    assert len(posts) > 30
    for p in posts:
        versions = rows(db, "select [commit] from post_versions where post_id = ? order by position desc", [p["id"]])
        expected = subprocess.run(["git", "log", "--follow", "--first-parent", "--format=%H", "--",
                                   f"hugo/content/{p['path']}"], cwd=clone, capture_output=True, text=True,
                                  check=True).stdout.split()
        assert [v["commit"] for v in versions] == expected, p["id"]
