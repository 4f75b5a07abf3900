"""The GitHub Actions workflow that publishes a dataset on a schedule (`predictions publish --workflow`).

The way simonw/museums and simonw/covid-19-datasette publish: on push and on a schedule, fetch the sources,
build, test every canned query and table page, prepare the site folder, and deploy only when the database's
`datasette inspect` hash differs from the one the live site reports at /-/databases.json.
"""

WORKFLOW = ".github/workflows/publish-forecasts.yml"
MARK = "# Written by `predictions publish --workflow`"  # the first line of a workflow this module wrote
NEW_HASH = "import json; print(json.load(open('site/inspect-data.json'))['data']['hash'])"
LIVE_HASH = ("import json, sys; "
             "print(next((d.get('hash') or '' for d in json.load(sys.stdin) if d['name'] == 'data'), ''))")


def workflow(package="predictions", site_url="https://predictions.fly.dev", cron="17 6 * * *"):
    """The workflow's YAML text. Every `run:` step is plain shell, so a test can run the steps here."""
    return f"""{MARK}: fetch the sources, build, test the site, deploy when the
# database changed. Set the repository secret FLY_API_TOKEN (or replace the Deploy step, e.g. with
# `datasette publish cloudrun site/data.db -m site/metadata.yml ...`).
name: Publish forecasts
on:
  push:
    branches: [main]
  schedule:
    - cron: "{cron}"
  workflow_dispatch:
permissions:
  contents: read
env:
  SITE_URL: "{site_url}"
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install
        run: pip install "{package}"
      - name: Fetch the sources
        run: predictions fetch
      - name: Build
        run: predictions build
      - name: Test the site
        run: predictions check
      - name: Prepare the site folder
        run: predictions publish --out site --url "$SITE_URL"
      - name: Did the database change?
        id: changed
        run: |
          new=$(python3 -c "{NEW_HASH}")
          old=$(curl -fsS "$SITE_URL/-/databases.json" | python3 -c "{LIVE_HASH}" || true)
          echo "new=$new old=$old"
          if [ "$new" != "$old" ]; then deploy=true; else deploy=false; fi
          echo "deploy=$deploy" >> "$GITHUB_OUTPUT"
      - name: Deploy
        if: steps.changed.outputs.deploy == 'true'
        uses: superfly/flyctl-actions/setup-flyctl@master
      - name: Deploy to Fly
        if: steps.changed.outputs.deploy == 'true'
        env:
          FLY_API_TOKEN: ${{{{ secrets.FLY_API_TOKEN }}}}
        run: cd site && flyctl deploy --remote-only
"""


def write_workflow(folder, package="predictions", site_url="https://predictions.fly.dev"):
    """Write the workflow into the dataset folder; a different file already there is an error, never replaced."""
    path = folder / WORKFLOW
    text = workflow(package, site_url)
    if path.exists() and not path.read_text(encoding="utf-8").startswith(MARK):
        raise FileExistsError(f"{path} exists and was not written by predictions: move it away first")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
