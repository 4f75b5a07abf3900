"""Dataset folders (issue 10): predictions.toml found upward, everything written inside the folder, sources from
git (the real blog's history bundle and repositories made here), licenses per source, serve on any database."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import RESOLUTIONS, ROOT, SHARED, free_port, get, serving
from predictions.cli import cli

BUNDLE = SHARED / "corpus" / "aimlbling-about" / "history.bundle"
PREDICTIONS = Path(sys.executable).with_name("predictions")
POST = """---
title: Predictions 2040
date: 2040-01-01
authors:
  - name: {author}
tags: [weather]
---

## Weather

It rains on new year's day. _Probability: 70%_

It snows in July. _Probability: 5%_
"""


def blog(root, title="Rain Blog", author="Ada", license="CC BY 4.0",
         license_url="https://creativecommons.org/licenses/by/4.0/", base_url="https://rain.example/", slug="p"):
    """A Hugo site as a blogger keeps it: hugo.yaml and content/blog/<slug>/index.md."""
    root = Path(root)
    (root / "content" / "blog" / slug).mkdir(parents=True, exist_ok=True)
    (root / "hugo.yaml").write_text(f'title: {title}\nbaseURL: "{base_url}"\nparams:\n  author: {author}\n'
                                    f'  license: "{license}"\n  license_url: "{license_url}"\n')
    (root / "content" / "blog" / slug / "index.md").write_text(POST.format(author=author))
    return root


def run(folder, *args, code=0):
    """`predictions ARGS` in-process with the working directory at folder; asserts the exit code."""
    old = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(old)
    assert result.exit_code == code, result.output + result.stderr
    return result


def query(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def repository_state():
    """What a command run elsewhere must never touch in this checkout."""
    files = [ROOT / "data.db", ROOT / "build", RESOLUTIONS, ROOT / ".data.db.cache"]
    return {str(p): (p.stat().st_mtime_ns if p.exists() else None) for p in files} | {
        "resolutions": sorted((p.name, p.stat().st_mtime_ns) for p in RESOLUTIONS.iterdir())}


def test_a_blog_folder_without_config_is_its_own_dataset(tmp_path):
    before = repository_state()
    folder = blog(tmp_path / "rain")
    run(folder, "build", "--quiet")
    assert query(folder / "data.db", "select id, title, license from sources") == [("rain", "Rain Blog", "CC BY 4.0")]
    assert query(folder / "data.db", "select count(*) from predictions") == [(2,)]
    run(folder, "export")
    assert (folder / "build" / "predictions.csv").is_file() and (folder / "build" / "LICENSE.md").is_file()
    assert repository_state() == before


def test_init_writes_a_config_that_every_command_finds_from_below(tmp_path):
    folder = blog(tmp_path / "rain")
    result = run(folder, "init")
    assert "hugo" in result.output and "predictions.toml" in result.output
    text = (folder / "predictions.toml").read_text()
    assert 'license = "CC BY 4.0"' in text and 'site_config = "hugo.yaml"' in text
    run(folder, "init", code=1)  # never overwrites one without --force
    below = folder / "content" / "blog"
    run(below, "build", "--quiet")
    assert (folder / "data.db").is_file() and not (below / "data.db").exists()
    page = run(below, "serve", "--get", "/-/metadata.json").output
    meta = json.loads(page[page.index("{"):])
    assert meta["title"] == "Rain Blog: forecasts" and meta["license"] == "CC BY 4.0"
    assert meta["source"] == "Rain Blog (Ada)" and meta["source_url"] == "https://rain.example/"
    home = run(below, "serve", "--get", "/").output
    assert "Rain Blog" in home and "AI/MLbling" not in home and "CC BY 4.0" in home


def test_config_errors_name_the_file_and_what_to_do(tmp_path):
    folder = blog(tmp_path / "rain")
    for text, message in [
        ('titel = "x"\n', "unknown key 'titel'"),
        ('[[sources]]\npath = "."\n', "name must be"),
        ('[[sources]]\nname = "a"\npath = "."\ngit = "https://x.example/r.git"\n', "exactly one of path"),
        ('[[sources]]\nname = "a"\npath = "."\ncontent = "../../etc"\n', "leaves it"),
        ("title = \n", "not valid TOML"),
    ]:
        (folder / "predictions.toml").write_text(text)
        result = run(folder, "build", code=1)
        assert "predictions.toml" in result.stderr and message in result.stderr, (text, result.stderr)
        assert not (folder / "data.db").exists()
    result = run(folder, "--config", folder / "missing.toml", "build", code=1)
    assert "no such config file" in result.stderr


def test_two_sources_of_different_licenses_each_on_its_own_rows(tmp_path):
    folder = tmp_path / "dataset"
    blog(folder / "rain", slug="rain-2040")
    blog(folder / "sun", title="Sun Blog", author="Bo", license="CC BY-SA 4.0",
         license_url="https://creativecommons.org/licenses/by-sa/4.0/", base_url="https://sun.example/", slug="sun-2040")
    (folder / "predictions.toml").write_text('title = "Two blogs"\n[[sources]]\nname = "rain"\npath = "rain"\n'
                                             '[[sources]]\nname = "sun"\npath = "sun"\n')
    run(folder, "build", "--quiet")
    rows = query(folder / "data.db", "select source_id, license, count(*) from prediction_overview group by 1, 2")
    assert rows == [("rain", "CC BY 4.0", 2), ("sun", "CC BY-SA 4.0", 2)]
    page = run(folder, "serve", "--get", "/-/metadata.json").output
    meta = json.loads(page[page.index("{"):])
    assert "CC BY 4.0" in meta["license"] and "CC BY-SA 4.0" in meta["license"]
    assert "Rain Blog" in meta["description_html"] and "Sun Blog" in meta["description_html"]
    run(folder, "export")
    pkg = json.loads((folder / "build" / "datapackage.json").read_text())
    assert {x["name"] for x in pkg["licenses"]} == {"CC-BY-4.0", "CC-BY-SA-4.0"}
    assert "ShareAlike" in (folder / "build" / "LICENSE.md").read_text()


def test_one_slug_in_two_sources_is_an_error_until_a_prefix_separates_them(tmp_path):
    folder = tmp_path / "dataset"
    blog(folder / "rain")
    blog(folder / "sun", title="Sun Blog", base_url="https://sun.example/")
    config = '[[sources]]\nname = "rain"\npath = "rain"\n[[sources]]\nname = "sun"\npath = "sun"\n'
    (folder / "predictions.toml").write_text(config)
    assert "two posts have the slug 'p'" in run(folder, "build", code=1).stderr
    (folder / "predictions.toml").write_text(config + 'id_prefix = "sun-"\n')
    run(folder, "build", "--quiet")
    assert query(folder / "data.db", "select id from posts order by id") == [("p",), ("sun-p",)]


def bundle_head():
    return subprocess.run(["git", "bundle", "list-heads", str(BUNDLE)], capture_output=True, text=True,
                          check=True).stdout.split()[0]


def history_dataset(folder, ref=None):
    folder.mkdir(parents=True, exist_ok=True)
    ref_line = f'ref = "{ref}"\n' if ref else ""
    (folder / "predictions.toml").write_text(
        f'title = "AI/MLbling About from git"\nresolutions = "{RESOLUTIONS}"\n'
        f'[[sources]]\nname = "aimlbling-about"\ngit = "{BUNDLE}"\n{ref_line}root = "hugo"\ncontent = "content"\n'
        'site_config = "config/_default/hugo.yaml"\n')
    return folder


def test_the_real_blog_from_its_git_history(tmp_path):
    folder = history_dataset(tmp_path / "from-git")
    result = run(folder, "build", code=1)
    assert "not fetched yet: run `predictions fetch`" in result.stderr
    assert "cloned" in run(folder, "fetch").output
    run(folder, "build", "--quiet")
    db = folder / "data.db"
    assert query(db, "select count(*) from predictions") == [(25,)]
    assert query(db, "select count(*) from resolutions") == [(13,)]
    assert query(db, "select id, [commit], license from sources") == [("aimlbling-about", bundle_head(), "CC BY-NC 4.0")]
    # the build's inputs are recorded: a later serve compares them
    inputs = json.loads(query(db, "select value from build_info where key = 'inputs'")[0][0])
    assert inputs["sources"][0]["git"] == str(BUNDLE)
    assert "current" in run(folder, "fetch").output or "updated" in run(folder, "fetch").output


def test_fetch_offline_uses_the_warm_cache_and_fails_clearly_without_one(tmp_path):
    folder = history_dataset(tmp_path / "warm", ref="main")
    run(folder, "fetch")
    gone = tmp_path / "no-such-remote.bundle"
    result = run(folder, "--from", f"aimlbling-about={gone}", "fetch")
    assert "offline" in result.output and "building from the cached copy" in result.stderr
    run(folder, "build", "--quiet")
    assert query(folder / "data.db", "select count(*) from predictions") == [(25,)]
    cold = history_dataset(tmp_path / "cold", ref="main")
    result = run(cold, "--from", f"aimlbling-about={gone}", "fetch", code=1)
    assert "cannot clone" in result.stderr and "no cached copy" in result.stderr
    assert not (cold / ".predictions" / "git" / "aimlbling-about").exists()


def test_a_pinned_commit_is_built_without_fetching_again(tmp_path):
    head = bundle_head()
    folder = history_dataset(tmp_path / "pinned", ref=head)
    run(folder, "fetch")
    gone = tmp_path / "no-such-remote.bundle"
    assert "current" in run(folder, "--from", f"aimlbling-about={gone}", "fetch").output


def test_from_maps_a_source_to_a_local_folder_without_editing_the_config(tmp_path):
    folder = history_dataset(tmp_path / "mapped")
    config = (folder / "predictions.toml").read_bytes()
    corpus = SHARED / "corpus" / "aimlbling-about"
    run(folder, "--from", f"aimlbling-about={corpus}", "build", "--quiet")
    assert query(folder / "data.db", "select count(*) from predictions") == [(25,)]
    assert (folder / "predictions.toml").read_bytes() == config
    assert "names no source" in run(folder, "--from", f"nope={corpus}", "build", code=1).stderr


def test_serve_takes_any_database_name_and_never_rebuilds_from_other_inputs(tmp_path):
    folder = blog(tmp_path / "rain")
    other = blog(tmp_path / "other", title="Other Blog", slug="q")
    run(folder, "build", "--db", "forecasts.db", "--quiet")
    scores = run(folder, "serve", "--db", "forecasts.db", "--get", "/data/prediction_overview.json?_shape=array")
    assert len(json.loads(scores.output[scores.output.index("["):])) == 2
    run(folder, "build", "--content", other / "content", "--quiet")
    before = (folder / "data.db").read_bytes()
    (folder / "content" / "blog" / "p" / "index.md").touch()
    result = run(folder, "serve", "--get", "/data/sources.json?_shape=array")
    assert "not rebuilt" in result.stderr and (folder / "data.db").read_bytes() == before
    assert "Other Blog" in result.output


def test_resolve_knows_the_dataset_and_checks_source_urls(tmp_path):
    folder = blog(tmp_path / "rain")
    run(folder, "init")
    result = run(folder, "resolve", "p/weather/1", "--outcome", "true", "--source", "not a url", code=2)
    assert "is not a URL" in result.output
    run(folder, "resolve", "p/weather/1", "--outcome", "true", "--source", "https://weather.example/2040")
    assert "p/weather/1:" in (folder / "resolutions" / "p.yml").read_text()
    run(folder, "build", "--quiet")
    assert query(folder / "data.db", "select prediction_id, outcome from resolutions") == [("p/weather/1", "true")]


def test_a_running_server_shows_a_rebuilt_database(tmp_path):
    folder = blog(tmp_path / "rain")
    run(folder, "build", "--quiet")
    with serving([PREDICTIONS, "serve"], tmp_path / "serve.log", cwd=folder) as base:
        url = base + "/data/predictions.json?_shape=array"
        assert len(json.loads(get(url)[2])) == 2
        post = folder / "content" / "blog" / "p" / "index.md"
        post.write_text(post.read_text() + "\nIt hails in May. _Probability: 20%_\n")
        run(folder, "build", "--quiet")
        deadline = time.monotonic() + 60
        while True:
            try:
                if len(json.loads(get(url)[2])) == 3:
                    break
            except OSError:
                pass  # restarting
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    """The package built as a wheel and installed (not editable) into a fresh virtual environment."""
    where = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", where / "dist", ROOT],
                   check=True, capture_output=True)
    [wheel] = (where / "dist").glob("predictions-*.whl")
    subprocess.run([sys.executable, "-m", "venv", where / "venv"], check=True)
    pip = subprocess.run([where / "venv" / "bin" / "pip", "install", "--quiet", wheel], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    return where / "venv" / "bin"


def test_the_installed_wheel_works_in_a_blog_folder_outside_the_checkout(wheel_env, tmp_path):
    before = repository_state()
    folder = blog(tmp_path / "rain")

    def predictions(*args):
        done = subprocess.run([wheel_env / "predictions", *args], cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    predictions("init")
    predictions("build")
    home = predictions("serve", "--get", "/")
    assert "Rain Blog" in home and "CC BY 4.0" in home
    meta = predictions("serve", "--get", "/-/metadata.json")
    assert json.loads(meta)["title"] == "Rain Blog: forecasts"
    assert "calibration" in predictions("serve", "--get", "/data.json")
    predictions("export")
    assert (folder / "build" / "datapackage.json").is_file()
    assert {p.name for p in folder.iterdir()} >= {"data.db", "build", "predictions.toml", ".predictions"}
    site_packages = next((wheel_env.parent / "lib").glob("python3*/site-packages"))
    assert not list(site_packages.rglob("*.db")) and not (site_packages / "build").exists()
    assert repository_state() == before
    # the git source, through the installed tool
    (folder / "predictions.toml").write_text(
        f'[[sources]]\nname = "aimlbling-about"\ngit = "{BUNDLE}"\nroot = "hugo"\n'
        'site_config = "config/_default/hugo.yaml"\n')
    predictions("fetch")
    predictions("build")
    assert query(folder / "data.db", "select count(*) from predictions") == [(25,)]


def test_the_publishing_workflow_runs_its_steps_here_and_deploys_only_a_changed_database(tmp_path):
    import yaml

    folder = history_dataset(tmp_path / "published")
    port = free_port()
    run(folder, "publish", "--workflow", "--site-url", f"http://127.0.0.1:{port}")
    flow = yaml.safe_load((folder / ".github" / "workflows" / "publish-forecasts.yml").read_text())
    assert {"push", "schedule"} <= set(flow[True])  # YAML reads the key `on` as True
    steps = {s["name"]: s for s in flow["jobs"]["publish"]["steps"] if "name" in s}
    env = {**os.environ, "PATH": f"{PREDICTIONS.parent}:{os.environ['PATH']}", "SITE_URL": f"http://127.0.0.1:{port}",
           "GITHUB_OUTPUT": str(tmp_path / "output")}

    def step(name):
        done = subprocess.run(["bash", "-e", "-c", steps[name]["run"]], cwd=folder, env=env, capture_output=True,
                              text=True)
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        return done.stdout

    for name in ("Fetch the sources", "Build", "Test the site", "Prepare the site folder"):
        step(name)
    assert (folder / "site" / "data.db").is_file() and (folder / "site" / "Dockerfile").is_file()
    step("Did the database change?")
    assert (tmp_path / "output").read_text().splitlines()[-1] == "deploy=true"  # nothing live yet
    with serving([PREDICTIONS, "serve", "--db", folder / "site" / "data.db"], tmp_path / "serve.log", cwd=folder) as base:
        env["SITE_URL"] = base
        step("Did the database change?")
    assert (tmp_path / "output").read_text().splitlines()[-1] == "deploy=false"  # the live site has this database
    assert steps["Deploy to Fly"]["if"] == "steps.changed.outputs.deploy == 'true'"


def test_the_track_record_shows_the_history_flags_of_a_git_source(tmp_path):
    folder = history_dataset(tmp_path / "flags")
    run(folder, "fetch")
    run(folder, "build", "--quiet")
    page = run(folder, "serve", "--get", "/-/metadata.json").output
    charts = json.loads(page[page.index("{"):])["plugins"]["datasette-dashboards"]["track-record"]["charts"]
    sql = charts["published_late"]["query"]
    assert charts["probability_changed"]["query"] == sql
    params = dict.fromkeys(("post", "year", "tag", "author"), "")
    # SOURCE.md: predictions-2026 (12 forecasts) first published 2026-01-03, after its year began; predictions-2025
    # (13) on 2025-01-01; no stated probability ever changed
    assert query_params(folder / "data.db", sql, params) == [("12 of 25", "0 of 25")]
    assert query_params(folder / "data.db", sql, params | {"year": "2025"}) == [("0 of 13", "0 of 13")]
    plain = blog(tmp_path / "rain")
    run(plain, "build", "--quiet")
    assert query_params(plain / "data.db", sql, params) == [("–", "–")]  # no git source: nothing to count


def query_params(db, sql, params):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
