"""Writing output: `export` and `publish` write only a new folder or one they made; a full disk or a read-only
folder is a message and changes nothing (issue 15, items 1, 2, 7 and 14)."""

import csv
import io
import json
import shutil
import sqlite3
import subprocess

import pytest

from conftest import run_cli, small_filesystem, tree
from predictions.outfolder import MANIFEST


def someone_elses(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return tree(folder)


def refused(result, folder, before, why):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and why in result.output, result.output
    assert tree(folder) == before  # nothing written, nothing deleted
    assert not list(folder.parent.glob(f".{folder.name}.*.tmp"))


EXPORT_FOLDERS = {
    "not empty": ({"notes.csv": "mine\n", "old.jsonl": "{}\n", "README.md": "# my project\n"}, "not empty"),
    "dataset folder": ({"predictions.toml": "title = 'x'\n"}, "dataset folder"),
}


@pytest.mark.parametrize("case", EXPORT_FOLDERS)
def test_export_refuses_a_folder_it_did_not_make(bundled_db, tmp_path, case):
    files, why = EXPORT_FOLDERS[case]
    out = tmp_path / "out"
    before = someone_elses(out, files)
    refused(run_cli("export", "--db", bundled_db, "--out", out), out, before, why)


def test_export_and_publish_refuse_a_git_checkout(bundled_db, tmp_path):
    out = tmp_path / "checkout"
    out.mkdir()
    subprocess.run(["git", "init", "-q", str(out)], check=True)
    before = someone_elses(out, {"README.md": "# project\n"})
    refused(run_cli("export", "--db", bundled_db, "--out", out), out, before, "git checkout")
    refused(run_cli("publish", "--db", bundled_db, "--out", out), out, before, "git checkout")


def test_export_refuses_the_current_folder_even_empty(bundled_db, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    refused(run_cli("export", "--db", bundled_db, "--out", "."), here, {}, "current folder")


def test_export_updates_its_own_folder_and_leaves_other_files_alone(bundled_db, corpus_db, tmp_path):
    out = tmp_path / "out"
    first = run_cli("export", "--db", bundled_db, "--out", out)
    assert first.exit_code == 0, first.output
    assert json.loads((out / MANIFEST).read_text())["made_by"] == "predictions export"
    (out / "notes.csv").write_text("my own notes\n")
    (out / "mine").mkdir()
    (out / "mine" / "a.jsonl").write_text("{}\n")
    manifest = json.loads((out / MANIFEST).read_text())  # a table the previous export had, gone from this one
    (out / MANIFEST).write_text(json.dumps({**manifest, "files": [*manifest["files"], "dropped.csv"]}))
    (out / "dropped.csv").write_text("id\n1\n")
    second = run_cli("export", "--db", corpus_db, "--out", out)
    assert second.exit_code == 0, second.output
    assert "left alone (not written by predictions export): mine, notes.csv" in second.output
    assert (out / "notes.csv").read_text() == "my own notes\n" and (out / "mine" / "a.jsonl").read_text() == "{}\n"
    assert not (out / "dropped.csv").exists()  # it was the export's own
    db = sqlite3.connect(corpus_db)
    rows = list(csv.reader(io.StringIO((out / "predictions.csv").read_text())))
    assert len(rows) - 1 == db.execute("select count(*) from predictions").fetchone()[0]


def test_a_full_disk_leaves_the_previous_export_intact(bundled_db, corpus_db, tmp_path):
    with small_filesystem(tmp_path / "disk", "600k") as disk:
        out = disk / "exports"
        assert run_cli("export", "--db", bundled_db, "--out", out).exit_code == 0
        before = tree(out)
        result = run_cli("export", "--db", corpus_db, "--out", out)  # about 780 KB: it cannot fit
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "No space left on device" in result.output and f"nothing was changed in {out}" in result.output
        assert tree(out) == before
        assert sorted(p.name for p in disk.iterdir()) == ["exports"]  # no temporary folder left behind


def test_a_read_only_folder_is_a_message_not_a_traceback(bundled_db, tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    with small_filesystem(parent, "1m"):
        subprocess.run(["mount", "-o", "remount,ro", str(parent)], check=True)
        result = run_cli("export", "--db", bundled_db, "--out", parent / "exports")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "Read-only file system" in result.output and "nothing was changed" in result.output


PUBLISH_FOLDER = {"Dockerfile": "FROM mine\n", "fly.toml": "app = 'mine'\n", "metadata.yml": "title: mine\n",
                  "data.db": "not a database\n", "templates/index.html": "<p>mine</p>\n",
                  "plugins/auth.py": "# my auth\n"}


def test_publish_refuses_a_folder_it_did_not_make(bundled_db, tmp_path):
    out = tmp_path / "site"
    before = someone_elses(out, PUBLISH_FOLDER)
    refused(run_cli("publish", "--db", bundled_db, "--out", out), out, before, "not empty")


def test_publish_updates_its_own_folder_and_keeps_other_files_out_of_the_image(bundled_db, tmp_path):
    out = tmp_path / "site"
    assert run_cli("publish", "--db", bundled_db, "--out", out).exit_code == 0
    (out / ".env").write_text("SECRET=1\n")
    result = run_cli("publish", "--db", bundled_db, "--out", out)
    assert result.exit_code == 0, result.output
    assert "left alone" in result.output and ".env" in result.output
    assert (out / ".env").read_text() == "SECRET=1\n"
    ignore = (out / ".dockerignore").read_text().splitlines()
    assert "*" in ignore and "!.env" not in ignore and "!Dockerfile" in ignore and "!data.db" in ignore
    (out / "fly.toml").unlink()  # one of publish's own files, removed by hand: written again, nothing else refused
    (out / "Dockerfile").write_text("FROM edited\n")
    shutil.rmtree(out / "downloads")
    again = run_cli("publish", "--db", bundled_db, "--out", out)
    assert again.exit_code == 0, again.output
    assert (out / "fly.toml").exists() and (out / "Dockerfile").read_text() != "FROM edited\n"
    assert (out / "downloads" / "predictions.csv").exists()


def test_publish_refuses_a_file_of_its_own_folder_it_did_not_write(bundled_db, tmp_path):
    out = tmp_path / "site"
    assert run_cli("publish", "--db", bundled_db, "--out", out).exit_code == 0
    manifest = json.loads((out / MANIFEST).read_text())
    (out / MANIFEST).write_text(json.dumps({**manifest, "files": [f for f in manifest["files"] if f != "fly.toml"]}))
    (out / "fly.toml").write_text("app = 'mine'\n")
    before = tree(out)
    refused(run_cli("publish", "--db", bundled_db, "--out", out), out, before, "refuses to overwrite fly.toml")


def test_export_refuses_a_publish_folder(bundled_db, tmp_path):
    out = tmp_path / "site"
    assert run_cli("publish", "--db", bundled_db, "--out", out).exit_code == 0
    before = tree(out)
    refused(run_cli("export", "--db", bundled_db, "--out", out), out, before, "written by 'predictions publish'")


# ---------------------------------------------------------------- item 14: formulas in CSV cells

FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "plain", "a=b"]


@pytest.fixture(scope="module")
def formula_db(tmp_path_factory):
    from conftest import build_db, write_site

    root = tmp_path_factory.mktemp("formulas")
    posts = {f"blog/p{i}/index.md": f"---\ntitle: {json.dumps(t)}\ndate: 2024-01-0{i + 1}\n---\n\nText.\n"
             for i, t in enumerate(FORMULAS)}
    return build_db(root / "data.db", write_site(root / "site", posts), root / "no-resolutions")


def titles(out):
    return sorted(r["title"] for r in csv.DictReader(io.StringIO((out / "posts.csv").read_text(encoding="utf-8"))))


def test_default_export_keeps_formula_cells_exactly(formula_db, tmp_path):
    assert run_cli("export", "--db", formula_db, "--out", tmp_path / "out").exit_code == 0
    assert titles(tmp_path / "out") == sorted(FORMULAS)


def test_excel_safe_export_defuses_formula_cells(formula_db, tmp_path):
    out = tmp_path / "out"
    result = run_cli("export", "--db", formula_db, "--out", out, "--excel-safe")
    assert result.exit_code == 0, result.output
    expected = sorted("'" + t if t[0] in "=+-@\t\r" else t for t in FORMULAS)  # OWASP's rule, written out here
    assert titles(out) == expected
    assert sorted(json.loads(line)["title"] for line in (out / "posts.jsonl").read_text().splitlines()) == sorted(FORMULAS)
    assert "--excel-safe" in (out / "README.md").read_text()
    numbers = list(csv.DictReader(io.StringIO((out / "predictions.csv").read_text())))
    assert all(not r["stated_percent"].startswith("'") for r in numbers)


# ---------------------------------------------------------------- item 7: a full disk or a read-only folder in build


@pytest.mark.parametrize("size", ["400k", "700k"])  # full when creating the tables; full while writing the rows
def test_build_on_a_full_disk_says_so_and_keeps_the_database(tmp_path, size):
    from conftest import CORPUS, RESOLUTIONS

    with small_filesystem(tmp_path / "disk", size) as disk:
        db = disk / "data.db"
        first = run_cli("build", "--db", db, "--resolutions", RESOLUTIONS)  # the bundled post: small
        assert first.exit_code == 0, first.output
        before, files = db.read_bytes(), tree(disk)  # (the manifest is there unless the disk was too full for it)
        result = run_cli("build", "--db", db, "--content", CORPUS, "--resolutions", RESOLUTIONS, "--full")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "cannot write the database" in result.output and f"{db} was left as it was" in result.output
        assert db.read_bytes() == before
        assert tree(disk) == files


def test_build_into_a_read_only_folder_says_so(tmp_path):
    from conftest import RESOLUTIONS

    folder = tmp_path / "ro"
    folder.mkdir()
    with small_filesystem(folder, "1m"):
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        result = run_cli("build", "--db", folder / "data.db", "--resolutions", RESOLUTIONS)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "Read-only file system" in result.output and "was left as it was" in result.output
