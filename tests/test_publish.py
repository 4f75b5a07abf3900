"""`predictions publish`: a deployable site folder, rewritten only when its inputs change. Nothing is deployed."""

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import tomllib
from importlib.metadata import version

import pytest
import yaml

from conftest import ROOT, get, processes, run_cli, serving
from predictions import config, site_settings
from predictions.publish import APP_UID, REQUIREMENTS, publish_site
from predictions.sitemeta import site_metadata


def publish(db, out, *extra):
    result = run_cli("publish", "--db", db, "--out", out, *extra)
    assert result.exit_code == 0, result.output + result.stderr
    return result.output


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder):
    return {p.relative_to(folder): (p.stat().st_mtime_ns, sha256(p)) for p in sorted(folder.rglob("*")) if p.is_file()}


def command(site):
    """The container's command, as the Dockerfile's exec-form CMD."""
    return json.loads(re.search(r"^CMD (\[.*\])$", (site / "Dockerfile").read_text(), re.M)[1])


@pytest.fixture(scope="module")
def site(corpus_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    publish(corpus_db, out, "--url", "https://predictions.example.org/")
    return out


def test_site_folder_holds_the_database_its_inspect_file_and_the_metadata(site, corpus_db):
    assert (site / "data.db").read_bytes() == corpus_db.read_bytes()
    assert (site / "data.db.sha256").read_text() == f"{sha256(corpus_db)}  data.db\n"
    inspect = json.loads((site / "inspect-data.json").read_text())["data"]
    assert inspect["hash"] == sha256(corpus_db) and inspect["file"] == "data.db"
    db = sqlite3.connect(corpus_db)
    assert inspect["tables"]["predictions"]["count"] == db.execute("select count(*) from predictions").fetchone()[0]
    # the metadata is the site's, generated for this database and this dataset (the repository's own)
    assert yaml.safe_load((site / "metadata.yml").read_text()) == site_metadata(config.find(ROOT), corpus_db)
    for folder, src in (("plugins", site_settings.PLUGINS), ("templates", site_settings.TEMPLATES)):
        files = {p.relative_to(src) for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert files and {p.relative_to(site / folder) for p in (site / folder).rglob("*") if p.is_file()} == files
    pkg = json.loads((site / "downloads" / "datapackage.json").read_text())
    assert pkg["homepage"] == "https://predictions.example.org/" and "https://predictions.example.org/" in pkg["citation"]
    assert (site / "downloads" / "LICENSE.md").is_file() and (site / "downloads" / "predictions.csv").is_file()


def test_dockerfile_pins_and_serves_immutable_with_the_site_settings(site):
    text = (site / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt" in text
    assert (site / "requirements.txt").read_bytes() == REQUIREMENTS.read_bytes()
    argv = command(site)
    pairs = list(zip(argv, argv[1:], strict=False))
    assert argv[:2] == ["datasette", "serve"] and ("-i", "data.db") in pairs and "data.db" not in argv[2:argv.index("-i")]
    assert ("--inspect-file", "inspect-data.json") in pairs and ("-m", "metadata.yml") in pairs
    assert ("--static", "downloads:downloads") in pairs and "--cors" in argv
    if (ROOT / "plugins").is_dir():
        assert ("--plugins-dir", "plugins") in pairs
    if (ROOT / "templates").is_dir():
        assert ("--template-dir", "templates") in pairs
    settings = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "--setting"}
    assert settings == {k: site_settings.setting_text(v) for k, v in site_settings.SETTINGS.items()}
    fly = tomllib.loads((site / "fly.toml").read_text())
    assert fly["build"]["dockerfile"] == "Dockerfile"
    assert str(fly["http_service"]["internal_port"]) == argv[argv.index("--port") + 1]


def test_the_container_command_serves_the_site(site):
    """The Dockerfile's command, run here with Datasette's --get (no port, no container)."""
    argv = [sys.executable, "-m", "datasette", *command(site)[1:]]
    rows = site_settings.SETTINGS["max_returned_rows"]
    for path, check in [("/-/settings.json", lambda d: d["max_returned_rows"] == rows),
                        ("/downloads/datapackage.json", lambda d: d["resources"][0]["name"] == "sources"),
                        ("/data/predictions.json?_shape=array&_size=2", lambda d: len(d) == 2)]:
        out = subprocess.run([*argv, "--get", path], cwd=site, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert check(json.loads(out.stdout)), path


def test_the_container_answers_visitors_sql_from_a_second_process(site, tmp_path, monkeypatch):
    """The Dockerfile's ENV and command, run here on a loopback port: the site starts the Datasette for visitors'
    SQL (on a Unix socket, at the lowest CPU priority), which answers them."""
    name, value = re.search(r"^ENV (\w+)=(\S+)$", (site / "Dockerfile").read_text(), re.M).groups()
    assert name == site_settings.SQL_PROCESS_ENV and value == "1"
    monkeypatch.setenv(name, value)
    argv = command(site)[1:]
    argv[argv.index("--host") + 1] = "127.0.0.1"
    del argv[argv.index("--port"):argv.index("--port") + 2]  # serving() gives it a free one
    with serving([sys.executable, "-m", "datasette", *argv], tmp_path / "serve.log", cwd=site) as url:
        procs = processes()
        port = url.rsplit(":", 1)[1].encode()
        [server] = [pid for pid, (_, _, args) in procs.items() if b"datasette" in args and port in args]
        [sql] = [pid for pid, (parent, _, args) in procs.items() if parent == server and b"--uds" in args]
        assert procs[sql][1] == 19
        status, _, body = get(url + "/data.json?_shape=array&sql=select+count(*)+as+n+from+predictions")
        assert status == 200 and json.loads(body)[0]["n"] > 0


def test_publishing_again_changes_nothing(corpus_db, tmp_path):
    publish(corpus_db, tmp_path)
    before = snapshot(tmp_path)
    output = publish(corpus_db, tmp_path)
    assert "nothing written" in output
    assert snapshot(tmp_path) == before


def test_a_changed_database_is_published(corpus_db, bundled_db, tmp_path):
    publish(corpus_db, tmp_path)
    before = snapshot(tmp_path)
    publish(bundled_db, tmp_path)
    after = snapshot(tmp_path)
    assert (tmp_path / "data.db").read_bytes() == bundled_db.read_bytes()
    assert json.loads((tmp_path / "inspect-data.json").read_text())["data"]["hash"] == sha256(bundled_db)
    assert (tmp_path / "data.db.sha256").read_text().split()[0] == sha256(bundled_db)
    changed = {str(p) for p in after if after[p] != before.get(p)}
    assert {"data.db", "inspect-data.json", "data.db.sha256", "downloads/predictions.csv"} <= changed
    assert "Dockerfile" not in changed and "fly.toml" not in changed  # metadata.yml names the new database's sources


def test_files_gone_from_the_project_are_removed_from_the_site(corpus_db, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "one.py").write_text("# one\n")
    (plugins / "two.py").write_text("# two\n")
    folders = {"plugins": plugins, "templates": tmp_path / "no-templates"}
    out = tmp_path / "site"
    publish_site(corpus_db, out, folders=folders)
    assert "--template-dir" not in command(out) and "--plugins-dir" in command(out)
    (plugins / "two.py").unlink()
    changed, _ = publish_site(corpus_db, out, folders=folders)
    assert sorted(changed) == [out / ".dockerignore", out / "plugins" / "two.py"]  # .dockerignore lists the files
    assert sorted(p.name for p in (out / "plugins").iterdir()) == ["one.py"]


def locked(text):
    """{name: (version, number of hashes)} of a pip requirements file with hashes."""
    found, name = {}, None
    for line in text.splitlines():
        if m := re.match(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)", line):
            name = m[1].lower().replace("_", "-")
            found[name] = (m[2], 0)
        elif name and "--hash=sha256:" in line:
            found[name] = (found[name][0], found[name][1] + 1)
    return found


def test_the_container_installs_a_lock_with_hashes_as_a_user_that_is_not_root(site):
    """Issue 15, item 15: every package of the container pinned with a hash, the site's two pins included; the
    server runs as an unprivileged user; the base image pinned by digest when one is given."""
    lock = locked((site / "requirements.txt").read_text())
    wanted = dict(line.split("==") for line in (ROOT / "requirements" / "site.in").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert {n: lock[n][0] for n in wanted} == wanted and wanted["datasette"] == "0.65.5"
    assert all(hashes >= 1 for _, hashes in lock.values()) and len(lock) > 10  # the dependencies too
    text = (site / "Dockerfile").read_text()
    lines = text.splitlines()
    user = [line for line in lines if line.startswith("USER ")]
    assert user == [f"USER {APP_UID}"] and APP_UID != 0
    assert lines.index(user[0]) < lines.index(next(line for line in lines if line.startswith("CMD ")))
    assert "useradd --system --uid 10001" in text


def test_the_base_image_is_pinned_by_the_digest_given(bundled_db, tmp_path):
    digest = "sha256:" + "ab" * 32
    out = tmp_path / "site"
    result = run_cli("publish", "--db", bundled_db, "--out", out, "--base-image", f"python:3.11-slim@{digest}")
    assert result.exit_code == 0, result.output
    assert f"FROM python:3.11-slim@{digest}\n" in (out / "Dockerfile").read_text()
    assert "NOT PINNED" not in (out / "Dockerfile").read_text() and "not pinned" not in result.stderr
    refused = run_cli("publish", "--db", bundled_db, "--out", out, "--base-image", "python:3.11-slim")
    assert refused.exit_code == 2 and "name@sha256:<64 hex digits>" in refused.output


def test_an_unpinned_base_image_is_said_so(bundled_db, tmp_path):
    from predictions import publish as module

    result = run_cli("publish", "--db", bundled_db, "--out", tmp_path / "site")
    assert result.exit_code == 0
    if not module.BASE_IMAGE_DIGEST:  # as shipped here: no registry was reachable to read a digest
        assert "base image is not pinned by digest" in result.stderr
        assert (tmp_path / "site" / "Dockerfile").read_text().count("NOT PINNED") == 1


def test_the_container_installs_everything_the_site_plugins_import():
    """A published site has no predictions package: each plugin imports only the standard library and the lock."""
    import ast

    locked = {re.match(r"^([A-Za-z0-9_.-]+)==", line)[1].lower().replace("_", "-")
              for line in REQUIREMENTS.read_text().splitlines() if re.match(r"^[A-Za-z0-9_.-]+==", line)}
    modules = {"datasette": "datasette", "numpy": "numpy", "scipy": "scipy", "markupsafe": "markupsafe",
               "jinja2": "jinja2", "yaml": "pyyaml", "datasette_dashboards": "datasette-dashboards", "httpx": "httpx"}
    for path in site_settings.PLUGINS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names:
                    continue
                assert top in modules and modules[top] in locked, f"{path.name} imports {name}, not in the container"
    # the lock's input names every site plugin at the version the tests ran

    pins = dict(line.split("==") for line in (ROOT / "requirements" / "site.in").read_text().splitlines() if "==" in line)
    assert {"datasette-dashboards", "datasette-atom", "scipy"} <= set(pins)
    assert all(pins[name] == version(name) for name in pins)
