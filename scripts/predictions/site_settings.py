"""What the Datasette site is made of, in one place for `predictions serve` and `predictions publish`.

The database is served immutable as `data` (so its URLs are /data/...), with metadata.yml, the project's
plugins and templates, an inspect file beside it, these settings and CORS for API users.
"""

import sys
from importlib.resources import files
from pathlib import Path

# The project's own site files ship inside the package (they work from a wheel install): the canned queries
# and descriptions, the plugins and the templates.
WEB = Path(str(files("predictions") / "web"))
METADATA = WEB / "metadata.yml"
PLUGINS = WEB / "plugins"
TEMPLATES = WEB / "templates"
DB_NAME = "data"  # Datasette names a database after its file: data.db -> /data

SETTINGS = {
    # On 124,000 predictions (10,000 posts, benchmarks/RESULTS.md) every canned query answers in 5-70 ms with
    # its default parameters; scores_by?by=section takes about 0.2 s. Table and view pages cost more (their
    # configured facets): with Datasette's facet suggestions they took about 1 s (predictions) and 3 s
    # (prediction_overview, at the limit), so suggestions are off below: 0.07 s and 1.9 s.
    # Anything slower than this limit is cut off instead of tying up a thread.
    "sql_time_limit_ms": 3000,
    # Rows per page and the cap on a canned query's result (JSON, CSV and the charts, which draw the rows
    # of the page). Tables and views stream every row as CSV with _stream=on.
    "max_returned_rows": 2000,
    # The data changes only when the database is rebuilt and the server restarted: let browsers and
    # proxies cache pages for an hour.
    "default_cache_ttl": 3600,
    "facet_time_limit_ms": 500,
    "suggest_facets": False,  # the facets people expect are configured in metadata.yml
    "allow_csv_stream": True,
    "num_sql_threads": 3,
}
CORS = True
# Set to 1 in the environment of `datasette serve`: visitors' SQL is answered by a second Datasette that the
# site's starts (web/plugins/arbitrary_sql.py); `predictions serve` and the published container set it.
SQL_PROCESS_ENV = "PREDICTIONS_SQL_PROCESS"


def inspect_path(db_path):
    """The inspect file kept beside a database: data.db -> inspect-data.json."""
    db_path = Path(db_path)
    return db_path.with_name(f"inspect-{db_path.stem}.json")


def datasette_command():
    """Datasette from the same Python environment as this package."""
    return [sys.executable, "-m", "datasette"]


def inspect_argv(db_path):
    return [*datasette_command(), "inspect", str(db_path), "--inspect-file", str(inspect_path(db_path))]


def serve_argv(db_path, host="127.0.0.1", port=8001, metadata=METADATA, plugins=PLUGINS, templates=TEMPLATES):
    """`datasette serve` for the site: immutable database with its inspect file, metadata, settings."""
    argv = [*datasette_command(), "serve", "-i", str(db_path), "--inspect-file", str(inspect_path(db_path)),
            "-m", str(metadata), "--host", host, "--port", str(port)]
    if Path(plugins).is_dir():
        argv += ["--plugins-dir", str(plugins)]
    if Path(templates).is_dir():
        argv += ["--template-dir", str(templates)]
    for name, value in SETTINGS.items():
        argv += ["--setting", name, setting_text(value)]
    if CORS:
        argv.append("--cors")
    return argv


def setting_text(value):
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def datasette_kwargs(db_path, metadata=METADATA):
    """Keyword arguments for an in-process `datasette.app.Datasette` configured like the served site.

    ``metadata``: a dict (sitemeta.site_metadata) or a YAML/JSON file; default, the package's own."""
    import yaml

    if not isinstance(metadata, dict):
        metadata = yaml.safe_load(Path(metadata).read_text())
    return dict(files=[], immutables=[str(db_path)], metadata=metadata,
                plugins_dir=str(PLUGINS), template_dir=str(TEMPLATES) if TEMPLATES.is_dir() else None,
                settings=dict(SETTINGS), cors=CORS)
