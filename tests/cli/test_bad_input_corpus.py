"""The bad-input corpus: ordinary mistakes through the CLI, each a clear error that loses nothing.

Every case builds its files in a fresh folder, runs ``swansphere.cli.main`` in-process and
asserts the property the CLI promises (docs/pipeline.md "Command line"): exit status 2, exactly
one line on stderr that starts ``swansphere: error:``, no traceback, no "internal error", and
every file in the folder byte-for-byte as it was (nothing written, nothing overwritten). The
cases are grouped by class of mistake (argument values, output paths, input files, configs,
model folders, run folders, degenerate audio, the environment); a new command inherits the
path checks by typing its path arguments with :mod:`swansphere.cli_args`.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import torch
from cli_helpers import clip, codec_config, video

from swansphere.cli import main

SHIPPED = "tiny"
GPU = torch.cuda.is_available()

def read_only_folder(folder: Path) -> Path:
    """A folder nobody may write into (root ignores permissions: /proc refuses root too)."""
    if os.geteuid() == 0:
        return Path("/proc")
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    return locked


def saved_model(folder: Path) -> Path:
    from swansphere import Pipeline

    return Pipeline.from_pretrained(SHIPPED).save_pretrained(folder / "model")


def truncated_model(folder: Path) -> Path:
    model = saved_model(folder)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return model


def mismatched_model(folder: Path) -> Path:
    """A config whose sizes differ from the weights saved with it."""
    model = saved_model(folder)
    config = model / "pipeline.toml"
    text = config.read_text(encoding="utf-8")
    import tomllib

    table = tomllib.loads(text)
    table["video"]["dim"] = table["video"].get("dim", 128) + 8
    table["backbone"]["video_dim"] = table["video"]["dim"]
    config.write_text(tomli_w.dumps(table), encoding="utf-8")
    return model


def run_with_checkpoints(folder: Path) -> Path:
    config = codec_config(folder)
    assert main(["train", str(config), "--no-progress"]) == 0
    return config


Case = Callable[[Path], list[str]]


def _cases() -> dict[str, Case]:
    g = ["generate", "--text", "a dog barks", "--model", SHIPPED]
    cases: dict[str, Case] = {
        # ---------------------------------------------------------- argument values
        "(none): unknown command": lambda t: ["compose"],
        "generate: generate without -o": lambda t: ["generate", "--text", "a"],
        "generate: negative seed": lambda t: [*g, "--seed", "-1", "-o", str(t / "o.wav")],
        "generate: huge seed": lambda t: [*g, "--seed", "9" * 30, "-o", str(t / "o.wav")],
        "generate: seed not a number": lambda t: [*g, "--seed", "abc", "-o", str(t / "o.wav")],
        "generate: zero duration": lambda t: [*g, "--duration", "0", "-o", str(t / "o.wav")],
        "generate: negative duration": lambda t: [*g, "--duration", "-2", "-o", str(t / "o.wav")],
        "generate: nan duration": lambda t: [*g, "--duration", "nan", "-o", str(t / "o.wav")],
        "generate: infinite duration": lambda t: [*g, "--duration", "inf", "-o", str(t / "o.wav")],
        "generate: absurd duration":
            lambda t: [*g, "--duration", "1e12", "-o", str(t / "o.wav")],
        "stream: absurd stream duration":
            lambda t: ["stream", "--text", "a", "--duration", "1e300"],
        "generate: duration below one sample": lambda t: [*g, "--duration", "1e-6",
                                                "-o", str(t / "o.wav")],
        "generate: empty prompt": lambda t: ["generate", "--text", " ", "--duration", "0.1",
                                   "-o", str(t / "o.wav")],
        "train: negative threads (train)":
            lambda t: ["train", str(codec_config(t)), "--threads", "-3"],
        "train: zero steps": lambda t: ["train", str(codec_config(t)), "--steps", "0"],
        "bench: negative repeats (bench)":
            lambda t: ["bench", "pipeline", "--repeats", "-1"],
        "train: bogus device (train)":
            lambda t: ["train", str(codec_config(t)), "--device", "gpu7"],
        "bench: bogus device (bench)": lambda t: ["bench", "pipeline", "--device", "tpu"],
        "bench: cpu index": lambda t: ["bench", "pipeline", "--device", "cpu:3"],
        "demo: port out of range": lambda t: ["demo", "--port", "70000"],
        "demo: no such model": lambda t: ["demo", "--model", str(t / "no-model")],
        "spatial: overlay opacity above one": lambda t: ["spatial", "overlay", str(clip(t)),
                                                 "--video", str(video(t)), "--opacity", "2",
                                                 "-o", str(t / "o.mp4")],
        "spatial: overlay onto its video": lambda t: [
            "spatial", "overlay", str(clip(t)), "--video", str(video(t, name="v.mp4")),
            "-o", str(t / "v.mp4")],
        "spatial: map of a video, not audio": lambda t: ["spatial", "map", str(video(t)),
                                                 "-o", str(t / "m.png")],
        "spatial: nan azimuth": lambda t: ["spatial", "encode", "--azimuth", "nan",
                                  "-o", str(t / "o.wav")],
        "spatial: zero sample rate": lambda t: ["spatial", "encode", "--sample-rate", "0",
                                       "-o", str(t / "o.wav")],
        "spatial: negative frequency": lambda t: ["spatial", "encode", "--source", "sine",
                                         "--frequency", "-5", "-o", str(t / "o.wav")],
        "eval: eval tolerance out of range": lambda t: ["eval", "--generated", str(clip(t).parent),
                                                  "--tolerance", "400", "--no-fd"],
        # ---------------------------------------------------------- output paths
        "generate: -o not a wav": lambda t: [*g, "-o", str(t / "x.mp3")],
        "generate: -o an existing folder": lambda t: [*g, "-o", str(t)],
        "generate: -o a folder named .wav": lambda t: [*g, "-o", str(_mkdir(t / "dir.wav"))],
        "generate: -o in a missing folder":
            lambda t: [*g, "-o", str(t / "nowhere" / "o.wav")],
        "generate: -o in a read-only folder":
            lambda t: [*g, "-o", str(read_only_folder(t) / "o.wav")],
        "generate: --binaural not a wav": lambda t: [*g, "-o", str(t / "o.wav"),
                                           "--binaural", str(t / "b.mp3")],
        "generate: --binaural equal to -o": lambda t: [*g, "-o", str(t / "o.wav"),
                                             "--binaural", str(t / "o.wav")],
        "generate: --binaural equal to -o, other spelling": lambda t: [
            *g, "-o", str(t / "o.wav"), "--binaural", str(t / "sub" / ".." / "o.wav")],
        "generate: --mp4 equal to --video": lambda t: [*g, "--video", str(_ffmpeg_video(t)),
                                             "-o", str(t / "o.wav"),
                                             "--mp4", str(t / "in.mp4")],
        "generate: --mp4 a symlink to --video": lambda t: [*g, "--video", str(_ffmpeg_video(t)),
                                                 "-o", str(t / "o.wav"),
                                                 "--mp4", str(_symlink(t / "link.mp4",
                                                                       t / "in.mp4"))],
        "generate: --mp4 not an mp4":
            lambda t: [*g, "-o", str(t / "o.wav"), "--mp4", str(t / "v.mkv")],
        "eval: eval --json naming an input clip": lambda t: [
            "eval", "--generated", str(clip(t, "gen/a.wav").parent), "--no-fd",
            "--json", str(t / "gen" / "a.wav")],
        "eval: --json over a metadata file of --reference": lambda t: [
            "eval", "--generated", str(clip(t, "gen/a.wav").parent), "--reference",
            str(clip(t, "ref/a.wav").parent), "--no-fd", "--json",
            str(_touch(t / "ref" / "a.json", b'{"prompt": "a dog on the left"}'))],
        "eval: eval --markdown not .md": lambda t: [
            "eval", "--generated", str(clip(t, "gen/a.wav").parent), "--no-fd",
            "--markdown", str(t / "table.json")],
        "spatial: rotate onto its input":
            lambda t: ["spatial", "rotate", str(clip(t)), str(t / "in.wav"),
                                            "--yaw", "90"],
        "spatial: convert onto its input (hard link)": lambda t: [
            "spatial", "convert", str(clip(t)), str(_hardlink(t / "same.wav", t / "in.wav")),
            "--from", "fuma", "--to", "ambix"],
        "spatial: binaural onto its input": lambda t: ["spatial", "binaural", str(clip(t)),
                                              str(t / "in.wav")],
        "spatial: encode into a folder":
            lambda t: ["spatial", "encode", "-o", str(_mkdir(t / "x.wav"))],
        "bench: bench --json into a file's folder": lambda t: [
            "bench", "pipeline", "--json", str(_touch(t / "file") / "r.json")],
        "bench: clips --out naming a file": lambda t: [
            "bench", "clips", "--prompts", str(_prompts(t)), "--out", str(t / "prompts.txt")],
        "bench: clips --out equal to --scenes": lambda t: [
            "bench", "clips", "--scenes", str(_mkdir(t / "scenes")), "--out", str(t / "scenes")],
        "train: train --output-dir naming a file": lambda t: [
            "train", str(codec_config(t)), "--output-dir", str(_touch(t / "file"))],
        "train: train output_dir naming a file (config)": lambda t: [
            "train", str(codec_config(t)), "--set", f"run.output_dir='{_touch(t / 'f')}'"],
        "train: train output_dir inside a file": lambda t: [
            "train", str(codec_config(t)), "--output-dir", str(_touch(t / "file") / "run")],
        # ---------------------------------------------------------- input files
        "generate: missing video":
            lambda t: [*g, "--video", str(t / "none.npz"), "-o", str(t / "o.wav")],
        "generate: video is a folder": lambda t: [*g, "--video", str(_mkdir(t / "v.npz")),
                                        "-o", str(t / "o.wav")],
        "generate: video that is not a video":
            lambda t: [*g, "--video", str(_touch(t / "v.mp4", b"x")),
                                                "-o", str(t / "o.wav")],
        "generate: video with no frames": lambda t: [*g, "--video", str(video(t, frames=0)),
                                           "-o", str(t / "o.wav")],
        "generate: npz without frames":
            lambda t: [*g, "--video", str(_npz(t)), "-o", str(t / "o.wav")],
        "spatial: direction of a missing file":
            lambda t: ["spatial", "direction", str(t / "none.wav")],
        "spatial: direction of an empty file":
            lambda t: ["spatial", "direction", str(_touch(t / "e.wav"))],
        "spatial: direction of a text file": lambda t: ["spatial", "direction",
                                               str(_touch(t / "t.wav", b"hello"))],
        "spatial: direction of a stereo file": lambda t: ["spatial", "direction", str(_stereo(t))],
        "spatial: direction of a folder": lambda t: ["spatial", "direction", str(t)],
        "spatial: track with a frame of 0 s": lambda t: ["spatial", "track", str(clip(t)),
                                                "--frame", "0"],
        "spatial: track of a clip shorter than a frame": lambda t: [
            "spatial", "track", str(clip(t, seconds=10 / 16000))],
        "bench: non-UTF-8 prompts": lambda t: [
            "bench", "clips", "--prompts", str(_touch(t / "p.txt", b"\xff\xfe dog")),
            "--out", str(t / "out")],
        "bench: non-UTF-8 pipeline config": lambda t: [
            "bench", "pipeline", "--config", str(_touch(t / "p.toml", b"\xff\xfe")),
            "--duration", "0.1", "--repeats", "1"],
        "eval: non-UTF-8 metadata": lambda t: [
            "eval", "--generated", str(clip(t, "gen/a.wav").parent), "--reference",
            str(clip(t, "ref/a.wav").parent), "--no-fd", "--no-progress", "--metadata",
            str(_touch(_mkdir(t / "meta") / "a.json", b"\xff{").parent)],
        "eval: eval of a missing folder":
            lambda t: ["eval", "--generated", str(t / "none"), "--no-fd"],
        "bench: missing prompts file": lambda t: ["bench", "clips", "--prompts", str(t / "p.txt"),
                                           "--out", str(t / "out")],
        "spatial: missing SOFA file":
            lambda t: ["spatial", "binaural", str(clip(t)), str(t / "b.wav"),
                                        "--sofa", str(t / "none.sofa")],
        # ---------------------------------------------------------- configs
        "train: missing training config": lambda t: ["train", str(t / "none.toml")],
        "train: non-UTF-8 training config":
            lambda t: ["train", str(_touch(t / "c.toml", b"task = \"codec\"\n\xff\xfe"))],
        "train: invalid TOML": lambda t: ["train", str(_touch(t / "c.toml", b"task = [\n"))],
        "train: task not a string":
            lambda t: ["train", str(_touch(t / "c.toml", b"task = [1]\n"))],
        "train: unknown task":
            lambda t: ["train", str(_touch(t / "c.toml", b"task = \"dance\"\n"))],
        "train: negative seed in config": lambda t: ["train", str(codec_config(t)),
                                              "--set", "run.seed=-1"],
        "train: negative threads in config": lambda t: ["train", str(codec_config(t)),
                                                 "--set", "run.threads=-3"],
        "train: bogus device in config": lambda t: ["train", str(codec_config(t)),
                                             "--set", "run.device='quantum'"],
        "train: negative learning rate": lambda t: ["train", str(codec_config(t)),
                                             "--set", "optimizer.learning_rate=-1"],
        "train: learning rate beyond float32": lambda t: [
            "train", str(codec_config(t)), "--set", "optimizer.learning_rate=1e38"],
        "train: unknown config key":
            lambda t: ["train", str(codec_config(t)), "--set", "run.nope=1"],
        # ---------------------------------------------------------- model folders
        "generate: missing model": lambda t: ["generate", "--text", "a", "--model", str(t / "m"),
                                    "-o", str(t / "o.wav")],
        "generate: truncated model.safetensors": lambda t: ["generate", "--text", "a", "--model",
                                                  str(truncated_model(t)), "-o", str(t / "o.wav")],
        "generate: mismatched model.safetensors": lambda t: ["generate", "--text", "a", "--model",
                                                   str(mismatched_model(t)), "-o",
                                                   str(t / "o.wav")],
        "generate: non-UTF-8 pipeline.toml": lambda t: ["generate", "--text", "a", "--model",
                                              str(_garble(saved_model(t) / "pipeline.toml")),
                                              "-o", str(t / "o.wav")],
        # ---------------------------------------------------------- run folders
        "train: fresh run over a run with checkpoints":
            lambda t: ["train", str(run_with_checkpoints(t)),
                                                            "--no-progress"],
        "train: --overwrite with --resume": lambda t: ["train", str(run_with_checkpoints(t)),
                                                "--overwrite", "--resume", str(t / "run")],
        "train: second writer of a run folder": lambda t: ["train", str(_locked_run(t)),
                                                    "--no-progress"],
        "train: resume another run into a folder with checkpoints": lambda t: [
            "train", str(run_with_checkpoints(t)), "--resume", str(_other_run(t)),
            "--no-progress"],
        "train: resume from nothing": lambda t: ["train", str(codec_config(t)), "--resume",
                                          str(t / "none")],
        # ---------------------------------------------------------- degenerate audio
        "eval: eval of a 1-sample clip against 2 s": lambda t: [
            "eval", "--generated", str(clip(t, "gen/a.wav", seconds=1 / 16000).parent),
            "--reference", str(clip(t, "ref/a.wav", seconds=2.0).parent), "--no-fd",
            "--no-progress"],
    }
    if not GPU:
        cases["train: cuda without a GPU"] = lambda t: ["train", str(codec_config(t)),
                                                         "--device", "cuda"]
        cases["bench: cuda without a GPU"] = lambda t: ["bench", "pipeline", "--device",
                                                         "cuda:0"]
    return cases


CASES = _cases()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _touch(path: Path, data: bytes = b"") -> Path:
    path.write_bytes(data)
    return path


def _symlink(link: Path, target: Path) -> Path:
    link.symlink_to(target)
    return link


def _hardlink(link: Path, target: Path) -> Path:
    os.link(target, link)
    return link


def _garble(path: Path) -> Path:
    path.write_bytes(b"\xff\xfe\x00garbage")
    return path.parent


def _prompts(folder: Path) -> Path:
    return _touch(folder / "prompts.txt", b"a dog barks\n")


def _npz(folder: Path) -> Path:
    path = folder / "bad.npz"
    np.savez(path, pictures=np.zeros(3))
    return path


def _stereo(folder: Path) -> Path:
    import soundfile

    path = folder / "stereo.wav"
    soundfile.write(path, np.zeros((100, 2), np.float32), 16000)
    return path


def _ffmpeg_video(folder: Path) -> Path:
    """A file named like a video: the collision is refused before anything reads it."""
    return _touch(folder / "in.mp4", b"not decoded: the path check comes first")


def _other_run(folder: Path) -> Path:
    """A second finished run beside ``folder/run``."""
    config = codec_config(folder, name="other.toml", output_dir=str(folder / "other"))
    assert main(["train", str(config), "--no-progress"]) == 0
    return folder / "other"


def _locked_run(folder: Path) -> Path:
    """A config whose run folder another process holds (we take the same lock here)."""
    from swansphere.training.run_folder import LOCK_FILE

    config = codec_config(folder)
    (folder / "run").mkdir()
    descriptor = os.open(folder / "run" / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    os.write(descriptor, b"pid 1 on elsewhere\n")
    _LOCKS.append(descriptor)
    return config


_LOCKS: list[int] = []


@pytest.fixture(autouse=True)
def _release_locks():
    yield
    while _LOCKS:
        os.close(_LOCKS.pop())


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder`` with a hash of its bytes (folders as 'dir')."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "link:" + os.readlink(path)
        elif path.is_dir():
            found[key] = "dir"
        else:
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def assert_clear_error(code: int, err: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("swansphere: error:"), err
    assert "internal error" not in err and "Traceback" not in err


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_input_is_one_clear_line_and_touches_nothing(name, tmp_path, capsys,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = CASES[name](tmp_path)
    capsys.readouterr()  # what setting up the case printed
    before = snapshot(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert_clear_error(code, err)
    assert snapshot(tmp_path) == before


def test_the_corpus_covers_every_command():
    """A command added to the CLI without a bad-input case here fails this test."""
    from swansphere.cli import build_parser

    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    covered = {name.split(":")[0] for name in CASES}
    uncovered = commands - covered - {"plugins", "data", "caption"}  # no paths of ours
    assert not uncovered, f"add bad-input cases for: {sorted(uncovered)}"


# ------------------------------------------------------------------ the environment


class _FullDisk(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


class _Stdout:
    def __init__(self, buffer) -> None:
        self.buffer = buffer

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("stdout", ["full disk", "closed"])
def test_stream_into_a_full_disk_or_a_closed_stdout_is_a_clear_error(stdout, capsys,
                                                                     monkeypatch):
    monkeypatch.setattr("sys.stdout", _Stdout(_FullDisk()) if stdout == "full disk" else None)
    code = main(["stream", "--text", "rain", "--duration", "0.05"])
    err = capsys.readouterr().err
    err = "\n".join(line for line in err.splitlines() if not line.startswith("streaming"))
    assert_clear_error(code, err)
    assert ("No space left" if stdout == "full disk" else "stdout is closed") in err


def test_an_os_error_from_the_machine_is_a_user_error_but_a_bug_is_internal(monkeypatch,
                                                                            capsys, tmp_path):
    """ENOSPC deep inside a command is the user's disk (exit 2); a KeyError is our bug (1)."""
    import swansphere.spatial.cli as spatial_cli

    def full(args, registry):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "o.wav"))

    monkeypatch.setattr(spatial_cli, "_run_direction", full)
    parser_path = clip(tmp_path)
    code = main(["spatial", "direction", str(parser_path)])
    assert_clear_error(code, capsys.readouterr().err)

    def bug(args, registry):
        raise KeyError("oops")

    monkeypatch.setattr(spatial_cli, "_run_direction", bug)
    assert main(["spatial", "direction", str(parser_path)]) == 1
    assert "internal error" in capsys.readouterr().err


