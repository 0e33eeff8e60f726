"""``swansphere bench pipeline``: the JSON schema on a tiny random pipeline (no timings
asserted, only that every figure is there and positive)."""

from __future__ import annotations

import json
import math

import pytest
import tomli_w
from pipeline_helpers import TINY

from swansphere.cli import main
from swansphere.errors import ResourceNotFoundError
from swansphere.evaluation.pipeline_bench import (
    PeakMemory,
    format_table,
    load_pipeline,
    preset_name,
    run_pipeline_benchmark,
    shipped_model_exists,
)

REQUIRED = ("first_chunk_latency_s", "rtf", "baseline_first_audio_s", "peak_memory_mb",
            "device", "preset", "speedup_first_audio", "threads", "torch", "load_average",
            "runs", "baseline", "baseline_rtf", "baseline_peak_memory_mb", "duration_s",
            "repeats", "parameters")


@pytest.fixture(scope="module")
def report(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    assert main(["bench", "pipeline", "--model", str(model_dir), "--duration", "0.04",
                 "--repeats", "2", "--json", str(out), "--no-progress"]) == 0
    return json.loads(out.read_text())


def test_report_has_every_figure_positive(report):
    assert set(REQUIRED) <= set(report)
    for key in ("first_chunk_latency_s", "rtf", "baseline_first_audio_s", "peak_memory_mb",
                "speedup_first_audio", "baseline_rtf", "baseline_peak_memory_mb"):
        assert isinstance(report[key], float) and math.isfinite(report[key])
        assert report[key] > 0, key
    assert report["device"] == "cpu" and report["repeats"] == 2
    assert report["chunks"] == 5  # 0.04 s in 8 ms patches
    assert report["speedup_first_audio"] == pytest.approx(
        report["baseline_first_audio_s"] / report["first_chunk_latency_s"])


def test_report_keeps_every_run_and_says_what_it_measured(report):
    for key in ("first_chunk_latency_s", "rtf", "baseline_first_audio_s"):
        assert len(report["runs"][key]) == 2
        assert all(value > 0 for value in report["runs"][key])
    assert report["first_chunk_latency_s"] == pytest.approx(
        sum(report["runs"]["first_chunk_latency_s"]) / 2)  # the median of two
    assert "random" in report["baseline"]["weights"]
    assert report["baseline"]["backbone"] == "global-dit"
    assert report["baseline"]["patch_frames"] == 1 and report["baseline"]["tokens"] == 20
    assert "RSS" in report["memory"]["kind"] and report["memory"]["before_run_mb"] > 0
    # model_dir holds random weights: a saved directory is "saved", never "trained"
    assert report["weights"] == "saved" and report["preset"] == "custom"
    assert len(report["load_average"]) == 3 and report["text"]
    low, high = sorted(report["runs"]["first_chunk_latency_s"])
    assert f"first audio {low:.3f}-{high:.3f} s" in format_table(report)


def test_prints_a_table(model_dir, capsys):
    assert main(["bench", "pipeline", "--model", str(model_dir), "--duration", "0.02",
                 "--repeats", "1", "--baseline-patch-frames", "4", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "first audio (s)" in out and "sooner than the global baseline" in out
    assert "served together" not in out and "GPU busy" not in out
    assert "streaming runs:" not in out  # one run has no range


def test_batched_streams_are_timed_per_stream(model_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "pipeline", "--model", str(model_dir), "--duration", "0.04",
                 "--repeats", "2", "--streams", "3", "--json", str(out), "--no-progress"]) == 0
    assert "3 streams served together: RTF per stream" in capsys.readouterr().out
    report = json.loads(out.read_text())
    batched = report["batched_streams"]
    assert batched["count"] == 3 and len(batched["runs"]["rtf_per_stream"]) == 2
    assert batched["rtf_per_stream"] > 0 and batched["first_step_latency_s"] > 0
    assert report["gpu_busy_fraction"] is None  # measured on CUDA only


def test_a_compiled_pipeline_is_timed_and_says_so(model_dir):
    """dynamo's eager backend stands in for CUDA graphs (``--compile`` passes a mode)."""
    pipeline, info = load_pipeline(str(model_dir))
    report = run_pipeline_benchmark(pipeline, info=info, duration=0.04, repeats=1,
                                    stream_count=2, compile_options={"backend": "eager"},
                                    progress=False)
    assert pipeline.patch_stepper is not None and report["compile"] == {"backend": "eager"}
    assert report["warm_up_s"] > 0 and report["batched_streams"]["rtf_per_stream"] > 0
    assert "per-patch step compiled" in format_table(report)


def test_a_config_toml_is_timed_with_random_weights(tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(tomli_w.dumps({"task": "pipeline", "pipeline": TINY}))
    pipeline, info = load_pipeline(config=recipe)
    assert "random" in info["weights"] and info["preset"] == "custom"
    assert pipeline.backbone.latent_dim == TINY["backbone"]["latent_dim"]
    bare = tmp_path / "pipeline.toml"
    bare.write_text(tomli_w.dumps(TINY))
    assert load_pipeline(config=bare)[0].sample_rate == pipeline.sample_rate


def test_set_changes_the_timed_config_and_the_report_says_so(model_dir, tmp_path, capsys):
    pipeline, info = load_pipeline(str(model_dir), overrides=["sampler.steps=2"])
    assert pipeline.sampler.config.steps == 2 and info["overrides"] == ["sampler.steps=2"]
    recipe = tmp_path / "pipeline.toml"
    recipe.write_text(tomli_w.dumps(TINY))
    assert load_pipeline(config=recipe, overrides=["sampler.steps=5"])[0].sampler.config.steps == 5
    out = tmp_path / "bench.json"
    assert main(["bench", "pipeline", "--model", str(model_dir), "--set", "sampler.steps=2",
                 "--duration", "0.04", "--repeats", "1", "--json", str(out),
                 "--no-progress"]) == 0
    assert json.loads(out.read_text())["overrides"] == ["sampler.steps=2"]
    assert "sampler.steps=2" in capsys.readouterr().out.splitlines()[0]


def test_weights_are_labelled_by_where_they_come_from(model_dir):
    _, saved = load_pipeline(str(model_dir))
    assert saved["weights"] == "saved"
    if shipped_model_exists("tiny"):
        assert load_pipeline("tiny")[1]["weights"] == "shipped"


def test_preset_names_and_missing_models(streaming_pipeline, monkeypatch, tmp_path):
    assert preset_name(streaming_pipeline) == "custom"
    assert not shipped_model_exists(str(tmp_path))  # a path is never a shipped name
    if not shipped_model_exists("tiny"):
        with pytest.raises(ResourceNotFoundError):
            load_pipeline("tiny")
        assert main(["bench", "pipeline"]) == 2


def test_no_timed_run_is_sampled_for_memory(streaming_pipeline, monkeypatch):
    """The memory sampler takes time from what it watches: peak memory comes from one run
    of each system of its own, after the timed ones."""
    from swansphere.evaluation import pipeline_bench
    from swansphere.evaluation.baselines import GlobalBaseline

    sampling, runs = [False], []

    class Watched(PeakMemory):
        def __enter__(self):
            sampling[0] = True
            return super().__enter__()

        def __exit__(self, *error):
            sampling[0] = False
            return super().__exit__(*error)

    def watched(generate):
        def run(self, *args, **kwargs):
            if self is streaming_pipeline or isinstance(self, GlobalBaseline):
                runs.append((type(self).__name__, sampling[0]))
            return generate(self, *args, **kwargs)
        return run

    monkeypatch.setattr(pipeline_bench, "PeakMemory", Watched)
    monkeypatch.setattr(type(streaming_pipeline), "stream",
                        watched(type(streaming_pipeline).stream))
    monkeypatch.setattr(GlobalBaseline, "generate", watched(GlobalBaseline.generate))
    report = run_pipeline_benchmark(streaming_pipeline, duration=0.04, repeats=3,
                                    progress=False)
    sampled = [name for name, watched_run in runs if watched_run]
    assert sorted(sampled) == ["GlobalBaseline", "Pipeline"]  # one of each
    assert len(runs) == 2 * (1 + 3) + 2  # warm-ups and timed runs unsampled
    assert report["peak_memory_mb"] > 0 and report["baseline_peak_memory_mb"] > 0


def test_peak_memory_sees_an_allocation():
    import numpy as np
    import torch

    with PeakMemory(torch.device("cpu")) as memory:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block.sum()
    assert memory.peak_mb - memory.before_mb > 32
