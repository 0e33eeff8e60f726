"""``swansphere generate`` / ``stream`` with a saved (random-weight) tiny pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from pipeline_helpers import SAMPLE_RATE, panorama_frames, tiny_pipeline

from swansphere.cli import main
from swansphere.spatial import read_foa, read_spatial_metadata, write_panorama_npz


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_pipeline().save_pretrained(tmp_path_factory.mktemp("models") / "tiny-test")


def test_generate_writes_ambix_and_a_binaural_render(model_dir, tmp_path, capsys):
    out, phones = tmp_path / "out.wav", tmp_path / "phones.wav"
    assert main(["generate", "--model", str(model_dir), "--text", "a bell on the left",
                 "--duration", "0.05", "--seed", "2", "-o", str(out),
                 "--binaural", str(phones)]) == 0
    foa, rate = read_foa(out)
    assert rate == SAMPLE_RATE and foa.shape == (4, round(0.05 * SAMPLE_RATE))
    assert soundfile.info(phones).channels == 2
    assert "wrote" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (scripts/setup.sh)")
def test_generate_with_video_writes_a_360_mp4(model_dir, tmp_path):
    video = write_panorama_npz(tmp_path / "video.npz", panorama_frames(3), np.arange(3) / 25,
                               25.0)
    mp4 = tmp_path / "out.mp4"
    assert main(["generate", "--model", str(model_dir), "--video", str(video),
                 "-o", str(tmp_path / "out.wav"), "--mp4", str(mp4)]) == 0
    metadata = read_spatial_metadata(mp4)
    assert metadata.ambisonic is not None and metadata.spherical is not None


def test_stream_writes_interleaved_float32_pcm(model_dir):
    env = {k: v for k, v in os.environ.items() if k != "SWANSPHERE_DISABLE_PLUGINS"}
    result = subprocess.run([sys.executable, "-m", "swansphere.cli", "stream", "--model",
                             str(model_dir), "--text", "rain", "--duration", "0.02"],
                            capture_output=True, check=True, env=env)
    samples = np.frombuffer(result.stdout, "<f4").reshape(-1, 4)
    assert samples.shape == (round(0.02 * SAMPLE_RATE), 4)
    assert np.isfinite(samples).all()
    assert f"{SAMPLE_RATE} Hz" in result.stderr.decode()


def test_generate_continues_an_audio_prompt_at_any_rate(model_dir, tmp_path):
    from swansphere.pipeline import Pipeline
    from swansphere.spatial import write_foa

    pipeline = Pipeline.from_pretrained(model_dir)
    prompt = 0.2 * torch.randn(4, 512, generator=torch.Generator().manual_seed(0))
    at_rate, doubled = tmp_path / "prompt.wav", tmp_path / "prompt-16k.wav"
    write_foa(at_rate, prompt, SAMPLE_RATE)
    write_foa(doubled, prompt.repeat_interleave(2, -1), 2 * SAMPLE_RATE)
    outputs = []
    for path in (at_rate, doubled):
        outputs.append(tmp_path / f"out-{path.stem}.wav")
        assert main(["generate", "--model", str(model_dir), "--text", "a bell on the left",
                     "--duration", "0.05", "--audio-prompt", str(path),
                     "-o", str(outputs[-1])]) == 0
    want = pipeline.generate("a bell on the left", duration=0.05,
                             audio_prompt=read_foa(at_rate)[0])
    torch.testing.assert_close(read_foa(outputs[0])[0], want, atol=1e-4, rtol=1e-4)
    assert read_foa(outputs[1])[0].shape == want.shape
    plain = pipeline.generate("a bell on the left", duration=0.05)
    assert not torch.allclose(want, plain, atol=1e-3)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--video", "missing.npz"], "missing.npz: no such file; check the path"),
        (["--model", "no-such-model"], "no model at 'no-such-model'"),
        (["--audio-prompt", "missing.wav"], "missing.wav: no such file; check the path"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(model_dir, tmp_path, capsys, arguments, message):
    arguments = [str(tmp_path / a) if a.startswith("missing.") else a for a in arguments]
    if "--model" not in arguments:
        arguments += ["--model", str(model_dir)]
    code = main(["generate", *arguments, "-o", str(tmp_path / "x.wav")])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1


def test_prompt_for_a_model_without_text_is_a_clear_error(tmp_path, capsys):
    pipeline = tiny_pipeline()
    from swansphere.pipeline import Pipeline

    config = pipeline.config
    import attrs

    no_text = Pipeline(attrs.evolve(config, text=None), codec=pipeline.codec,
                       backbone=pipeline.backbone, sampler=pipeline.sampler,
                       video=pipeline.video_encoder)
    directory = no_text.save_pretrained(tmp_path / "no-text")
    code = main(["generate", "--model", str(directory), "--text", "a cow", "-o",
                 str(tmp_path / "x.wav")])
    assert code == 2 and "no text conditioner" in capsys.readouterr().err


def readme_main_command() -> str:
    """The README's main job: the quick-start line after its set-up step."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    line = next(line for line in readme.splitlines() if line.startswith("bash scripts/setup.sh"))
    return line.removeprefix("bash scripts/setup.sh && ").replace(".venv/bin/", "")


@pytest.mark.slow  # a fresh interpreter generates 4 s with the shipped model, then tracks it
def test_readme_main_command_generates_with_the_shipped_model(tmp_path):
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["sh", "-c", readme_main_command()], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    [written] = list(tmp_path.glob("*.wav"))
    foa, rate = read_foa(written)
    assert foa.shape == (4, 4 * rate) and torch.isfinite(foa).all()
    assert "azimuth" in result.stdout and "elevation" in result.stdout
