"""`predictions serve`: build data.db when it is missing or older than its sources, then run Datasette."""

import os
import subprocess
import sys
from pathlib import Path

import click

from . import build as pipeline
from . import site_settings
from .site import find_config


def sources(content_roots, resolutions_dir):
    """Every file the database is built from: the posts, the sites' configs and the resolution files."""
    for root in content_roots:
        root = Path(root)
        yield from (p for p in root.rglob("*") if p.is_file())
        config = find_config(root)
        if config:
            yield config
    if resolutions_dir and Path(resolutions_dir).is_dir():
        yield from Path(resolutions_dir).glob("*.yml")


def is_stale(db_path, content_roots, resolutions_dir):
    db_path = Path(db_path)
    if not db_path.is_file():
        return True
    built = db_path.stat().st_mtime
    return any(p.stat().st_mtime > built for p in sources(content_roots, resolutions_dir))


def ensure_inspect(db_path):
    """Write the inspect file (table counts, hash) when it is missing or older than the database."""
    path = site_settings.inspect_path(db_path)
    if not path.is_file() or path.stat().st_mtime < Path(db_path).stat().st_mtime:
        subprocess.run(site_settings.inspect_argv(db_path), check=True)
    return path


@click.command()
@click.option("--db", "db_path", default=str(site_settings.DB), show_default=True,
              type=click.Path(dir_okay=False), help="The database; its file name must be data.db.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("--content", "content", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Content root(s) to build from when the database is stale. Default: the bundled one.")
@click.option("--resolutions", "resolutions", type=click.Path(file_okay=False),
              default=str(site_settings.ROOT / "resolutions"), show_default=True,
              help="Folder of resolution files (<post>.yml).")
@click.pass_context
def serve(ctx, db_path, host, port, content, resolutions):
    """Build the database if it is missing or older than its sources, then serve it with Datasette."""
    db_path = Path(db_path).resolve()
    if db_path.name != f"{site_settings.DB_NAME}.db":
        raise click.BadParameter(f"name the file {site_settings.DB_NAME}.db (Datasette names the database after "
                                 "its file, and metadata.yml and every URL use /data)", param_hint="--db")
    roots = [Path(c) for c in content] or [pipeline.default_content()]
    if is_stale(db_path, roots, resolutions):
        from .cli import build

        click.echo(f"building {db_path} (missing or older than its sources)", err=True)
        ctx.invoke(build, content=content, resolutions=resolutions, db_path=str(db_path), quiet=True)
    ensure_inspect(db_path)
    argv = site_settings.serve_argv(db_path, host, port)
    click.echo(f"serving http://{host}:{port}/ (Ctrl-C stops)", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # Datasette takes this process over: signals reach it directly
