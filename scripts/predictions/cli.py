"""The `predictions` command."""

import difflib
import sys
from pathlib import Path

import click

from . import build as pipeline
from . import database
from .cache import Cache, cache_path
from .errors import InputError
from .resolutions import JUDGES
from .resolve import record, resolution_path
from .schema import OUTCOMES

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


def collect(content, resolutions, drafts, base_url, quiet=True, cache=None, on_post=None):
    roots = [Path(c) for c in content] or [pipeline.default_content()]
    progress = None if quiet else show_progress
    try:
        return pipeline.collect(roots, resolutions, drafts=drafts, base_url=base_url, progress=progress, cache=cache,
                                on_post=on_post)
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
        f"references: {sum(e.references for e in posts)}",
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
@click.option("--full", is_flag=True, help="Parse every post again instead of reusing unchanged posts' work.")
def build(content, resolutions, drafts, base_url, db_path, quiet, full):
    """Read the posts and resolutions and write the database (replaced only if everything succeeded)."""
    cache = Cache(cache_path(db_path), enabled=not full)
    try:
        with database.Writer(db_path) as writer:
            rows = pipeline.Rows(writer)
            corpus = collect(content, resolutions, drafts, base_url, quiet, cache, on_post=rows.post)
            rows.finish(corpus)
            writer.finish()
        cache.save()
    finally:
        cache.close()
    if not quiet:
        for _kind, problem in corpus.report.warnings:
            click.echo(f"warning: {problem}", err=True)
    click.echo(f"wrote {db_path}")
    for line in summary(corpus):
        click.echo(line)
    click.echo(f"incremental: reused the parsed work of {cache.hits} unchanged posts, parsed {cache.misses}")


@cli.command()
@content_option
def lint(content, resolutions, drafts, base_url):
    """Run every check of `build` without writing anything; list the prediction ids."""
    corpus = collect(content, resolutions, drafts, base_url)
    for _kind, problem in corpus.report.warnings:
        click.echo(f"warning: {problem}", err=True)
    for p in corpus.predictions:
        click.echo(f"{p.id}\t{p.probability_text}\t{p.text[:70]}")
    for line in summary(corpus):
        click.echo(line)


@cli.command()
@click.argument("prediction_id")
@click.option("--outcome", required=True, type=click.Choice(OUTCOMES),
              help="Whether the statement as written happened (not whether the forecast was right).")
@click.option("--value", type=click.FloatRange(0, 1), help="For --outcome partial: how much happened, 0 to 1.")
@click.option("--note", help="Why: the evidence in a sentence.")
@click.option("--source", "sources", multiple=True, help="URL of the evidence. Repeatable.")
@click.option("--on", type=click.DateTime(["%Y-%m-%d"]), help="Date it was resolved (default: today).")
@click.option("--verdict", help="The verdict as worded by whoever judged it.")
@click.option("--by", "judged_by", type=click.Choice(JUDGES), default="maintainer", show_default=True)
@click.option("--condition", help="Id of a prediction this one requires to come true.")
@content_option
def resolve(prediction_id, outcome, value, note, sources, on, verdict, judged_by, condition,
            content, resolutions, drafts, base_url):
    """Record the resolution of PREDICTION_ID in its post's resolution file (comments and order kept)."""
    if outcome == "partial" and value is None:
        raise click.UsageError("--outcome partial needs --value between 0 and 1")
    corpus = collect(content, resolutions, drafts, base_url)
    ids = [p.id for p in corpus.predictions]
    if prediction_id not in ids:
        near = difflib.get_close_matches(prediction_id, ids, n=3, cutoff=0.5)
        raise click.BadParameter(f"unknown prediction id {prediction_id!r}" +
                                 (f"; did you mean {', '.join(near)}?" if near else ""), param_hint="PREDICTION_ID")
    def validate():  # under the file's lock: a file the build would refuse is put back as it was
        pipeline.collect([Path(c) for c in content] or [pipeline.default_content()], resolutions,
                         drafts=drafts, base_url=base_url)

    try:
        path = record(resolutions, prediction_id, outcome, value=value, note=note, sources=sources,
                      on=on.date() if on else None, verdict=verdict, judged_by=judged_by, condition=condition,
                      validate=validate)
    except InputError as e:
        for problem in e.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{resolution_path(resolutions, prediction_id.split('/')[0])} left as it was.", err=True)
        sys.exit(1)
    click.echo(f"recorded {prediction_id}: {outcome} in {path}")


def main():
    cli()


from .export import export  # noqa: E402

cli.add_command(export)

from .serve import serve  # noqa: E402

cli.add_command(serve)

from .publish import publish  # noqa: E402

cli.add_command(publish)
