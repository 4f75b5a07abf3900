"""The database schema: one place that says what every table holds.

Tables are created from this DDL (sqlite-utils cannot express CHECK constraints) and filled with
sqlite-utils. Column descriptions for users live in metadata.yml.
"""

OUTCOMES = ("true", "false", "partial", "void", "ambiguous", "open")

TABLES = """
CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    base_url TEXT NOT NULL,
    content_root TEXT NOT NULL,
    author TEXT,
    license TEXT,
    license_url TEXT,
    repository TEXT,
    "commit" TEXT
);
CREATE TABLE source_licenses (
    source_id TEXT PRIMARY KEY REFERENCES sources(id),
    file TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE posts (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources(id),
    title TEXT NOT NULL,
    date TEXT CHECK (date IS NULL OR date(date) = date),
    year INTEGER,
    url TEXT NOT NULL,
    section TEXT,
    slug TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('forecast', 'review', 'article')),
    series TEXT,
    draft INTEGER NOT NULL DEFAULT 0 CHECK (draft IN (0, 1)),
    resolves_by TEXT,
    reviews_post_id TEXT REFERENCES posts(id),
    prediction_count INTEGER NOT NULL DEFAULT 0,
    path TEXT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE TABLE authors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    link TEXT,
    image TEXT
);
CREATE TABLE post_authors (
    post_id TEXT NOT NULL REFERENCES posts(id),
    author_id TEXT NOT NULL REFERENCES authors(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (post_id, author_id)
);
CREATE TABLE tags (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE post_tags (
    post_id TEXT NOT NULL REFERENCES posts(id),
    tag_id TEXT NOT NULL REFERENCES tags(id),
    tag_group TEXT,
    position INTEGER NOT NULL,
    PRIMARY KEY (post_id, tag_id)
);
CREATE TABLE sections (
    id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts(id),
    anchor TEXT NOT NULL,
    title TEXT NOT NULL,
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 6),
    parent_id TEXT REFERENCES sections(id),
    position INTEGER NOT NULL,
    line INTEGER NOT NULL,
    url TEXT NOT NULL
);
CREATE TABLE predictions (
    id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts(id),
    section_id TEXT REFERENCES sections(id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('headline', 'list_item', 'note', 'tracker')),
    text TEXT NOT NULL,
    passage_markdown TEXT NOT NULL,
    commentary_markdown TEXT,
    probability_text TEXT NOT NULL,
    stated_percent REAL NOT NULL CHECK (stated_percent BETWEEN 0 AND 100),
    probability REAL NOT NULL CHECK (probability BETWEEN 0 AND 1),
    parent_id TEXT REFERENCES predictions(id),
    depends_on_id TEXT REFERENCES predictions(id),
    condition_id TEXT REFERENCES predictions(id),
    resolves_by TEXT NOT NULL CHECK (date(resolves_by) = resolves_by),
    url TEXT NOT NULL,
    path TEXT NOT NULL,
    line INTEGER NOT NULL
);
CREATE TABLE "references" (
    id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts(id),
    kind TEXT NOT NULL CHECK (kind IN ('footnote', 'inline')),
    key TEXT,
    title TEXT,
    url TEXT,
    domain TEXT,
    line INTEGER NOT NULL
);
CREATE TABLE prediction_references (
    prediction_id TEXT NOT NULL REFERENCES predictions(id),
    reference_id TEXT NOT NULL REFERENCES "references"(id),
    PRIMARY KEY (prediction_id, reference_id)
);
CREATE TABLE resolutions (
    prediction_id TEXT PRIMARY KEY REFERENCES predictions(id),
    outcome TEXT NOT NULL CHECK (outcome IN ('true', 'false', 'partial', 'void', 'ambiguous', 'open')),
    value REAL CHECK (value IS NULL OR value BETWEEN 0 AND 1),
    resolved_on TEXT CHECK (resolved_on IS NULL OR date(resolved_on) = resolved_on),
    verdict TEXT,
    note TEXT,
    judged_by TEXT,
    source TEXT NOT NULL CHECK (source IN ('file', 'review', 'condition', 'tracker')),
    source_path TEXT,
    source_line INTEGER,
    review_post_id TEXT REFERENCES posts(id),
    review_url TEXT,
    CHECK ((outcome IN ('true', 'false', 'partial')) = (value IS NOT NULL))
);
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    prediction_id TEXT NOT NULL REFERENCES resolutions(prediction_id),
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    title TEXT,
    domain TEXT
);
CREATE TABLE build_warnings (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    path TEXT,
    line INTEGER,
    message TEXT NOT NULL
);
CREATE TABLE build_info (
    key TEXT PRIMARY KEY,
    value TEXT
);
-- An author's own calibration tally, transcribed from their post into a claims file (claims.py)
CREATE TABLE claims (
    id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts(id),
    stated_in TEXT NOT NULL,
    position INTEGER NOT NULL,
    bucket TEXT NOT NULL,
    bucket_low REAL NOT NULL CHECK (bucket_low BETWEEN 0 AND 100),
    bucket_high REAL NOT NULL CHECK (bucket_high BETWEEN bucket_low AND 100),
    folding TEXT NOT NULL CHECK (folding IN ('folded', 'unfolded')),
    claimed_n INTEGER,
    claimed_hits REAL,
    claimed_frequency REAL CHECK (claimed_frequency IS NULL OR claimed_frequency BETWEEN 0 AND 1),
    url TEXT,
    path TEXT NOT NULL,
    line INTEGER NOT NULL
);
-- Derived tables for the canned queries (build.scored_rows fills them from the rows above): they read these
-- narrow rows through covering indexes instead of joining predictions x resolutions x posts per request.
CREATE TABLE scored_predictions (
    prediction_id TEXT PRIMARY KEY REFERENCES predictions(id),
    post_id TEXT NOT NULL REFERENCES posts(id),
    position INTEGER NOT NULL,
    year INTEGER,
    stated_percent REAL NOT NULL CHECK (stated_percent BETWEEN 0 AND 100),
    probability REAL NOT NULL CHECK (probability BETWEEN 0 AND 1),
    outcome TEXT NOT NULL CHECK (outcome IN ('true', 'false', 'partial', 'void', 'ambiguous', 'open')),
    value REAL CHECK (value IS NULL OR value BETWEEN 0 AND 1),
    resolves_by TEXT NOT NULL CHECK (date(resolves_by) = resolves_by),
    resolved_on TEXT CHECK (resolved_on IS NULL OR date(resolved_on) = resolved_on),
    horizon_days INTEGER,
    CHECK ((outcome IN ('true', 'false', 'partial')) = (value IS NOT NULL))
);
-- misses: the resolved predictions most confident first, so a page of them is read without sorting them all
CREATE INDEX idx_scored_predictions_miss ON scored_predictions (abs(probability - value) DESC, post_id, position)
    WHERE outcome IN ('true', 'false', 'partial');
CREATE TABLE score_sums (
    id INTEGER PRIMARY KEY,
    level TEXT NOT NULL CHECK (level IN ('post', 'section', 'quarter', 'horizon')),
    post_id TEXT NOT NULL REFERENCES posts(id),
    section_id TEXT REFERENCES sections(id),
    resolved_quarter TEXT,
    horizon_days_min INTEGER,
    year INTEGER,
    n INTEGER NOT NULL,
    n_resolved INTEGER NOT NULL,
    n_open INTEGER NOT NULL,
    n_void INTEGER NOT NULL,
    n_ambiguous INTEGER NOT NULL,
    squared_errors REAL,
    squared_errors_squared REAL,
    log_score_bits REAL,
    certain_misses INTEGER NOT NULL,
    log_score_bits_clipped REAL,
    log_score_bits_clipped_squared REAL,
    sum_probability REAL,
    sum_value REAL,
    sum_value_squared REAL,
    sum_probability_value REAL,
    sum_sharpness REAL,
    sum_folded_probability REAL,
    sum_folded_value REAL,
    z_numerator REAL,
    z_variance REAL,
    CHECK (level = 'section' OR section_id IS NULL),
    CHECK (level = 'quarter' OR resolved_quarter IS NULL),
    CHECK (level = 'horizon' OR horizon_days_min IS NULL)
);
"""

