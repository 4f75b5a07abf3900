"""`predictions resolve` on hostile ground (issue 15, items 3, 4, 5 and 7): runs at once, symbolic links, the
lines it must not touch, a full disk and a read-only folder."""

import os
import subprocess

import yaml
from test_reliability import PREDICTIONS
from test_resolutions import FORECAST

from conftest import run_cli, small_filesystem, write_site

POST = "predictions-2031"
IDS = [f"{POST}/grid-trouble/1", f"{POST}/chips/1"]


def site(tmp_path):
    return write_site(tmp_path / "site", {f"blog/{POST}/index.md": FORECAST})


def resolve(content, folder, pid, *extra):
    return run_cli("resolve", pid, "--outcome", "true", "--on", "2032-01-02", "--content", content,
                   "--resolutions", folder, *extra)


def test_two_resolve_runs_at_once_never_lose_an_entry(tmp_path):
    content, folder = site(tmp_path), tmp_path / "resolutions"
    folder.mkdir()
    lost = []
    for attempt in range(12):
        path = folder / f"{POST}.yml"
        path.write_text(f"# kept by hand\nresolutions:\n  {POST}/lightning-round/1:\n    outcome: void\n")
        runs = [subprocess.Popen([PREDICTIONS, "resolve", pid, "--outcome", "true", "--content", content,
                                  "--resolutions", folder], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for pid in IDS]
        for run in runs:
            _, err = run.communicate(timeout=120)
            assert run.returncode == 0, err.decode()
        entries = yaml.safe_load(path.read_text())["resolutions"] or {}
        if sorted(entries) != sorted([*IDS, f"{POST}/lightning-round/1"]):
            lost.append(attempt)
    assert lost == []


def test_a_resolution_file_that_is_a_link_is_updated_where_it_points(tmp_path):
    content, folder = site(tmp_path), tmp_path / "resolutions"
    folder.mkdir()
    real = tmp_path / "kept-elsewhere" / "real.yml"
    real.parent.mkdir()
    real.write_text("resolutions:\n  predictions-2031/grid-trouble/1:\n    outcome: false\n")
    link = folder / f"{POST}.yml"
    link.symlink_to(os.path.relpath(real, folder))
    result = resolve(content, folder, IDS[1])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == real
    assert sorted(yaml.safe_load(real.read_text())["resolutions"]) == sorted(IDS)


def test_a_link_to_nowhere_is_refused(tmp_path):
    content, folder = site(tmp_path), tmp_path / "resolutions"
    folder.mkdir()
    (folder / f"{POST}.yml").symlink_to(tmp_path / "missing.yml")
    result = resolve(content, folder, IDS[1])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert not (tmp_path / "missing.yml").exists() and (folder / f"{POST}.yml").is_symlink()


HAND_KEPT = """\
# Resolutions kept by hand: every line below must survive a `resolve` of another entry byte for byte.
resolutions:
    # The grid one, with a URL longer than any line width.
    predictions-2031/grid-trouble/1:
        outcome: true   # obvious
        resolved_on: 2031-12-23
        note: 'Quoted, ''as written'', and long enough to be folded by an emitter that folds lines at a width of 100.'
        evidence:
            -   url: https://aimlbling-about.ninerealmlabs.com/blog/year-in-review---2025/#lightning-round-review
                title: Year in Review - 2025 (Lightning Round Review)

    # Next: the laundry robots.
    predictions-2031/lightning-round/3: {outcome: "false", judged_by: author}
    predictions-2031/lightning-round/1:
        outcome: void
"""


def test_resolve_leaves_every_other_entry_byte_for_byte(tmp_path):
    content, folder = site(tmp_path), tmp_path / "resolutions"
    folder.mkdir()
    path = folder / f"{POST}.yml"
    path.write_text(HAND_KEPT)
    result = resolve(content, folder, IDS[1], "--source", "https://example.org/" + "x" * 120)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.startswith(HAND_KEPT)  # a new entry goes after every line that was there
    assert f"https://example.org/{'x' * 120}\n" in text  # never folded
    path.write_text(HAND_KEPT)
    result = resolve(content, folder, f"{POST}/lightning-round/3", "--note", "Folded? Never.")  # one in the middle
    assert result.exit_code == 0, result.output
    text = path.read_text()
    head, tail = HAND_KEPT.split("    predictions-2031/lightning-round/3:")
    assert text.startswith(head) and text.endswith(tail.split("\n", 1)[1])
    entry = yaml.safe_load(text)["resolutions"][f"{POST}/lightning-round/3"]
    assert entry["note"] == "Folded? Never." and entry["outcome"] is True


def test_resolve_on_a_full_disk_says_so_and_changes_nothing(tmp_path):
    content = site(tmp_path)
    with small_filesystem(tmp_path / "disk", "64k") as disk:
        path = disk / f"{POST}.yml"
        path.write_text(HAND_KEPT)
        with open(disk / "filler", "wb", buffering=0) as f:  # fill the disk to its last block
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        result = resolve(content, disk, IDS[1])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "No space left on device" in result.output and "it was left as it was" in result.output
        assert path.read_text() == HAND_KEPT
        assert not list(disk.glob("*.tmp"))


def test_resolve_in_a_read_only_folder_says_so_and_changes_nothing(tmp_path):
    content, folder = site(tmp_path), tmp_path / "ro"
    folder.mkdir()
    with small_filesystem(folder, "64k"):
        (folder / f"{POST}.yml").write_text(HAND_KEPT)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        result = resolve(content, folder, IDS[1])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "Read-only file system" in result.output
        assert (folder / f"{POST}.yml").read_text() == HAND_KEPT
