"""``swansphere data ...`` and ``swansphere caption`` end to end (in process)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from swansphere.cli import main

SMALL = ["--sample-rate", "8000", "--duration", "0.5", "--quiet"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-sim")
    code = main(["data", "simulate", "--out", str(out), "--n", "2", "--free-field", "--seed", "5",
                 "--width", "32", "--fps", "2", *SMALL])  # 16 rows: half the width
    assert code == 0
    return out


def test_sources_report(tmp_path, capsys):
    assert main(["data", "sources", "--json", "--root", str(tmp_path)]) == 0
    report = {row["set"]: row for row in json.loads(capsys.readouterr().out)}
    assert report["synthetic"]["clips"] == 10 and report["sonic-pi"]["clips"] == 0
    assert main(["data", "sources", "--root", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "synthetic" in text and "permissively licensed" in text


def test_simulate_writes_scenes(simulated, capsys):
    keys = sorted(p.name for p in simulated.iterdir() if p.is_dir())
    assert keys == ["scene-000000", "scene-000001"]
    for key in keys:
        assert {p.name for p in (simulated / key).iterdir()} == {
            "foa.wav", "video.npz", "metadata.json", "caption.txt"}
    assert np.load(simulated / keys[0] / "video.npz")["frames"].shape[1:] == (16, 32, 3)


def test_shard_and_verify(simulated, tmp_path, capsys):
    assert main(["data", "shard", "--src", str(simulated), "--out", str(tmp_path),
                 "--per-shard", "1", "--quiet"]) == 0
    assert "wrote 2 samples" in capsys.readouterr().out
    assert main(["data", "shard", "--src", str(simulated), "--out", str(tmp_path),
                 "--verify"]) == 0
    (tmp_path / "shard-000000.tar").write_bytes(b"broken")
    assert main(["data", "shard", "--src", str(simulated), "--out", str(tmp_path),
                 "--verify"]) == 1


def test_caption_command(simulated, capsys):
    scene = simulated / "scene-000000"
    assert main(["caption", str(scene / "foa.wav"), "--metadata",
                 str(scene / "metadata.json")]) == 0
    text = capsys.readouterr().out.strip()
    assert text.endswith(".") and text[0].isupper()
    assert main(["caption", str(scene / "foa.wav"), "--labels", "dog:barks", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["caption"].startswith("A dog barks ")
    assert result["sources"][0]["position"] in result["caption"]


def test_caption_refuses_a_clip_without_a_direction(tmp_path, capsys):
    """Silence has no place: a caption would be a confident guess ("in front")."""
    from swansphere.spatial import write_foa

    silent = tmp_path / "silent.wav"
    write_foa(silent, torch.zeros(4, 16000), 16000)
    assert main(["caption", str(silent)]) == 2
    error = capsys.readouterr().err
    assert "cannot be captioned" in error and "silent" in error and len(
        error.strip().splitlines()) == 1


def test_caption_agreement_command(capsys):
    assert main(["data", "caption-agreement", "--n", "2", "--json", "--max-sources", "1",
                 *SMALL]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sources"] == 2 and 0 <= result["all"] <= 1


@pytest.mark.parametrize("argv", [
    ["caption", "/nonexistent/foa.wav"],
    ["data", "simulate", "--out", "OUT", "--n", "1", "--sets", "nope", *SMALL],
    ["data", "simulate", "--out", "OUT", "--n", "1", "--free-field", "--moving-probability",
     "2", *SMALL],
    ["data", "simulate", "--out", "OUT", "--n", "1", "--sustained-probability", "-1", *SMALL],
    ["data", "simulate", "--out", "OUT", "--n", "1", "--width", "64", "--height", "16", *SMALL],
])
def test_bad_input_prints_one_line(argv, tmp_path, capsys):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("swansphere: error:") and error.count("\n") == 1