INDEXES = [
    ("posts", ["source_id"]),
    ("posts", ["reviews_post_id"]),
    ("posts", ["year", "title", "id"]),  # covering: the queries' post and year filters
    ("post_authors", ["author_id", "post_id"]),  # covering: the queries' author filter
    ("post_tags", ["tag_id", "post_id"]),  # covering: the queries' tag filter
    ("sections", ["post_id"]),
    ("sections", ["parent_id"]),
    ("predictions", ["post_id"]),
    ("predictions", ["section_id"]),
    ("predictions", ["parent_id"]),
    ("predictions", ["depends_on_id"]),
    ("predictions", ["condition_id"]),
    ("predictions", ["stated_percent"]),
    ("references", ["post_id"]),
    ("prediction_references", ["reference_id"]),
    ("resolutions", ["review_post_id"]),
    ("resolutions", ["outcome"]),
    ("evidence", ["prediction_id"]),
    ("claims", ["post_id"]),
    # covering indexes of the canned queries (metadata.yml): each reads one of them in the order it groups by
    ("scored_predictions", ["stated_percent", "outcome", "value", "probability", "year", "post_id"]),
    ("scored_predictions", ["outcome", "resolves_by", "post_id", "position", "year"]),
    ("scored_predictions", ["post_id"]),
    ("score_sums", ["post_id"]),
    ("score_sums", ["level", "year", "post_id"]),
    ("score_sums", ["section_id"]),
]

