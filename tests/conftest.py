"""Shared fixtures: databases built by the real CLI from real files."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from predictions.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "aimlbling-about" / "content"
RESOLUTIONS = ROOT / "resolutions"


def run_cli(*args):
    """Run `predictions ARGS` in-process; returns the click Result (exit_code, output, stderr)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def build_db(db_path, content=None, resolutions=None, *extra):
    """Build a database with the real CLI; fails the test with the CLI's output if the build fails."""
    args = ["build", "--db", db_path, "--quiet"]
    for c in [content] if isinstance(content, (str, Path)) else content or []:
        args += ["--content", c]
    args += ["--resolutions", resolutions or RESOLUTIONS, *extra]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output + result.stderr
    return Path(db_path)


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory):
    """The whole real blog (../shared) with the project's resolution files."""
    assert CORPUS.is_dir(), f"the shared corpus is missing: {CORPUS}"
    return build_db(tmp_path_factory.mktemp("corpus") / "data.db", CORPUS)


@pytest.fixture(scope="session")
def bundled_db(tmp_path_factory):
    """The bundled default content (the seed post)."""
    return build_db(tmp_path_factory.mktemp("bundled") / "data.db")


def write_site(root, posts, base_url="https://example.org/"):
    """A Hugo site for a test: {"blog/slug/index.md": text} under root/content, with hugo.yaml."""
    root = Path(root)
    (root / "content").mkdir(parents=True, exist_ok=True)
    (root / "hugo.yaml").write_text(
        f'title: Test Blog\nbaseURL: "{base_url}"\n'
        "copyright: '<a href=\"https://creativecommons.org/licenses/by-nc/4.0/\">CC BY-NC-4.0</a>'\n"
    )
    for rel, text in posts.items():
        path = root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return root / "content"
