"""Trackers in and out: Fatebook and PredictionBook exports (files written here in their exact formats) become
sources, and `predictions export --format fatebook` writes what Fatebook's spreadsheet import reads."""

import csv
import io
import json
import sqlite3

import pytest
from test_styles import SOURCES, build_styled

from conftest import run_cli
from predictions import build, database
from predictions.errors import InputError

FATEBOOK_HEADER = ["Question title", "Multiple choice option", "Forecast created by", "Forecast (scale = 0-1)",
                   "Forecast created at", "Question created by", "Question created at", "Question resolve by",
                   "Resolution", "Resolved at", "Your Brier score for this question",
                   "Your relative Brier score for this question", "Question notes", "Question shared with",
                   "Question shared publicly", "Question comments", "Question tags"]


def fatebook_row(title, forecast, created, resolve_by, resolution="", resolved="", tags="", notes="", by="Ann",
                 asked=None):
    return [title, "", by, forecast, created, "Ann", asked or created, resolve_by, resolution, resolved, "", "", notes, "",
            "false", "", tags]


FATEBOOK_ROWS = [
    fatebook_row("Will it rain in Paris on 1 May 2025?", "0.7", "2025-04-02 09:03:7", "2025-05-01 12:00:0", "YES",
                 "2025-05-02 08:00:0", "weather; paris", "Météo-France says so"),
    fatebook_row("Will it rain in Paris on 1 May 2025?", "0.85", "2025-04-20 18:30:45", "2025-05-01 12:00:0", "YES",
                 "2025-05-02 08:00:0", "weather; paris", "Météo-France says so", by="Bob", asked="2025-04-02 09:03:7"),
    fatebook_row("Do I ship v2 by June?", "0.15", "2025-01-05 10:00:0", "2025-06-30 23:59:0", "NO", "2025-07-01 09:00:0"),
    fatebook_row("Is the poll question well posed?", "0.5", "2025-02-01 10:00:0", "2025-03-01 10:00:0", "AMBIGUOUS",
                 "2025-03-02 10:00:0"),
    fatebook_row("Will the launch slip to 2027?", "0.355", "2026-01-01 10:00:0", "2027-01-01 10:00:0"),
]
PREDICTIONBOOK = [  # two my_predictions pages
    [{"id": 101, "uuid": "a", "description": "Bitcoin above $100k on 2021-12-31", "created_at": "2021-01-02T10:00:00Z",
      "deadline": "2021-12-31T23:59:00Z", "outcome": False, "withdrawn": False, "visibility": 0, "mean_confidence": 25,
      "responses": [{"confidence": 30, "created_at": "2021-01-02T10:00:00Z", "user_label": "ann", "comment": None},
                    {"confidence": None, "created_at": "2021-02-02T10:00:00Z", "user_label": "bob",
                     "comment": "just a comment"},
                    {"confidence": 20, "created_at": "2021-03-02T10:00:00Z", "user_label": "ann",
                     "comment": "lower now"}]}],
    [{"id": 102, "uuid": "b", "description": "I finish the marathon", "created_at": "2022-01-02T10:00:00Z",
      "deadline": "2022-10-01T00:00:00Z", "outcome": None, "withdrawn": True, "visibility": 0, "mean_confidence": 80,
      "responses": [{"confidence": 80, "created_at": "2022-01-02T10:00:00Z", "user_label": "ann", "comment": ""}]},
     {"id": 103, "uuid": "c", "description": "It snows in London in 2030", "created_at": "2023-01-02T10:00:00Z",
      "deadline": "2030-12-31T00:00:00Z", "outcome": None, "withdrawn": False, "visibility": 0,
      "mean_confidence": 40,
      "responses": [{"confidence": 40, "created_at": "2023-01-02T10:00:00Z", "user_label": "ann", "comment": ""}]}],
]
PREDICTIONBOOK_CSV = ("id,uuid,description,created_at,deadline,outcome,withdrawn,visibility,mean_confidence\n"
                      "201,x,The bill passes,2019-01-01T00:00:00Z,2019-06-01T00:00:00Z,true,false,0,65\n"
                      "202,y,\"The vote, if any, fails\",2019-01-01T00:00:00Z,2019-06-01T00:00:00Z,,false,0,10\n")


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def build_trackers(tmp_path, files):
    db = tmp_path / "data.db"
    with database.Writer(db) as writer:
        rows = build.Rows(writer)
        corpus = build.collect([], None, trackers=files, on_post=rows.post)
        rows.finish(corpus)
        writer.finish()
    return sqlite3.connect(db)


