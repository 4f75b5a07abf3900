"""`predictions export`: CSV, JSON Lines and a Frictionless data package that round-trip to data.db."""

import csv
import datetime as dt
import json
import re
import shutil
import sqlite3
from decimal import Decimal
from importlib.metadata import version

import frictionless
import pytest
import sqlite_utils
import yaml

from conftest import CORPUS, build_db, run_cli
from predictions import site_settings
from predictions.export import exported


def export(db, out, *extra):
    result = run_cli("export", "--db", db, "--out", out, *extra)
    assert result.exit_code == 0, result.output + result.stderr
    return out


@pytest.fixture(scope="module")
def corpus_export(corpus_db, tmp_path_factory):
    return export(corpus_db, tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def package(corpus_export):
    return json.loads((corpus_export / "datapackage.json").read_text(encoding="utf-8"))


def test_every_table_and_public_view_is_exported(corpus_db, corpus_export, package):
    db = sqlite_utils.Database(corpus_db)
    names = [r["name"] for r in package["resources"]]
    internal = {t for t in db.table_names() if "_fts" in t or t.startswith("sqlite_")} | {"build_info"}
    assert names == [t for t in db.table_names() if t not in internal] + db.view_names()
    assert "build_warnings" in names and "prediction_status" in names
    for n in names:
        assert (corpus_export / f"{n}.csv").is_file() and (corpus_export / f"{n}.jsonl").is_file()


def test_package_is_valid_with_every_resource_and_foreign_key(corpus_export, package):
    report = frictionless.validate(corpus_export / "datapackage.json")
    assert report.valid, report.flatten(["title", "message"])[:10]
    assert sorted(t.name for t in report.tasks) == sorted(r["name"] for r in package["resources"])
    fks = [(r["name"], fk["fields"]) for r in package["resources"] for fk in r["schema"].get("foreignKeys", [])]
    assert ("predictions", ["post_id"]) in fks and ("evidence", ["prediction_id"]) in fks and len(fks) >= 20
    for r in package["resources"]:
        assert r["schema"]["fields"] and r["schema"].get("primaryKey"), r["name"]


def test_validation_catches_a_broken_foreign_key(corpus_export, tmp_path):
    broken = shutil.copytree(corpus_export, tmp_path / "broken")
    pkg = json.loads((broken / "datapackage.json").read_text())
    for r in pkg["resources"]:
        r.pop("hash"), r.pop("bytes")  # so that only the foreign key can fail
    (broken / "datapackage.json").write_text(json.dumps(pkg))
    lines = (broken / "evidence.csv").read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace(lines[1].split(",")[1], "no-such-prediction", 1)
    (broken / "evidence.csv").write_text("".join(lines))
    report = frictionless.validate(broken / "datapackage.json")
    assert not report.valid
    assert [e["type"] for t in report.to_dict()["tasks"] for e in t["errors"]] == ["foreign-key"]


def sqlite_value(v):
    """A value read by frictionless, as SQLite stores it."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def test_every_csv_round_trips_through_sqlite(corpus_db, corpus_export, package):
    db = sqlite3.connect(corpus_db)
    back = sqlite3.connect(":memory:")
    sql_types = {"integer": "INTEGER", "number": "REAL", "string": "TEXT", "date": "TEXT"}
    pkg = frictionless.Package(corpus_export / "datapackage.json")
    for r in package["resources"]:
        name, fields = r["name"], r["schema"]["fields"]
        cols = ", ".join(f'"{f["name"]}" {sql_types[f["type"]]}' for f in fields)
        back.execute(f'CREATE TABLE "{name}" ({cols})')
        with pkg.get_resource(name) as res:
            rows = [tuple(sqlite_value(row[f["name"]]) for f in fields) for row in res.row_stream]
        back.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(fields))})', rows)
        order = ", ".join(f'"{c}"' for c in r["schema"]["primaryKey"])
        expected = db.execute(f'SELECT * FROM "{name}" ORDER BY {order}').fetchall()
        got = back.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
        assert got == expected, name
        assert [[type(v) for v in row] for row in got] == [[type(v) for v in row] for row in expected], name
        assert len(got) == len(rows)


def test_json_lines_hold_the_same_rows(corpus_db, corpus_export, package):
    db = sqlite3.connect(corpus_db)
    db.row_factory = sqlite3.Row
    for r in package["resources"]:
        order = ", ".join(f'"{c}"' for c in r["schema"]["primaryKey"])
        expected = [dict(row) for row in db.execute(f'SELECT * FROM "{r["name"]}" ORDER BY {order}')]
        lines = (corpus_export / f"{r['name']}.jsonl").read_text(encoding="utf-8").splitlines()
        got = [json.loads(line) for line in lines]
        assert got == expected and [list(g) for g in got] == [list(e) for e in expected], r["name"]


def test_csv_form(corpus_export):
    data = (corpus_export / "predictions.csv").read_bytes()
    assert data.decode("utf-8").startswith("id,post_id,section_id,position,kind,text,") and b"\r" not in data
    with open(corpus_export / "posts.csv", encoding="utf-8", newline="") as f:
        posts = list(csv.DictReader(f))
    assert posts and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", p["resolves_by"]) for p in posts)
    assert [p["id"] for p in posts] == sorted(p["id"] for p in posts)  # ordered by primary key
    with open(corpus_export / "build_warnings.csv", encoding="utf-8", newline="") as f:
        draft = next(csv.DictReader(f))
    assert draft["kind"] == "draft" and draft["line"] == ""  # NULL is an empty field


def test_two_builds_of_the_same_inputs_export_byte_identical_files(tmp_path):
    outs = []
    for n in ("a", "b"):
        db = build_db(tmp_path / n / "data.db", CORPUS)
        outs.append(export(db, tmp_path / n / "build"))
    files = sorted(p.name for p in outs[0].iterdir())
    assert files == sorted(p.name for p in outs[1].iterdir())
    for f in files:
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    mtimes = {p.name: p.stat().st_mtime_ns for p in outs[0].iterdir()}
    export(tmp_path / "a" / "data.db", outs[0])
    assert {p.name: p.stat().st_mtime_ns for p in outs[0].iterdir()} == mtimes  # unchanged files are not rewritten


def test_package_facts_come_from_the_database(corpus_db, package):
    db = sqlite_utils.Database(corpus_db)
    build_date = db.execute("select value from build_info where key = 'build_date'").fetchone()[0]
    assert package["created"] == f"{build_date}T00:00:00Z"
    assert package["version"].startswith(version("predictions") + "+") and len(package["version"].split("+")[1]) == 12
    assert package["licenses"] == [{"name": "CC-BY-NC-4.0",
                                    "title": "Creative Commons Attribution-NonCommercial 4.0 International",
                                    "path": "https://creativecommons.org/licenses/by-nc/4.0/"}]
    [blog] = [s for s in package["sources"] if s["path"] == "https://aimlbling-about.ninerealmlabs.com/"]
    assert blog["title"] == "AI/MLbling About" and blog["license"] == "CC BY-NC 4.0"
    assert "non-commercial use only" in blog["obligations"] and "'aimlbling-about'" in blog["rows"]
    assert {"title": "ahgraber", "role": "author"} in package["contributors"]
    assert any(c["role"] == "maintainer" for c in package["contributors"])
    for part in ("ahgraber", package["title"], package["version"], "CC-BY-NC-4.0"):
        assert part in package["citation"]


def test_repository_and_commit_are_sources_when_known(bundled_db, tmp_path):
    pkg = json.loads((export(bundled_db, tmp_path) / "datapackage.json").read_text())
    commit = "b09dc15e0b775588aa12ff1f4472d2aa67e09c68"
    assert {"title": f"AI/MLbling About: source repository at commit {commit}",
            "path": f"https://github.com/ahgraber/AIMLbling-about/tree/{commit}"} in pkg["sources"]
    assert frictionless.validate(tmp_path / "datapackage.json").valid


def test_license_travels_with_the_exports(corpus_export, package):
    lic = (corpus_export / "LICENSE.md").read_text(encoding="utf-8")
    for part in ("CC-BY-NC-4.0", "https://creativecommons.org/licenses/by-nc/4.0/", "ahgraber", "AI/MLbling About",
                 "https://aimlbling-about.ninerealmlabs.com/", "Attribution-NonCommercial 4.0 International Public"):
        assert part in lic
    readme = (corpus_export / "README.md").read_text(encoding="utf-8")
    for part in ("CC-BY-NC-4.0", "ahgraber", "How to cite", "LICENSE.md", "datapackage.json"):
        assert part in readme
    sums = dict(line.split("  ")[::-1] for line in (corpus_export / "SHA256SUMS").read_text().splitlines())
    assert {"LICENSE.md", "README.md", "datapackage.json", "predictions.csv", "predictions.jsonl"} <= set(sums)


def test_descriptions_are_those_of_the_metadata(corpus_db, tmp_path):
    meta = {"title": "Forecasts", "databases": {"data": {"tables": {
        "predictions": {"description": "One row per prediction.",
                        "columns": {"probability": "Stated probability, 0 to 1.", "text": "The forecast."}},
        "prediction_status": {"description": "State of each prediction.", "columns": {"state": "open, resolved ..."}},
    }}}}
    (tmp_path / "metadata.yml").write_text(yaml.safe_dump(meta))
    pkg = json.loads((export(corpus_db, tmp_path / "out", "--metadata", tmp_path / "metadata.yml")
                      / "datapackage.json").read_text())
    res = {r["name"]: r for r in pkg["resources"]}
    assert pkg["title"] == "Forecasts" and pkg["name"] == "forecasts"
    for table, info in meta["databases"]["data"]["tables"].items():
        assert res[table]["description"] == info["description"]
        fields = {f["name"]: f for f in res[table]["schema"]["fields"]}
        for col, text in info["columns"].items():
            assert fields[col]["description"] == text
    # merged over the site's own descriptions: what it does not name keeps the project's description
    project = yaml.safe_load(site_settings.METADATA.read_text(encoding="utf-8"))["databases"]["data"]["tables"]
    posts_title = {f["name"]: f for f in res["posts"]["schema"]["fields"]}["title"]
    assert posts_title["description"] == project["posts"]["columns"]["title"]


def test_the_project_metadata_describes_the_package(corpus_db, package):
    meta = yaml.safe_load(site_settings.METADATA.read_text(encoding="utf-8"))
    tables = meta["databases"]["data"]["tables"]
    assert package["title"] == "AI/MLbling About: forecasts"  # the dataset's title, from this repository's predictions.toml
    for r in package["resources"]:
        columns = (tables.get(r["name"]) or {}).get("columns") or {}
        for f in r["schema"]["fields"]:
            assert f.get("description") == columns.get(f["name"]), (r["name"], f["name"])
    assert set(exported(sqlite_utils.Database(corpus_db))) == {r["name"] for r in package["resources"]}
