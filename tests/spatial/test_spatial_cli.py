"""``swansphere spatial ...`` through the real entry point, plus the README command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
import torch

from swansphere.cli import main
from swansphere.spatial import ambix_to_fuma, direction, encode, read_foa, write_foa

ROUND_TRIP_COMMAND = ("swansphere spatial encode --source noise --azimuth 90 -90 --duration 2 "
                  "-o moving.wav && swansphere spatial track moving.wav")
NOISE = 0.1 * torch.randn(1600, generator=torch.Generator().manual_seed(0))


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["spatial", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _table_azimuths(output: str) -> list[float]:
    rows = [line.split() for line in output.splitlines()[2:]]
    return [float(row[1]) for row in rows]


def test_encode_then_track_moves_from_left_to_right(capsys, tmp_path):
    out_path = str(tmp_path / "moving.wav")
    code, out, _ = _run(capsys, "encode", "--source", "chirp", "--azimuth", "90", "-90",
                        "--duration", "1", "--sample-rate", "8000", "-o", out_path)
    assert code == 0 and "moving from azimuth +90.0" in out
    code, out, _ = _run(capsys, "track", out_path)
    assert code == 0
    header = out.splitlines()[1].split()
    assert header[:4] == ["time_s", "azimuth", "elevation", "diffuseness"]
    azimuths = _table_azimuths(out)
    assert len(azimuths) == 19 and azimuths[0] > 80 and azimuths[-1] < -80
    assert azimuths == sorted(azimuths, reverse=True)


def test_track_json(capsys, tmp_path):
    path = tmp_path / "static.wav"
    write_foa(path, encode(NOISE, -30.0, 15.0), 8000)
    code, out, _ = _run(capsys, "track", str(path), "--json", "--frame", "0.05", "--hop",
                        "0.05")
    report = json.loads(out)
    assert code == 0 and report["sample_rate"] == 8000 and len(report["times"]) == 4
    assert report["azimuth"] == pytest.approx([-30.0] * 4, abs=1e-3)
    assert report["elevation"] == pytest.approx([15.0] * 4, abs=1e-3)
    assert max(report["diffuseness"]) < 1e-4


def test_direction(capsys, tmp_path):
    path = tmp_path / "static.wav"
    write_foa(path, encode(NOISE, 45.0, -10.0), 8000)
    code, out, _ = _run(capsys, "direction", str(path))
    assert code == 0 and "azimuth +45.0, elevation -10.0" in out
    code, out, _ = _run(capsys, "direction", str(path), "--json")
    assert json.loads(out)["azimuth"] == pytest.approx(45.0, abs=1e-3)


def test_rotate(capsys, tmp_path):
    source, target = tmp_path / "front.wav", tmp_path / "turned.wav"
    write_foa(source, encode(NOISE, 0.0, 0.0), 8000)
    code, _, _ = _run(capsys, "rotate", str(source), str(target), "--yaw", "90", "--pitch",
                      "20")
    azimuth, elevation = direction(read_foa(target)[0])
    assert code == 0
    assert float(azimuth) == pytest.approx(90.0, abs=1e-3)
    assert float(elevation) == pytest.approx(0.0, abs=1e-3)  # yaw first, then pitch about y


def test_convert_round_trip(capsys, tmp_path):
    source = tmp_path / "ambix.wav"
    write_foa(source, encode(NOISE, 120.0, 30.0), 8000)
    fuma, back = tmp_path / "fuma.wav", tmp_path / "back.wav"
    assert _run(capsys, "convert", str(source), str(fuma), "--from", "ambix", "--to",
                "fuma")[0] == 0
    torch.testing.assert_close(read_foa(fuma)[0], ambix_to_fuma(read_foa(source)[0]))
    assert _run(capsys, "convert", str(fuma), str(back), "--from", "fuma", "--to", "ambix")[0] == 0
    torch.testing.assert_close(read_foa(back)[0], read_foa(source)[0])


def test_binaural_with_a_sofa_file(capsys, tmp_path, write_sofa):
    source, target = tmp_path / "left.wav", tmp_path / "ears.wav"
    write_foa(source, encode(NOISE, 90.0, 0.0), 16000)
    code, out, _ = _run(capsys, "binaural", str(source), str(target), "--sofa",
                        str(write_sofa()))
    stereo, rate = soundfile.read(target, dtype="float32")
    assert code == 0 and "binaural" in out and rate == 16000 and stereo.shape == (1600, 2)
    assert (stereo[:, 0] ** 2).sum() > 2 * (stereo[:, 1] ** 2).sum()


@pytest.mark.parametrize("argv", [
    ["track", "absent.wav"],
    ["encode", "--azimuth", "1", "2", "3", "-o", "x.wav"],
    ["encode", "-o", "missing-folder/x.wav"],
    ["binaural", "in.wav", "out.wav", "--sofa", "absent.sofa"],
], ids=["missing-file", "three-azimuths", "missing-folder", "missing-sofa"])
def test_errors_print_one_line_and_exit_2(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    write_foa("in.wav", encode(NOISE, 0.0, 0.0), 8000)
    code, _, err = _run(capsys, *argv)
    assert code == 2 and err.startswith("swansphere: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_wrong_channel_count_is_reported(capsys, tmp_path):
    path = tmp_path / "stereo.wav"
    soundfile.write(path, torch.zeros(100, 2).numpy(), 8000)
    code, _, err = _run(capsys, "direction", str(path))
    assert code == 2 and "need exactly 4" in err


@pytest.mark.slow  # two fresh interpreters importing torch: ~5 s, ~15 s on a busy machine
def test_encode_and_track_round_trip_in_a_shell(tmp_path):
    """The toolkit's encode + track round trip of docs/spatial.md, with the console script."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["sh", "-c", ROUND_TRIP_COMMAND], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    azimuths = _table_azimuths(result.stdout.split("\n", 1)[1])
    assert azimuths[0] > 80 and azimuths[-1] < -80 and len(azimuths) == 39
