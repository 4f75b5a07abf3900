"""Incremental builds reuse unchanged posts' parsed work and give exactly the rows of a full build."""

import sqlite3

from conftest import CORPUS, run_cli, write_site
from predictions.cache import cache_path
from predictions.update import manifest_path

POST = "---\ntitle: Predictions 2032\n---\n\n## S\n\nClaim {n}.\n\n_Probability: {p}%_\n"


def rows(db_path):
    conn = sqlite3.connect(db_path)
    tables = [t for (t,) in conn.execute(
        "select name from sqlite_master where type = 'table' and name not like 'predictions_fts%' "
        "and name not like 'sqlite_%' order by name")]
    # build_info's `inputs` says where the inputs were (these builds read other resolution folders): not a row of data
    return {t: sorted(map(repr, conn.execute(f'select * from "{t}"' + (" where key != 'inputs'" if t == "build_info"
                                                                          else "")))) for t in tables}


def build(content, db_path, *extra):
    result = run_cli("build", "--content", content, "--db", db_path, "--resolutions", db_path.parent / "none",
                     "--quiet", *extra)
    assert result.exit_code == 0, result.output
    return result.output


def test_one_changed_post_is_parsed_again_and_the_rest_reused(tmp_path):
    content = write_site(tmp_path / "site", {f"blog/p{n}/index.md": POST.format(n=n, p=10 * n) for n in range(1, 6)})
    db = tmp_path / "data.db"
    assert "reused the parsed work of 0 unchanged posts, parsed 5" in build(content, db)
    assert "reused the parsed work of 5 unchanged posts, parsed 0" in build(content, db)
    (content / "blog" / "p3" / "index.md").write_text(POST.format(n="three, rewritten", p=35))
    assert "reused the parsed work of 4 unchanged posts, parsed 1" in build(content, db)
    full = tmp_path / "full" / "data.db"
    full.parent.mkdir()
    assert "parsed 5" in build(content, full, "--full")
    assert rows(db) == rows(full)
    assert sqlite3.connect(db).execute(
        "select text, stated_percent from predictions where id = 'p3/s/1'").fetchone() == ("Claim three, rewritten.", 35)


def test_real_corpus_incremental_equals_full(tmp_path):
    db, full = tmp_path / "a" / "data.db", tmp_path / "b" / "data.db"
    build(CORPUS, db)
    assert "reused the parsed work of 38 unchanged posts, parsed 0" in build(CORPUS, db)
    build(CORPUS, full, "--full")
    assert rows(db) == rows(full)


def test_a_damaged_cache_is_ignored(tmp_path):
    content = write_site(tmp_path / "site", {"blog/p1/index.md": POST.format(n=1, p=10)})
    db = tmp_path / "data.db"
    build(content, db)
    cache_path(db).write_bytes(b"not a database at all")
    manifest_path(db).unlink()  # without it the build rewrites the database, reading the cache
    assert "parsed 1" in build(content, db)
    assert "reused the parsed work of 1 unchanged posts" in build(content, db)