def test_a_reader_that_closes_the_pipe_stops_the_command_without_a_word(tmp_path):
    """``swansphere spatial track long.wav | head -n 2``: the reader has what it wanted; the
    command stops with the shell's SIGPIPE status and prints nothing, neither an error about
    disks nor the interpreter's own complaint at exit (a real pipe, so the last flush too)."""
    import subprocess
    import sys

    from swansphere.cli import SIGPIPE_EXIT

    long_clip = clip(tmp_path, "long.wav", seconds=120.0, rate=8000)  # 2,400 rows of output
    command = [sys.executable, "-c", "import sys; from swansphere.cli import main; "
               "sys.exit(main())", "spatial", "track", str(long_clip)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        head = [process.stdout.readline() for _ in range(2)]
        process.stdout.close()
        err = process.stderr.read().decode()
        code = process.wait(timeout=120)
    assert head[0].startswith(long_clip.name.encode()) or b"AmbiX" in head[0]
    assert code == SIGPIPE_EXIT and err == "", err


def test_a_closed_pipe_is_no_disk_error(monkeypatch, capsys, tmp_path):
    import swansphere.spatial.cli as spatial_cli
    from swansphere.cli import SIGPIPE_EXIT

    def closed(args, registry):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(spatial_cli, "_run_direction", closed)
    assert main(["spatial", "direction", str(clip(tmp_path))]) == SIGPIPE_EXIT
    assert capsys.readouterr().err == ""
