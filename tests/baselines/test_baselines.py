"""The global and cascade baselines, and folders of clips for ``swansphere eval``."""

from __future__ import annotations

import json

import attrs
import numpy as np
import pytest
import torch
from pipeline_helpers import SAMPLE_RATE, TINY, panorama_frames, panorama_with_source

from swansphere.cli import main
from swansphere.config import structure
from swansphere.data.panorama import background
from swansphere.errors import ConfigError
from swansphere.evaluation.baselines import (
    CascadeBaseline,
    GlobalBaseline,
    generate_clips,
    prompt_requests,
    same_size_pipeline_config,
    scene_requests,
)
from swansphere.evaluation.harness import evaluate, find_clips
from swansphere.metrics.direction import angle_between
from swansphere.pipeline import GenerationError, Pipeline, PipelineConfig
from swansphere.plugins.global_dit import GlobalDiT
from swansphere.spatial import direction, read_foa, write_foa, write_panorama_npz
from swansphere.spatial.words import prompt_direction


@pytest.fixture(scope="module")
def global_baseline(streaming_pipeline):
    torch.manual_seed(0)
    return GlobalBaseline.same_size_as(streaming_pipeline)


# --- global -----------------------------------------------------------------------------------

def test_global_baseline_is_the_same_size_and_shares_everything_but_the_backbone(
        streaming_pipeline, global_baseline):
    twin = global_baseline.pipeline
    assert isinstance(twin.backbone, GlobalDiT)
    assert twin.codec is streaming_pipeline.codec
    assert twin.text_encoder is streaming_pipeline.text_encoder
    config = twin.backbone.config
    causal = streaming_pipeline.backbone.config
    assert (config.latent_dim, config.text_dim, config.video_dim) == (
        causal.latent_dim, causal.text_dim, causal.video_dim)
    assert config.patch_frames == 1
    causal_count = sum(p.numel() for p in streaming_pipeline.backbone.parameters())
    global_count = sum(p.numel() for p in twin.backbone.parameters())
    assert abs(global_count / causal_count - 1) <= 0.15  # one layer is 13 % of this toy


def test_global_baseline_generates_whole_clips_deterministically(global_baseline):
    audio = global_baseline.generate("a dog barks on the left", duration=0.05, seed=3)
    assert audio.shape == (4, round(0.05 * SAMPLE_RATE)) and audio.dtype == torch.float32
    assert torch.isfinite(audio).all() and audio.abs().sum() > 0
    assert torch.equal(audio, global_baseline.generate("a dog barks on the left",
                                                       duration=0.05, seed=3))
    assert not torch.equal(audio, global_baseline.generate("a dog barks on the left",
                                                           duration=0.05, seed=4))
    (chunk,) = global_baseline.stream("a dog barks on the left", duration=0.05, seed=3)
    assert torch.equal(chunk.audio, audio) and chunk.start == 0.0


def test_global_baseline_takes_video_and_its_duration(global_baseline):
    frames = panorama_frames(3)
    audio = global_baseline.generate(None, (frames, np.arange(3) / 25.0), seed=0)
    assert audio.shape == (4, round(3 / 25.0 * SAMPLE_RATE))


def test_global_baseline_saves_and_loads_like_any_pipeline(global_baseline, tmp_path):
    folder = global_baseline.pipeline.save_pretrained(tmp_path / "global")
    loaded = GlobalBaseline.from_pretrained(folder)
    torch.testing.assert_close(loaded.generate("a bell", duration=0.03, seed=1),
                               global_baseline.generate("a bell", duration=0.03, seed=1))


def test_the_baseline_of_a_pipeline_with_exemplar_prompts_makes_clips_without_them(
        streaming_pipeline):
    """`swansphere bench pipeline` on a pipeline that starts its streams from exemplars."""
    config = attrs.evolve(streaming_pipeline.config, exemplar_prompts=True)
    assert not same_size_pipeline_config(config).exemplar_prompts


def test_global_baseline_refuses_streaming_pipelines(streaming_pipeline, global_baseline):
    with pytest.raises(ConfigError, match="global-dit"):
        GlobalBaseline(streaming_pipeline)
    with pytest.raises(ConfigError, match="causal-dit"):
        same_size_pipeline_config(global_baseline.pipeline.config)
    with pytest.raises(GenerationError, match="seed"):
        global_baseline.generate("a bell", duration=0.03, seed=1.5)


def test_a_whole_clip_pipeline_streams_its_clip_as_one_chunk(global_baseline):
    pipeline = global_baseline.pipeline
    assert not pipeline.streams and pipeline.config.backbone.kind == "clip_backbone"
    chunks = list(pipeline.stream("a bell", duration=0.03, seed=2))
    assert len(chunks) == 1 and chunks[0].start == 0.0
    torch.testing.assert_close(chunks[0].audio, global_baseline.generate("a bell",
                                                                         duration=0.03, seed=2))
    with pytest.raises(GenerationError, match="whole clips"):
        pipeline.session("a bell")
    with pytest.raises(GenerationError, match="whole clips"):
        pipeline.generate_takes("a bell", duration=0.03, seeds=(0, 1))


# --- cascade ----------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", ["a dog barks on the left", "a bell rings behind you",
                                    "a bird sings above and in front on the right"])
def test_cascade_pans_the_mono_signal_toward_the_prompt(streaming_pipeline, prompt):
    cascade = CascadeBaseline(streaming_pipeline)
    audio = cascade.generate(prompt, duration=0.05, seed=2)
    mono = streaming_pipeline.generate(prompt, duration=0.05, seed=2)[0]
    torch.testing.assert_close(audio[0], mono)
    azimuth, elevation = (float(angle) for angle in direction(audio))
    target = prompt_direction(prompt)
    assert float(angle_between(azimuth, elevation, *target)) < 1e-3


