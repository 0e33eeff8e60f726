"""Codec quality metrics, the benchmark library and ``swansphere bench codec``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import swansphere
from swansphere.cli import main
from swansphere.evaluation.codec_bench import format_table, quality, run_benchmark, speed
from swansphere.evaluation.codec_metrics import (
    direction_errors,
    pooled_si_sdr,
    reconstruction_metrics,
    si_sdr,
)
from swansphere.spatial import encode

ROOT = Path(__file__).resolve().parents[2]


def noise(n: int = 2000, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_si_sdr_is_scale_invariant_and_reads_the_snr():
    signal, disturbance = noise(seed=1), noise(seed=2)
    disturbance = disturbance - (disturbance @ signal) / (signal @ signal) * signal
    disturbance = disturbance * (signal.norm() / disturbance.norm()) * 10 ** (-20 / 20)
    assert float(si_sdr(signal, 3.0 * (signal + disturbance))) == pytest.approx(20.0, abs=0.05)
    assert float(si_sdr(signal, signal)) > 100.0


def test_si_sdr_is_per_channel():
    reference = torch.stack([noise(seed=s) for s in range(4)])[None]
    estimate = reference.clone()
    estimate[0, 2] = noise(seed=9)
    values = si_sdr(reference, estimate)[0]
    assert values.shape == (4,)
    assert values[2] < 0 < 100 < values[0]


def test_direction_errors_read_the_rotation_and_skip_silent_clips():
    front = encode(noise(), 0.0, 0.0)
    left = encode(noise(), 90.0, 0.0)
    reference = torch.stack([front, front, torch.zeros_like(front)])
    estimate = torch.stack([front, left, front])
    errors = direction_errors(reference, estimate)
    assert errors["angular"][0] == pytest.approx(0.0, abs=1e-6)
    assert errors["angular"][1] == pytest.approx(math.pi / 2, abs=1e-3)
    assert math.isnan(errors["angular"][2])
    metrics = reconstruction_metrics(reference[:2], estimate[:2])
    assert metrics["delta_angular"] == pytest.approx(math.pi / 4, abs=1e-3)
    assert {"si_sdr_W", "si_sdr_Y", "si_sdr_Z", "si_sdr_X", "si_sdr"} <= set(metrics)


def test_exact_patch_codec_scores_perfectly_and_low_pass_does_not():
    scenes = torch.stack([encode(noise(1024, seed=s), 30.0 * s, 10.0).float()
                          for s in range(1, 3)])
    exact = quality(swansphere.create("codec", {"type": "patch", "hop_length": 64}), scenes)
    assert exact["si_sdr"] > 60 and exact["delta_angular"] < 1e-3
    low = quality(swansphere.create("codec", {"type": "patch", "hop_length": 64,
                                              "coefficients": 4}), scenes)
    assert low["si_sdr"] < 10


def test_speed_reports_every_figure():
    codec = swansphere.create("codec", {"type": "patch", "hop_length": 32})
    figures = speed(codec, seconds=0.05, repeats=1)
    assert set(figures) >= {"encode_rtf", "decode_rtf", "decode_step_ms", "encode_step_ms",
                            "stream_decode_rtf", "step_audio_ms"}
    assert all(value >= 0 for value in figures.values())


def test_run_benchmark_and_table():
    patch = swansphere.create("codec", {"type": "patch", "hop_length": 256})
    report = run_benchmark({"patch": (patch, True)}, seconds=0.1, repeats=1, scenes=1,
                           scene_seconds=0.5, progress=False)
    entry = report["codecs"]["patch"]
    assert entry["latent_dim"] == 1024 and entry["quality"]["si_sdr"] > 60
    assert "patch" in format_table(report)


def test_bench_codec_command_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "codec", "--seconds", "0.1", "--repeats", "1", "--scenes", "1",
                 "--scene-seconds", "0.5", "--no-sound-sets", "--no-progress",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["codecs"]) == {"foa-vae (shipped tiny)", "foa-parametric", "patch-exact",
                                     "patch-32d"}
    assert "identity" not in report
    parametric = report["codecs"]["foa-parametric"]
    assert parametric["latent_dim"] == 112 and parametric["quality"]["delta_angular"] < 0.05
    assert report["codecs"]["patch-32d"]["latent_dim"] == 32
    assert report["step_frames"] == 4 and parametric["speed"]["stream_rtf"] > 0
    assert "patch-exact" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_codec_identifies_sound_set_clips(tmp_path, capsys):
    """With the synthesised set alone: every class is identified from its raw held-out
    render, the exact codec loses nothing, and the low-pass baseline loses identity."""
    pytest.importorskip("aisfx")
    out = tmp_path / "bench.json"
    assert main(["bench", "codec", "--seconds", "0.1", "--repeats", "1", "--scenes", "1",
                 "--scene-seconds", "0.5", "--sets", "synthetic", "--no-progress",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    table = report["identity"]["16000"]
    # the vocabulary's split: 9 fixed renders per synthesised class, a third held out
    assert table["raw"]["classes"] == 10 and table["raw"]["clips"] == 30
    assert table["patch-exact"]["top1"] == table["raw"]["top1"]
    assert table["patch-exact"]["fd"] < 1e-3
    assert table["patch-32d"]["top1"] < table["foa-parametric"]["top1"]
    single = report["codecs"]["foa-parametric"]["spatial_single"]
    assert single["delta_angular"] < 0.05 and single["energy_map_correlation"] > 0.95
    assert "identity @16000 Hz" in capsys.readouterr().out


def test_bench_without_target_says_what_to_choose(capsys):
    assert main(["bench"]) == 2
    assert "swansphere bench {codec,pipeline,clips}" in capsys.readouterr().err


def test_benchmark_script_is_the_bench_command():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "codec_bench.py"),
                             "--help"], capture_output=True, text=True, check=True)
    assert "--vae" in result.stdout


def test_pooled_si_sdr_is_not_dominated_by_a_silent_clip():
    loud = torch.stack([noise(seed=s) for s in range(4)])
    quiet = 1e-6 * torch.stack([noise(seed=s + 10) for s in range(4)])
    reference = torch.stack([loud, quiet])
    unrelated = 1e-6 * torch.stack([noise(seed=s + 30) for s in range(4)])
    estimate = torch.stack([loud + 0.01 * noise(seed=20), unrelated])
    assert float(si_sdr(reference, estimate)[1].mean()) < -20
    assert float(pooled_si_sdr(reference, estimate).min()) > 30


def test_bench_rejects_bad_options(capsys):
    assert main(["bench", "codec", "--step-frames", "0"]) == 2
    assert "--step-frames" in capsys.readouterr().err