def test_fatebook_csv(tmp_path):
    path = write_csv(tmp_path / "fatebook.csv", FATEBOOK_HEADER, FATEBOOK_ROWS)
    conn = build_trackers(tmp_path, [("fb", "fatebook-csv", path)])
    got = conn.execute("select p.text, p.stated_percent, p.kind, p.resolves_by, s.outcome, r.resolved_on, r.source "
                       "from predictions p join prediction_status s on s.prediction_id = p.id left join resolutions r "
                       "on r.prediction_id = p.id order by p.line").fetchall()
    expected = []
    for row in FATEBOOK_ROWS:
        outcome = {"YES": "true", "NO": "false", "AMBIGUOUS": "ambiguous", "": "open"}[row[8]]
        expected.append((row[0], float(row[3]) * 100, "tracker", row[7][:10], outcome, row[9][:10] or None,
                         "tracker" if row[8] else None))
    assert got == [tuple(pytest.approx(x) if isinstance(x, float) else x for x in e) for e in expected]
    # one post per question; its tags are Fatebook's "; "-joined tags
    assert conn.execute("select count(*) from posts where source_id = 'fb'").fetchone() == (4,)
    tags = conn.execute("select t.name from post_tags pt join tags t on t.id = pt.tag_id order by pt.position").fetchall()
    assert tags == [("weather",), ("paris",)]
    ids = [r[0] for r in conn.execute("select id from predictions order by line")]
    assert ids[0].startswith("fb-") and ids[0].endswith("/1") and ids[1] == ids[0][:-1] + "2"
    assert conn.execute("select title, base_url, content_root from sources").fetchone() == (
        "fb (Fatebook)", "https://fatebook.io/", "fatebook.csv")


def test_predictionbook_json_pages(tmp_path):
    path = tmp_path / "my_predictions.json"
    path.write_text(json.dumps(PREDICTIONBOOK, indent=2))
    conn = build_trackers(tmp_path, [("pb", "predictionbook-json", path)])
    got = conn.execute("select p.id, p.stated_percent, s.outcome, p.resolves_by, po.url from predictions p "
                       "join prediction_status s on s.prediction_id = p.id join posts po on po.id = p.post_id "
                       "order by p.id").fetchall()
    assert got == [
        ("pb-101/1", 30.0, "false", "2021-12-31", "https://predictionbook.com/predictions/101"),
        ("pb-101/2", 20.0, "false", "2021-12-31", "https://predictionbook.com/predictions/101"),
        ("pb-102/1", 80.0, "void", "2022-10-01", "https://predictionbook.com/predictions/102"),  # withdrawn
        ("pb-103/1", 40.0, "open", "2030-12-31", "https://predictionbook.com/predictions/103"),
    ]
    lines = json.dumps(PREDICTIONBOOK, indent=2).split("\n")
    for pid, line in conn.execute("select post_id, line from predictions"):
        assert f'"id": {pid[3:]},' in lines[line - 1]


