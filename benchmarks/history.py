"""Benchmark of the forecast history (issue 12): what reading a git source's history costs, and what the cache saves.

    .venv/bin/python benchmarks/history.py [--posts 500] [--versions 10] [--work DIR]

Two git sources: the real blog's history bundle (../shared/corpus/aimlbling-about/history.bundle) and a synthetic
repository: synth.py's corpus (--posts 500 forecast posts make 1,008 posts with their reviews and articles), each
post committed --versions times (one commit per post per round, so 10,080 commits; each version before the last
differs by a comment line, and the first four state the post's first probability differently). For each: a
build with no cache at all (`--full`: the whole log and every version read), a rebuild with no new commits, a
rebuild after one new commit, and the same checkout built as a path source (no history) for reference, from
scratch and again with nothing changed. Every
build runs in a fresh process; the figures are its wall time and what it read from git (History.stats).
Trees go to /dev/shm. No test runs this; nothing asserts a time.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUNDLE = ROOT.parent / "shared" / "corpus" / "aimlbling-about" / "history.bundle"
PY = sys.executable
CHILD = """
import json, sys, time
from predictions import build, config
t = time.perf_counter()
corpus, cache = build.write(config.find(config=sys.argv[1]), full=sys.argv[2] == "full")
print(json.dumps(dict(seconds=time.perf_counter() - t, predictions=len(corpus.predictions), **corpus.history)))
"""


def git(*args, cwd, **kw):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, **kw).stdout


def build(toml, full=False):
    """One build in a fresh process: its wall time and what it read from git."""
    out = subprocess.run([PY, "-c", CHILD, str(toml), "full" if full else "incremental"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def dataset(folder, name, git_url=None, path=None, root=".", site_config=None):
    folder.mkdir(parents=True, exist_ok=True)
    where = f'git = "{git_url}"' if git_url else f'path = "{path}"'
    extra = f'site_config = "{site_config}"\n' if site_config else ""
    (folder / "predictions.toml").write_text(f'resolutions = "{folder / "resolutions"}"\n[[sources]]\nname = "{name}"\n'
                                             f'{where}\nroot = "{root}"\ncontent = "content"\n{extra}')
    if git_url:
        subprocess.run([str(Path(PY).with_name("predictions")), "--config", str(folder / "predictions.toml"), "fetch"],
                       check=True, capture_output=True)
    return folder / "predictions.toml"


def version_text(text, k, last):
    """Version k of a post whose last version is text: a comment line more, and before k = 5 another probability."""
    if k == last:
        return text
    if k < 5:
        text = re.sub(r"Probability: (\d+)%", lambda m: f"Probability: {50 if m[1] != '50' else 60}%", text, count=1)
    return text + f"\n<!-- edit {k} -->\n"


def synthetic_repo(work, posts, versions):
    """synth.py's corpus committed with git fast-import: each post --versions times, round by round."""
    tree = work / "synth-tree"
    subprocess.run([PY, str(HERE / "synth.py"), "--posts", str(posts), "--seed", "1", "--out", str(tree)],
                   check=True, capture_output=True)
    files = sorted(p.relative_to(tree).as_posix() for p in (tree / "content").rglob("*.md"))
    repo = work / "synth-repo"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(repo), cwd=work)
    stream, mark, t0 = [], 0, 1_700_000_000

    def data(b):
        stream.append(b"data %d\n" % len(b) + b + b"\n")

    for k in range(1, versions + 1):
        for rel in files:
            mark += 1
            stream.append(b"commit refs/heads/main\nmark :%d\ncommitter Synth <synth@example.org> %d +0000\n"
                          % (mark, t0 + mark * 600))
            data(f"{rel}: version {k}".encode())
            if mark > 1:
                stream.append(b"from :%d\n" % (mark - 1))
            else:
                stream.append(b"M 100644 inline hugo.yaml\n")
                data((tree / "hugo.yaml").read_bytes())
            stream.append(f"M 100644 inline {rel}\n".encode())
            data(version_text((tree / rel).read_text(), k, versions).encode())
    git("fast-import", "--quiet", cwd=repo, input=b"".join(stream))
    return repo, len(files), mark


def one_more_commit(repo, work):
    """A new commit on the repository that changes one post (through a scratch clone, as a blogger pushes)."""
    clone = work / "pusher"
    shutil.rmtree(clone, ignore_errors=True)
    git("clone", "--quiet", str(repo), str(clone), cwd=work)
    post = next(p for p in sorted((clone / "hugo" if (clone / "hugo").is_dir() else clone).rglob("index.md"))
                if "Probability" in p.read_text())
    post.write_text(post.read_text() + "\nOne more line.\n")
    git("-c", "user.name=Bench", "-c", "user.email=bench@example.org", "commit", "--quiet", "-am", "one more", cwd=clone)
    git("push", "--quiet", "origin", "HEAD:main", cwd=clone)


def measure(label, toml, repo, work, path_toml):
    rows = [("build, no cache (--full)", build(toml, full=True)),
            ("rebuild, no new commits", build(toml))]
    if repo is not None:
        one_more_commit(repo, work)
        subprocess.run([str(Path(PY).with_name("predictions")), "--config", str(toml), "fetch"], check=True,
                       capture_output=True)
        rows.append(("rebuild after one new commit", build(toml)))
    rows.append(("same checkout as a path source (no history), --full", build(path_toml, full=True)))
    rows.append(("path source, rebuild with nothing changed", build(path_toml)))
    print(f"\n{label}")
    print(f"  {'build':<54} {'wall s':>7} {'commits read':>13} {'blobs read':>11} {'posts':>6} {'versions':>9}")
    for name, r in rows:
        print(f"  {name:<54} {r['seconds']:7.2f} {r.get('commits_read', 0):13,} {r.get('blobs_read', 0):11,} "
              f"{r.get('posts', 0):6,} {r.get('versions', 0):9,}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=500, help="synth.py --posts (forecast posts; ~2x as many posts)")
    ap.add_argument("--versions", type=int, default=10, help="commits per post in the synthetic repository")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a new one in /dev/shm, removed at the end)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="history-bench-", dir="/dev/shm"))
    try:
        # the real blog: a local clone of the bundle is the remote, so that one more commit can be pushed to it
        remote = work / "aimlbling-remote"
        git("clone", "--quiet", "--bare", str(BUNDLE), str(remote), cwd=work)
        toml = dataset(work / "aimlbling", "aimlbling-about", git_url=remote, root="hugo",
                       site_config="config/_default/hugo.yaml")
        path_toml = dataset(work / "aimlbling-path", "aimlbling-about", root="hugo",
                            path=work / "aimlbling" / ".predictions" / "git" / "aimlbling-about",
                            site_config="config/_default/hugo.yaml")
        measure(f"history bundle ({BUNDLE.name})", toml, remote, work, path_toml)
        t = time.perf_counter()
        repo, n_posts, n_commits = synthetic_repo(work, args.posts, args.versions)
        made = time.perf_counter() - t
        toml = dataset(work / "synth", "synth", git_url=repo)
        path_toml = dataset(work / "synth-path", "synth", path=work / "synth" / ".predictions" / "git" / "synth")
        measure(f"synthetic: {n_posts:,} posts x {args.versions} commits = {n_commits:,} commits "
                f"(made in {made:.1f} s)", toml, repo, work, path_toml)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
