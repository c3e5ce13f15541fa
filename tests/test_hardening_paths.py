"""Recording paths from the call log are outside input: anything leaving the folder is refused.

`resolve_recording` (pipeline/recordings.py) is the one recording check, the nightly flow's and
the review app's. Every hostile path must come back as a refusal (or "missing") with a reason,
never an exception, and never be opened: the file the paths point at has its access time set
to 0 and must keep it through a whole night.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hardening.night import CRASHING_PATHS, HOSTILE_PATHS, run_night

from pipeline import store
from pipeline.recordings import resolve_recording


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    recordings, outside = tmp_path / "recordings", tmp_path / "outside"
    recordings.mkdir()
    outside.mkdir()
    (outside / "secret.opus").write_bytes(b"OggS secret")
    (recordings / "good.opus").write_bytes(b"OggS fine")
    (recordings / "sub").mkdir()
    (recordings / "sub" / "nested.opus").write_bytes(b"OggS nested")
    (recordings / "link_out.opus").symlink_to(outside / "secret.opus")
    (recordings / "link_dir").symlink_to(outside, target_is_directory=True)
    (recordings / "alias.opus").symlink_to(recordings / "good.opus")
    (recordings / "loop.opus").symlink_to("loop.opus")
    (recordings / "ping.opus").symlink_to("pong.opus")
    (recordings / "pong.opus").symlink_to("ping.opus")
    os.mkfifo(recordings / "fifo.opus")
    return recordings, outside


REFUSED = {
    **{k: v for k, v in HOSTILE_PATHS.items() if k != "missing"},
    "absolute_outside": "{outside}/secret.opus",
    "dotdot_into_self": "sub/../../recordings/good.opus",
    "backslash_root": "\\secret.opus",
    "drive_relative": "c:secret.opus",
    "nul_middle": "sub/\x00/../good.opus",
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_paths_leaving_the_folder_are_refused(folders: tuple[Path, Path], kind: str) -> None:
    recordings, outside = folders
    check = resolve_recording(recordings, REFUSED[kind].format(outside=outside))
    assert check.path is None
    assert check.reason and check.reason.startswith("refused recording path"), check.reason


@pytest.mark.parametrize(
    "relative",
    [
        "a/" * 2100 + "x.opus",  # longer than PATH_MAX
        "x" * 300 + ".opus",  # one name longer than NAME_MAX
        ".",
        "./",
        "loop.opus",  # a link to itself
        "ping.opus",  # two links pointing at each other
        "fifo.opus",  # not a regular file: opening it would block the night
        "sub",  # a folder
        "missing.opus",
        "~/secret.opus",
        "%2e%2e/secret.opus",
        "good.opus\n",
    ],
)
def test_odd_paths_get_a_reason_not_an_exception(folders: tuple[Path, Path], relative: str) -> None:
    recordings, _ = folders
    check = resolve_recording(recordings, relative)
    assert check.path is None
    assert check.reason


@pytest.mark.parametrize("relative", ["good.opus", "sub/nested.opus", "./good.opus", "alias.opus"])
def test_paths_inside_are_accepted(folders: tuple[Path, Path], relative: str) -> None:
    recordings, _ = folders
    check = resolve_recording(recordings, relative)
    assert check.reason is None
    assert check.path == (recordings / relative).resolve()


def test_empty_paths_mean_not_recorded(folders: tuple[Path, Path]) -> None:
    recordings, _ = folders
    for relative in (None, "", "   "):
        check = resolve_recording(recordings, relative)
        assert check.path is None and check.reason and "not recorded" in check.reason


# -- the night -------------------------------------------------------------------------------


def test_the_night_refuses_and_reports_every_escaping_path(hardening_night) -> None:  # type: ignore[no-untyped-def]
    run, world = hardening_night.run, hardening_night.world
    assert run.returncode == 0, run.stderr[-3000:]
    failures = store.read_table(run.out, store.FAILURES).set_index("call_id")
    for call_id, kind in world.kinds.items():
        if not kind.startswith("path:"):
            continue
        assert call_id in failures.index, kind
        reason = failures.loc[call_id, "reason"]
        assert failures.loc[call_id, "stage"] == "recording", kind
        expected = "recording missing" if kind == "path:missing" else "refused recording path"
        assert reason.startswith(expected), (kind, reason)


def test_refused_paths_are_never_read(hardening_night) -> None:  # type: ignore[no-untyped-def]
    """The file every escaping path points at keeps the access time 0 it was given."""
    secret = hardening_night.world.outside / "secret.opus"
    assert secret.stat().st_atime == 0, "a refused recording was opened"
    cards = store.read_table(hardening_night.run.out, store.SCORECARDS)
    assert not cards["recording"].fillna("").str.contains("secret").any()


def test_hostile_call_ids_never_become_file_names(hardening_night) -> None:  # type: ignore[no-untyped-def]
    root = hardening_night.world.root
    near = [root.parent, Path.cwd(), Path.cwd().parent]
    names = {p.name for p in root.rglob("*")} | {p.name for d in near for p in d.iterdir()}
    assert "escaped_id" not in names
    assert not any(n.startswith("=cmd") for n in names)


def test_paths_that_crashed_the_checker_do_not_stop_the_night(hardening_night, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Over-long names, `.`, and symlink loops: one failure row each, and the night (which has
    one good call too) completes.

    Found by this suite: `resolve_recording` raised (OSError ENAMETOOLONG, IndexError on ".",
    RuntimeError on a link loop); the transcribe task crashed, its score task never ran, and
    `_collect` re-raised `UnfinishedRun`, failing the whole night.
    """
    run = run_night(hardening_night.world, tmp_path / "out", hardening_night.env, log="crash")
    assert run.returncode == 0, run.stderr[-3000:]
    failures = store.read_table(run.out, store.FAILURES).set_index("call_id")
    for call_id in hardening_night.world.crash_kinds:
        assert call_id in failures.index
        assert failures.loc[call_id, "reason"]
    assert len(CRASHING_PATHS) == len(hardening_night.world.crash_kinds)
