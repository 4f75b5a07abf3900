"""The real blog (../shared/corpus), built by the real CLI: the exact predictions and resolutions."""

import sqlite3

import pytest

# (section title, stated percent, kind, parent's stated percent, depends-on's stated percent)
EXPECTED_2026 = [
    ("Agents, Cont'd", 100, "headline", None, None),
    ("Smaller Better Faster Stronger", 90, "headline", None, None),
    ("Smaller Better Faster Stronger", 70, "headline", None, None),
    ("Continued Learning", 30, "headline", None, None),
    ("Architectural Shifts", 75, "headline", None, None),
    ("The Rise of China", 75, "headline", None, None),
    ("The Supply Chain Squeeze", 100, "headline", None, None),
    ("Speaking of Power", 40, "headline", None, None),
    ("Lightning Round", 100, "list_item", None, None),
    ("Lightning Round", 75, "list_item", None, None),
    ("Lightning Round", 80, "list_item", None, None),
    ("Lightning Round", 60, "list_item", 80, None),
]
EXPECTED_2025 = [
    ("Agents, agents, agents", 100, "headline", None, None),
    ("Inference-time compute", 100, "headline", None, None),
    ("50/50: Large frontier model performance", 50, "headline", None, None),
    ("Next-gen Architectural changes", 75, "headline", None, None),
    ("Next-gen Architectural changes", 60, "note", None, None),
    ("Multimodal-first training", 80, "headline", None, None),
    ("Lighting Round", 100, "list_item", None, None),
    ("Lighting Round", 100, "list_item", None, None),
    ("Lighting Round", 70, "list_item", None, 100),
    ("Lighting Round", 60, "list_item", None, None),
    ("Lighting Round", 60, "list_item", None, None),
    ("Lighting Round", 50, "list_item", None, None),
    ("Lighting Round", 30, "list_item", None, 50),
]
# (start of the prediction's text, stated percent, outcome, where the resolution comes from)
RESOLVED_2025 = [
    ("We got nascent function-calling", 100, "true", "review"),
    ('"Slow thinking" AI models', 100, "true", "review"),
    ("Either (a) improvement curves", 50, "true", "review"),
    ("We saw a consolidation of model architectures", 75, "false", "review"),
    ("Bonus: Inspired by ModernBert", 60, "false", "file"),
    ("As the available reservoir of text data dries up", 80, "false", "review"),
    ("Saturation and/or data leakage", 100, "true", "review"),
    ("Continued push to undermine NVIDIA", 100, "true", "file"),
    ("but successes (market share/utilization) will come from cloud providers", 70, "true", "review"),
    ('At least one lab will claim "AGI"', 60, "false", "review"),
    ("At least one lab will inject ads", 60, "open", "review"),
    ("Power (and water) utilization concerns", 50, "true", "review"),
    ("with AI datacenters associated with brownouts or wildfires", 30, "false", "review"),
]


@pytest.fixture(scope="module")
def db(corpus_db):
    conn = sqlite3.connect(corpus_db)
    yield conn
    conn.close()


def predictions_of(db, post):
    rows = db.execute(
        """select p.id, s.title, p.stated_percent, p.kind, par.stated_percent, dep.stated_percent, p.text
           from predictions p join sections s on s.id = p.section_id
           left join predictions par on par.id = p.parent_id
           left join predictions dep on dep.id = p.depends_on_id
           where p.post_id = ? order by p.position""",
        [post],
    ).fetchall()
    return rows


@pytest.mark.parametrize("post, expected", [("predictions-2026", EXPECTED_2026), ("predictions-2025", EXPECTED_2025)])
def test_exact_predictions(db, post, expected):
    got = [(title, pct, kind, par, dep) for _, title, pct, kind, par, dep, _ in predictions_of(db, post)]
    assert got == expected


def test_no_predictions_in_any_other_post(db):
    rows = db.execute("select id, prediction_count from posts where prediction_count > 0 order by id").fetchall()
    assert rows == [("predictions-2025", 13), ("predictions-2026", 12)]
    assert db.execute("select count(*) from predictions").fetchone() == (25,)
    assert db.execute("select count(*) from posts").fetchone()[0] >= 36


def test_references_tags_and_authors(db):
    def count(sql, post):
        return db.execute(sql, [post]).fetchone()[0]

    footnotes = "select count(*) from \"references\" where post_id = ? and kind = 'footnote'"
    assert count(footnotes, "predictions-2026") == 15
    assert count(footnotes, "predictions-2025") == 20
    # The 2026 front matter lists 7 tags: meta, listicle, opinion (# meta) and agents, arxiv, generative AI,
    # LLMs (# ai/ml). The "8 tags" does not match the file.
    tags = db.execute(
        "select t.name, pt.tag_group from post_tags pt join tags t on t.id = pt.tag_id "
        "where post_id = 'predictions-2026' order by position"
    ).fetchall()
    assert tags == [("meta", "meta"), ("listicle", "meta"), ("opinion", "meta"), ("agents", "ai/ml"),
                    ("arxiv", "ai/ml"), ("generative AI", "ai/ml"), ("LLMs", "ai/ml")]
    assert count("select count(*) from post_authors where post_id = ?", "predictions-2026") == 1
    assert db.execute("select name, link from authors where id = 'ahgraber'").fetchone() == (
        "ahgraber", "https://github.com/ahgraber")


