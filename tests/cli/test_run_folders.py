"""Run folders through ``swansphere train``: one owner, no silent mixing of runs, resume that
survives torn files (docs/training.md "Run folders" and "Resuming")."""

from __future__ import annotations

import json
import threading

import pytest
from cli_helpers import codec_config

from swansphere.cli import main
from swansphere.training.checkpoint import list_checkpoints
from swansphere.training.loop import MetricsLog
from swansphere.training.run_folder import LOCK_FILE, claim_run_folder


def train(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(["train", *argv, "--no-progress", "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else None, err


@pytest.fixture
def trained(tmp_path, capsys):
    """A finished 4-step run with checkpoints at steps 2 and 4."""
    config = codec_config(tmp_path, steps=4)
    code, _, _ = train(capsys, str(config))
    assert code == 0 and [step for step, _ in list_checkpoints(tmp_path / "run")] == [2, 4]
    return config


def test_a_fresh_run_over_a_run_needs_overwrite_which_starts_clean(trained, tmp_path, capsys):
    code, _, err = train(capsys, str(trained), "--steps", "2")
    assert code == 2 and "--resume" in err and "--overwrite" in err
    assert [step for step, _ in list_checkpoints(tmp_path / "run")] == [2, 4]  # untouched
    code, summary, _ = train(capsys, str(trained), "--steps", "2", "--overwrite")
    assert code == 0 and summary["resumed_from"] == 0
    # the old run's step-4 checkpoint is gone: keep_checkpoints cannot prune the new one, and
    # --resume continues this run, not the old one
    assert [step for step, _ in list_checkpoints(tmp_path / "run")] == [2]
    assert max(entry["step"] for entry in MetricsLog(tmp_path / "run").read()) == 2


def test_a_fresh_run_over_logs_without_checkpoints_needs_overwrite_too(tmp_path, capsys):
    """A run killed before its first checkpoint still owns its folder's logs."""
    config = codec_config(tmp_path, steps=2)
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 0, "split": "validation"}\n')
    code, _, err = train(capsys, str(config))
    assert code == 2 and "--overwrite" in err
    assert (run / "metrics.jsonl").read_text().count("\n") == 1  # untouched
    code, _, _ = train(capsys, str(config), "--overwrite")
    assert code == 0 and list_checkpoints(run)


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path, capsys):
    config = codec_config(tmp_path)
    holding, release = threading.Event(), threading.Event()

    def first_run() -> None:  # another process would hold the same lock
        import fcntl
        import os

        (tmp_path / "run").mkdir()
        descriptor = os.open(tmp_path / "run" / LOCK_FILE, os.O_RDWR | os.O_CREAT)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.write(descriptor, b"pid 4242 on host-a\n")
        holding.set()
        release.wait()
        os.close(descriptor)

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        holding.wait()
        code, _, err = train(capsys, str(config))
        assert code == 2 and "in use by another training run (pid 4242 on host-a)" in err
    finally:
        release.set()
        thread.join()
    code, _, _ = train(capsys, str(config))  # the lock went with its holder
    assert code == 0


def test_claiming_twice_in_one_process_is_re_entrant(tmp_path):
    with claim_run_folder(tmp_path / "run", resume=False), \
            claim_run_folder(tmp_path / "run", resume=True):
        assert (tmp_path / "run" / LOCK_FILE).is_file()


def test_a_torn_metrics_line_is_dropped_with_a_warning(trained, tmp_path, capsys):
    metrics = tmp_path / "run" / "metrics.jsonl"
    with metrics.open("a", encoding="utf-8") as handle:
        handle.write('{"step": 5, "split": "tr')  # the power went off mid-line
    code, summary, err = train(capsys, str(trained), "--steps", "6", "--resume",
                               str(tmp_path / "run"))
    assert code == 0 and summary["resumed_from"] == 4
    assert "swansphere: warning:" in err and "skipped 1 incomplete line" in err
    entries = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [e["step"] for e in entries if e["split"] == "train"] == [1, 2, 3, 4, 5, 6]


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(trained, tmp_path, capsys):
    newest = tmp_path / "run" / "checkpoints" / "step-00000004"
    weights = next(newest.rglob("model.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-100])  # the disk filled up
    code, summary, err = train(capsys, str(trained), "--steps", "6", "--resume",
                               str(tmp_path / "run"))
    assert code == 0 and summary["resumed_from"] == 2
    assert "swansphere: warning: skipping damaged checkpoint step-00000004" in err


def test_a_damaged_checkpoint_named_directly_is_a_clear_error(trained, tmp_path, capsys):
    newest = tmp_path / "run" / "checkpoints" / "step-00000004"
    (newest / "trainer_state.json").write_text('{"step": 4, "form')
    code, _, err = train(capsys, str(trained), "--steps", "6", "--resume", str(newest))
    assert code == 2 and "not a usable checkpoint" in err and "fall back" in err


def test_stale_temporaries_of_killed_writes_are_removed(trained, tmp_path, capsys):
    run = tmp_path / "run"
    stale_checkpoint = run / "checkpoints" / ".step-00000006.0123456789ab.tmp"
    stale_checkpoint.mkdir()
    (stale_checkpoint / "model.safetensors").write_bytes(b"half")
    stale_file = run / ".metrics.csv.abcdef012345.tmp"
    stale_file.write_text("step,split\n")
    keep = run / ".notes.txt"  # not ours: left alone
    keep.write_text("mine")
    code, _, err = train(capsys, str(trained), "--steps", "6", "--resume", str(run))
    assert code == 0 and "swansphere: warning: removed 2 temporary file(s)" in err
    assert not stale_checkpoint.exists() and not stale_file.exists() and keep.exists()


def test_a_diverging_loss_is_a_user_error(tmp_path, capsys):
    config = codec_config(tmp_path, steps=4)
    code, _, err = train(capsys, str(config), "--set", "optimizer.learning_rate=10",
                         "--set", "optimizer.warmup_steps=0", "--set", "optimizer.grad_clip=0")
    assert code == 2 and "training diverged at step 2" in err and "learning_rate" in err
    assert len(err.strip().splitlines()) == 1
