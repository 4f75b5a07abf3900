"""The /about page (templates/pages/about.html) shows the project's README, rendered from Markdown.

Where the README or markdown-it-py is not at hand (a published container has neither), the page says
what the site is in one paragraph instead.
"""

from pathlib import Path

from datasette import hookimpl

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_html(path=README):
    try:
        from markdown_it import MarkdownIt

        text = path.read_text(encoding="utf-8")
    except (ImportError, OSError):
        return None
    return MarkdownIt("commonmark").enable("table").render(text)


@hookimpl
def extra_template_vars(template):
    if template == "pages/about.html":
        return {"readme_html": readme_html()}
    return {}