def test_cascade_without_a_stated_direction_uses_the_default(global_baseline):
    cascade = CascadeBaseline(global_baseline, default_direction=(-60.0, 10.0))
    audio = cascade.generate("a dog barks", duration=0.05, seed=2)
    assert cascade.directions("a dog barks", None, 10).source == "default"
    assert float(angle_between(*(float(a) for a in direction(audio)), -60.0, 10.0)) < 1e-3


def test_cascade_follows_the_video_frame_by_frame(streaming_pipeline):
    frames = np.stack([panorama_with_source(90.0, 0.0), background(128, 64, 0),
                       panorama_with_source(0.0, 0.0)])
    times = np.array([0.0, 0.05, 0.1])
    cascade = CascadeBaseline(streaming_pipeline)
    samples = round(0.15 * SAMPLE_RATE)
    pan = cascade.directions("a dog barks in front", (frames, times), samples)
    assert pan.source == "video"  # video wins over the prompt
    at = {0.0: 90.0, 0.05: 45.0, 0.1: 0.0, 0.14: 0.0}  # the empty frame is interpolated
    for time, expected in at.items():
        index = round(time * SAMPLE_RATE)
        assert abs(pan.azimuth[index] - expected) < 6.0 and abs(pan.elevation[index]) < 6.0
    audio = cascade.generate(None, (frames, times), duration=0.15, seed=0)
    assert audio.shape == (4, samples)


def test_cascade_pans_a_text_only_generator_toward_the_video():
    torch.manual_seed(0)
    text_only = Pipeline.from_config(structure({k: v for k, v in TINY.items() if k != "video"},
                                               PipelineConfig))
    frames = np.stack([panorama_with_source(-90.0, 0.0)] * 4)
    audio = CascadeBaseline(text_only).generate("a dog barks", (frames, np.arange(4) / 20.0))
    assert audio.shape == (4, round(0.2 * SAMPLE_RATE))  # the video's length
    assert float(angle_between(*(float(a) for a in direction(audio)), -90.0, 0.0)) < 6.0


def test_cascade_video_without_times_needs_a_video_conditioner(global_baseline):
    class NoVideo:
        sample_rate = SAMPLE_RATE

        def generate(self, text=None, video=None, duration=None, seed=0):
            return torch.ones(4, 80)

    with pytest.raises(GenerationError, match="timestamps"):
        CascadeBaseline(NoVideo()).directions(None, panorama_frames(2), 80)
    pan = CascadeBaseline(global_baseline).directions(None, panorama_frames(2), 80)
    assert pan.source in ("video", "default")


# --- folders for swansphere eval ---------------------------------------------------------------

def test_generate_clips_writes_what_the_eval_harness_scores(streaming_pipeline, tmp_path):
    prompts = ["a dog barks on the left", "a bell rings behind you", "rain falls"]
    written = generate_clips(CascadeBaseline(streaming_pipeline),
                             prompt_requests(prompts, duration=0.05, seed=5), tmp_path / "out",
                             progress=False)
    assert [path.name for path in written] == ["prompt-000.wav", "prompt-001.wav",
                                               "prompt-002.wav"]
    sidecar = json.loads(written[1].with_suffix(".json").read_text())
    assert sidecar["prompt"] == prompts[1] and sidecar["seed"] == 6
    assert sidecar["generator"] == "cascade"
    report = evaluate(find_clips(tmp_path / "out"), progress=False)
    accuracy = report["metrics"]["direction_accuracy"]
    assert accuracy["clips"] == 2 and accuracy["within_cone"] == 1.0


def test_scene_requests_pair_with_the_scene_references(tmp_path):
    for index in range(2):
        scene = tmp_path / f"scene-{index:06d}"
        scene.mkdir()
        (scene / "metadata.json").write_text(json.dumps({"caption": f"caption {index}"}))
        write_foa(scene / "foa.wav", torch.zeros(4, 400), SAMPLE_RATE)
        write_panorama_npz(scene / "video.npz", panorama_frames(2), np.arange(2) / 25, 25.0)
    requests = scene_requests(tmp_path, with_text=True, seed=3)
    assert [r.key for r in requests] == ["scene-000000/foa", "scene-000001/foa"]
    assert requests[1].text == "caption 1" and requests[1].seed == 4
    assert requests[0].duration == pytest.approx(400 / SAMPLE_RATE)
    assert requests[0].video.name == "video.npz"
    with pytest.raises(ConfigError, match=r"metadata\.json"):
        scene_requests(tmp_path / "nothing")


def test_bench_clips_command_generates_a_folder(model_dir, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# held out\na dog barks on the left\n\na bell rings behind you\n")
    out = tmp_path / "clips"
    assert main(["bench", "clips", "--generator", "cascade", "--model", str(model_dir),
                 "--prompts", str(prompts), "--duration", "0.05", "--out", str(out),
                 "--no-progress"]) == 0
    audio, rate = read_foa(out / "prompt-001.wav")
    assert rate == SAMPLE_RATE and audio.shape == (4, round(0.05 * SAMPLE_RATE))
    assert "wrote 2 clip(s)" in capsys.readouterr().out
    assert main(["bench", "clips", "--generator", "global", "--model", str(model_dir),
                 "--prompts", str(prompts), "--out", str(out)]) == 2
