"""The `predictions` command."""

import sys
from pathlib import Path

import click

from . import build as pipeline
from . import database
from .errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def content_option(f):
    f = click.option("--content", "content", multiple=True, type=click.Path(exists=True, file_okay=False),
                     help="A content root (Hugo's content/ or a Jekyll site). Repeatable. Default: the bundled one.")(f)
    f = click.option("--resolutions", "resolutions", type=click.Path(file_okay=False),
                     default=str(ROOT / "resolutions"), show_default=True,
                     help="Folder of resolution files (<post>.yml).")(f)
    f = click.option("--drafts", is_flag=True, help="Include posts with `draft: true`.")(f)
    f = click.option("--base-url", help="Override the site's base URL (otherwise read from its hugo.yaml).")(f)
    return f


def collect(content, resolutions, drafts, base_url, quiet=True):
    roots = [Path(c) for c in content] or [pipeline.default_content()]
    progress = None if quiet else show_progress
    try:
        return pipeline.collect(roots, resolutions, drafts=drafts, base_url=base_url, progress=progress)
    except InputError as e:
        for problem in e.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{len(e.problems)} error(s); nothing was written.", err=True)
        sys.exit(1)


def show_progress(n, total):
    if total >= 200 and (n % 500 == 0 or n == total):
        click.echo(f"  read {n:,}/{total:,} files", err=True)


def summary(corpus):
    preds = corpus.predictions
    posts = corpus.entries
    lines = [
        f"posts read: {len(posts)} ({corpus.skipped_drafts} drafts skipped)",
        f"posts with predictions: {sum(1 for e in posts if e.kind == 'forecast')}",
        f"review posts: {sum(1 for e in posts if e.kind == 'review')}",
        f"predictions: {len(preds)}",
        f"references: {sum(len(e.extraction.references) for e in posts if e.extraction)}",
        f"resolutions: {len(corpus.resolutions)} "
        f"(from reviews {sum(1 for r in corpus.resolutions.values() if r.source == 'review')}, "
        f"from files {sum(1 for r in corpus.resolutions.values() if r.source == 'file')}, "
        f"voided by condition {sum(1 for r in corpus.resolutions.values() if r.source == 'condition')})",
        f"warnings: {len(corpus.report.warnings)}",
    ]
    kinds = {}
    for kind, _ in corpus.report.warnings:
        kinds[kind] = kinds.get(kind, 0) + 1
    lines += [f"  {kind}: {n}" for kind, n in sorted(kinds.items())]
    return lines


@click.group()
@click.version_option(package_name="predictions")
def cli():
    """Published forecasts and their resolutions as a Datasette-ready SQLite database."""


@cli.command()
@content_option
@click.option("--db", "db_path", default=str(ROOT / "data.db"), show_default=True, type=click.Path(dir_okay=False))
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
def build(content, resolutions, drafts, base_url, db_path, quiet):
    """Read the posts and resolutions and write the database (replaced only if everything succeeded)."""
    corpus = collect(content, resolutions, drafts, base_url, quiet)
    database.write(db_path, pipeline.rows(corpus))
    if not quiet:
        for kind, problem in corpus.report.warnings:
            click.echo(f"warning: {problem}", err=True)
    click.echo(f"wrote {db_path}")
    for line in summary(corpus):
        click.echo(line)


@cli.command()
@content_option
def lint(content, resolutions, drafts, base_url):
    """Run every check of `build` without writing anything; list the prediction ids."""
    corpus = collect(content, resolutions, drafts, base_url)
    for kind, problem in corpus.report.warnings:
        click.echo(f"warning: {problem}", err=True)
    for p in corpus.predictions:
        click.echo(f"{p.id}\t{p.probability_text}\t{p.text[:70]}")
    for line in summary(corpus):
        click.echo(line)


def main():
    cli()