def test_predictionbook_csv_says_it_is_the_mean(tmp_path):
    path = tmp_path / "pb.csv"
    path.write_text(PREDICTIONBOOK_CSV)
    conn = build_trackers(tmp_path, [("pbc", "predictionbook-csv", path)])
    got = conn.execute("select p.text, p.probability_text, s.outcome, p.commentary_markdown from predictions p "
                       "join prediction_status s on s.prediction_id = p.id order by p.id").fetchall()
    assert [g[:3] for g in got] == [("The bill passes", "65% (mean_confidence)", "true"),
                                    ("The vote, if any, fails", "10% (mean_confidence)", "open")]
    assert all("only mean_confidence" in g[3] for g in got)


@pytest.mark.parametrize("kind, text, line, message", [
    ("fatebook-csv", "Question title,Forecast (scale = 0-1)\nx,0.5\n", 1, "not a Fatebook CSV export: the header lacks"),
    ("fatebook-csv", None, 3, "Forecast (scale = 0-1) '1.5' is outside 0-1"),
    ("predictionbook-json", '[{"id": 1,\n "description": "x", "outcome": "maybe"}]', 1,
     "outcome 'maybe': PredictionBook writes true, false or null"),
    ("predictionbook-json", "[{]", 1, "not valid JSON"),
    ("predictionbook-csv", PREDICTIONBOOK_CSV.replace(",65\n", ",165\n"), 2, "mean_confidence '165' is outside 0-100"),
])
def test_bad_tracker_files(tmp_path, kind, text, line, message):
    path = tmp_path / "export"
    if text is None:
        rows = [FATEBOOK_ROWS[0], fatebook_row("Bad", "1.5", "2025-01-01 10:00:0", "2025-02-01 10:00:0")]
        write_csv(path, FATEBOOK_HEADER, rows)
    else:
        path.write_text(text)
    with pytest.raises(InputError) as e:
        build.collect([], None, trackers=[("t", kind, path)])
    (problem,) = e.value.problems
    assert problem.path.endswith("export") and problem.line == line and problem.message.startswith(message)


def fatebook_import(text):
    """What Fatebook's spreadsheet import reads from each row (lib/web/import_router.ts, as the notes state it)."""
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        resolution = row["Resolution"].strip().lower()
        out.append(dict(title=row["Question"], forecast=float(row["Forecast"].replace("%", "")) / 100,
                        resolution={"yes": "YES", "no": "NO"}.get(resolution, "AMBIGUOUS" if resolution else None),
                        resolve_by=row["Resolve by"], tags=[t.strip() for t in row["Tags"].split(",") if t.strip()]))
    return out


def test_export_for_fatebooks_import(tmp_path):
    s = SOURCES["seinma"]
    db = tmp_path / "data.db"
    build_styled(db, s["root"], s["style"])
    result = run_cli("export", "--db", db, "--out", tmp_path / "out", "--format", "fatebook")
    assert result.exit_code == 0, result.output
    imported = fatebook_import((tmp_path / "out" / "fatebook.csv").read_text(encoding="utf-8"))
    conn = sqlite3.connect(db)
    expected = conn.execute("select p.text, p.probability, coalesce(r.outcome, 'open'), p.resolves_by from predictions p "
                            "left join resolutions r on r.prediction_id = p.id order by p.post_id, p.position").fetchall()
    assert len(imported) == len(expected) == 31 + 57
    fatebook = {"true": "YES", "false": "NO", "void": "AMBIGUOUS", "open": None}
    assert [(r["title"], r["forecast"], r["resolution"], r["resolve_by"]) for r in imported] == [
        (t, pytest.approx(p), fatebook[o], by) for t, p, o, by in expected]
    assert {tuple(r["tags"]) for r in imported} == {("predictions",)}
    assert sorted(n.name for n in (tmp_path / "out").iterdir()) == [".predictions-manifest.json", "fatebook.csv"]
    package = run_cli("export", "--db", db, "--out", tmp_path / "out")  # the package export keeps it, as its own
    assert package.exit_code == 0 and "left alone" not in package.output, package.output
    assert (tmp_path / "out" / "fatebook.csv").exists() and (tmp_path / "out" / "datapackage.json").exists()