# `prediction_status` is the one place that turns a resolution into a state and a score value:
# void, ambiguous and open are never scored; a missing resolution is open.
VIEWS = {
    # Each claim beside the figure recomputed from the same post's resolved predictions (true/false/partial, as
    # prediction_status scores them), folded as the claim says; a difference is flagged when the claimed n or
    # hits differ, or the claimed frequency is a percentage point or more from the recomputed one (authors round).
    "claim_comparison": """
SELECT
    c.id AS claim_id,
    c.post_id,
    c.stated_in,
    c.bucket,
    c.folding,
    c.claimed_n,
    coalesce(r.n, 0) AS n,
    c.claimed_hits,
    coalesce(r.hits, 0) AS hits,
    c.claimed_frequency,
    r.hits / r.n AS frequency,
    r.mean_percent / 100.0 AS mean_probability,
    CASE WHEN (c.claimed_n IS NOT NULL AND c.claimed_n != coalesce(r.n, 0))
           OR (c.claimed_hits IS NOT NULL AND c.claimed_hits != coalesce(r.hits, 0))
           OR (c.claimed_frequency IS NOT NULL AND (r.n IS NULL OR abs(c.claimed_frequency - r.hits / r.n) >= 0.01))
         THEN 1 ELSE 0 END AS differs,
    c.url,
    c.path,
    c.line
FROM claims c
LEFT JOIN (
    SELECT c.id, count(*) AS n, sum(f.value) AS hits, avg(f.pct) AS mean_percent
    FROM claims c
    JOIN (SELECT sp.post_id, c2.id AS claim_id,
                 CASE WHEN c2.folding = 'folded' AND sp.stated_percent < 50 THEN 100 - sp.stated_percent
                      ELSE sp.stated_percent END AS pct,
                 CASE WHEN c2.folding = 'folded' AND sp.stated_percent < 50 THEN 1 - sp.value ELSE sp.value END AS value
          FROM scored_predictions sp JOIN claims c2 ON c2.post_id = sp.post_id
          WHERE sp.outcome IN ('true', 'false', 'partial')) f
      ON f.claim_id = c.id AND f.pct BETWEEN c.bucket_low AND c.bucket_high
    GROUP BY c.id
) r ON r.id = c.id
""",
    "prediction_status": """
SELECT
    p.id AS prediction_id,
    p.post_id,
    po.title AS post_title,
    po.year AS year,
    p.section_id,
    s.title AS section_title,
    p.kind,
    p.text,
    p.probability_text,
    p.stated_percent,
    p.probability,
    p.resolves_by,
    coalesce(r.outcome, 'open') AS outcome,
    r.value AS outcome_value,
    CASE
        WHEN coalesce(r.outcome, 'open') IN ('true', 'false', 'partial') THEN 'resolved'
        WHEN r.outcome IN ('void', 'ambiguous') THEN r.outcome
        WHEN p.resolves_by < (SELECT value FROM build_info WHERE key = 'build_date') THEN 'overdue'
        ELSE 'open'
    END AS state,
    CASE WHEN r.outcome IN ('true', 'false', 'partial') THEN 1 ELSE 0 END AS scored,
    r.verdict,
    r.source AS resolution_source,
    r.resolved_on,
    r.review_url,
    p.url,
    po.source_id,
    src.license
FROM predictions p
JOIN posts po ON po.id = p.post_id
JOIN sources src ON src.id = po.source_id
LEFT JOIN sections s ON s.id = p.section_id
LEFT JOIN resolutions r ON r.prediction_id = p.id
""",
    # One row per prediction with the post's tags and authors as JSON arrays, for browsing with facets
    # (Datasette's array facet: ?tags__arraycontains=LLMs). Tags and authors are aggregated once per post.
    "prediction_overview": """
SELECT
    ps.prediction_id,
    ps.post_id,
    ps.post_title,
    ps.year,
    ps.section_title,
    ps.kind,
    ps.text,
    ps.probability_text,
    ps.stated_percent,
    ps.probability,
    ps.resolves_by,
    ps.outcome,
    ps.outcome_value,
    coalesce(t.tags, '[]') AS tags,
    coalesce(a.authors, '[]') AS authors,
    ps.url,
    ps.source_id,
    ps.license
FROM prediction_status ps
LEFT JOIN (
    SELECT post_id, json_group_array(name) AS tags
    FROM (SELECT pt.post_id, tg.name FROM post_tags pt JOIN tags tg ON tg.id = pt.tag_id
          ORDER BY pt.post_id, pt.position)
    GROUP BY post_id
) t ON t.post_id = ps.post_id
LEFT JOIN (
    SELECT post_id, json_group_array(name) AS authors
    FROM (SELECT pa.post_id, au.name FROM post_authors pa JOIN authors au ON au.id = pa.author_id
          ORDER BY pa.post_id, pa.position)
    GROUP BY post_id
) a ON a.post_id = ps.post_id
""",
}
