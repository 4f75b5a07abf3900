"""`predictions init` on copies of the four list-style corpus blogs: what it finds is checked against the
published dataset's hand-kept predictions.toml and the blogs' SOURCE.md facts, never against init itself."""

import re
import shutil
import tomllib

import pytest
from test_dataset import query, run

from conftest import ROOT, SHARED

PUBLISHED = {s["name"]: s for s in tomllib.loads(
    (ROOT / "datasets" / "published-forecasts" / "predictions.toml").read_text())["sources"]}


def initialised(tmp_path, blog):
    folder = tmp_path / blog
    shutil.copytree(SHARED / "corpus" / blog, folder, ignore=shutil.ignore_patterns("SOURCE.md", "history.bundle"))
    result = run(folder, "init")
    return folder, (folder / "predictions.toml").read_text(), result.output


def suggested(text, key):
    """The paths in a commented `# key = [ ... # ]` block of init's output."""
    m = re.search(rf"^# {key} = \[\n(.*?)^# \]", text, re.M | re.S)
    return re.findall(r'^#   "([^"]+)",', m[1], re.M) if m else []


@pytest.mark.parametrize("blog, name", [("blog.urth.org", "blog-urth-org"), ("seinmastudios.com", "seinmastudios")])
def test_init_suggests_the_forecast_and_review_posts_the_published_dataset_names(tmp_path, blog, name):
    folder, text, output = initialised(tmp_path, blog)
    source = PUBLISHED[name]
    assert sorted(suggested(text, "forecasts")) == sorted(source["forecasts"])
    assert suggested(text, "reviews") == source["reviews"]
    assert "list forecasts as `Statement: 70%`" in output
    assert tomllib.loads(text)  # the suggestions are comments: the file stays valid as written


def test_init_reads_the_license_file_and_says_to_check_it(tmp_path):
    folder, text, output = initialised(tmp_path, "blog.urth.org")
    config = tomllib.loads(text)
    assert (config["license"], config["license_url"]) == (PUBLISHED["blog-urth-org"]["license"],
                                                          PUBLISHED["blog-urth-org"]["license_url"])
    assert "read from the title of LICENSE.md" in output and "check that it covers the posts" in output
    folder, text, output = initialised(tmp_path, "czinn-web")  # no LICENSE file: the license lives in a footer
    assert "license" not in tomllib.loads(text) and "say it in predictions.toml" in output


def test_init_finds_an_eleventy_blog_without_its_config_file(tmp_path):
    """erwald-blog has Eleventy's `_data/metadata.json` and posts under `posts/`, no eleventy config, no `content/`."""
    folder, text, output = initialised(tmp_path, "erwald-blog")
    config = tomllib.loads(text)
    source = config["sources"][0]
    assert (source["content"], source["site_config"]) == (".", "_data/metadata.json")
    assert "eleventy" in output and config["title"].startswith("Erich Grunewald")
    run(folder, "build", "--quiet")  # builds as written: posts found, base URL from the site data
    posts, url = query(folder / "data.db", "select count(*), min(url) from posts")[0]
    assert posts > 100 and url.startswith("https://www.erichgrunewald.com/posts/")
    assert query(folder / "data.db", "select kind, path from build_warnings where path like '%README.md'") == [
        ("excluded", "README.md")]