def test_predictions_link_their_own_references(db):
    linked = db.execute(
        """select r.kind, coalesce(r.key, r.domain) from prediction_references pr
           join "references" r on r.id = pr.reference_id
           where pr.prediction_id = 'predictions-2026/continued-learning/1' order by 1, 2"""
    ).fetchall()
    footnotes = sorted(["thinking", "clora", "alora", "titans", "miras", "nested", "continual"])
    assert linked == [("footnote", k) for k in footnotes] + [("inline", "agentskills.io")]
    ads = db.execute(
        """select r.key, r.domain, r.title from prediction_references pr join "references" r on r.id = pr.reference_id
           where pr.prediction_id = 'predictions-2026/lightning-round/1'"""
    ).fetchall()
    assert ads == [("code_red", "apnews.com",
                    "OpenAI CEO Sam Altman declares 'code red' to improve ChatGPT amid rising competition | AP News")]


def test_urls_anchors_and_dates(db):
    row = db.execute(
        "select p.url, p.resolves_by, p.line, p.path, p.probability_text, p.probability from predictions p "
        "where p.id = 'predictions-2025/5050-large-frontier-model-performance/1'"
    ).fetchone()
    assert row == (
        "https://aimlbling-about.ninerealmlabs.com/blog/predictions-2025/#5050-large-frontier-model-performance",
        "2025-12-31", 61, "blog/predictions-2025/index.md", "50/50", 0.5,
    )
    assert db.execute("select url from posts where id = 'predictions-2026'").fetchone() == (
        "https://aimlbling-about.ninerealmlabs.com/blog/predictions-2026/",)
    assert db.execute("select anchor from sections where title = ?", ["Agents, Cont'd"]).fetchone() == ("agents-contd",)


def test_resolutions_of_2025(db):
    rows = db.execute(
        """select p.text, p.stated_percent, s.outcome, r.source from prediction_status s
           join predictions p on p.id = s.prediction_id left join resolutions r on r.prediction_id = p.id
           where p.post_id = 'predictions-2025' order by p.position"""
    ).fetchall()
    assert len(rows) == len(RESOLVED_2025)
    for (text, pct, outcome, source), (start, e_pct, e_outcome, e_source) in zip(rows, RESOLVED_2025, strict=True):
        assert text.startswith(start) and (pct, outcome, source) == (e_pct, e_outcome, e_source), text


def test_review_verdict_details(db):
    verdict, note, url, resolved_on, review = db.execute(
        "select verdict, note, review_url, resolved_on, review_post_id from resolutions "
        "where prediction_id = 'predictions-2025/5050-large-frontier-model-performance/1'"
    ).fetchone()
    assert verdict == "Both (Sort of) ✅"
    assert note.startswith("I hedged my bets here")
    assert url.startswith("https://aimlbling-about.ninerealmlabs.com/blog/year-in-review---2025/#verdict-both")
    assert (resolved_on, review) == ("2025-12-23", "year-in-review---2025")
    evidence = db.execute(
        "select url from evidence where prediction_id = 'predictions-2025/next-gen-architectural-changes/1'"
    ).fetchall()
    assert ("https://www.inceptionlabs.ai/blog/mercury-refreshed",) in evidence


def test_open_past_its_date_is_overdue(db):
    # The ads prediction is TBD in the review and resolves by 2025-12-31, before any build date from now on.
    assert db.execute("select state, scored from prediction_status "
                      "where prediction_id = 'predictions-2025/lighting-round/5'").fetchone() == ("overdue", 0)


def test_2026_all_open_with_condition(db):
    states = db.execute(
        "select distinct outcome from prediction_status where post_id = 'predictions-2026'").fetchall()
    assert states == [("open",)]
    assert db.execute(
        "select condition_id from predictions where id = 'predictions-2026/speaking-of-power/1'"
    ).fetchone() == ("predictions-2026/smaller-better-faster-stronger/1",)


def test_brier_of_resolved_2025_by_hand(db):
    rows = db.execute(
        "select probability, outcome_value from prediction_status where post_id = 'predictions-2025' and scored = 1"
    ).fetchall()
    assert len(rows) == 12
    # By hand: 75%, 60%, 80%, 60% and 30% that did not happen; two 50%s and a 70% that did; four 100%s hit.
    by_hand = (0.75 ** 2 + 0.6 ** 2 + 0.8 ** 2 + 0.6 ** 2 + 0.3 ** 2 + 0.5 ** 2 * 2 + 0.3 ** 2) / 12
    assert sum((f - o) ** 2 for f, o in rows) / 12 == pytest.approx(by_hand) == pytest.approx(0.216875)


def test_bundled_default_is_the_seed_post(bundled_db):
    conn = sqlite3.connect(bundled_db)
    assert conn.execute("select count(*) from predictions").fetchone() == (12,)
    assert conn.execute("select license, license_url, base_url from sources").fetchone() == (
        "CC BY-NC 4.0", "https://creativecommons.org/licenses/by-nc/4.0/",
        "https://aimlbling-about.ninerealmlabs.com/")
