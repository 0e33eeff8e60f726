"""Multi-process training (torchrun, DDP on gloo, 2 CPU processes) against one process.

One torchrun launch (``ddp_worker.py``) runs five ``swansphere train`` commands: the codec for
4 steps; the codec for 2 steps, then resumed to 4 in the same folder; SVAC for 3 steps with a
batch of 3 split 2 + 1; the pipeline (stage 2) for 2 steps with a batch of 4; then one pipeline
step whose gradients are written out. The single-process references run in this process.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import weakref
from pathlib import Path

import pytest
import tomli_w
import torch
import torch.distributed as torch_dist
from ddp_worker import step_gradients
from torchrun_helpers import torchrun

from swansphere.cli import main
from swansphere.codecs.weights import load_tensors
from swansphere.config import structure
from swansphere.errors import ConfigError
from swansphere.plugins.svac.trainer import SVACTrainConfig, SVACTrainer
from swansphere.training import distributed
from swansphere.training.checkpoint import list_checkpoints, step_directory
from swansphere.training.codec import CodecTrainConfig, CodecTrainer, training_batch
from swansphere.training.common import (
    clip_gradients,
    learning_rate,
    set_learning_rate,
    step_generator,
)
from swansphere.training.distributed import (
    LAUNCH_VARIABLES,
    Distributed,
    current,
    hand_over,
    launch,
    wait_for_release,
)
from swansphere.training.logs import CSVLog, events_files, read_scalars
from swansphere.training.loop import MetricsLog

WORKER = Path(__file__).with_name("ddp_worker.py")
CODEC = {"type": "foa-vae", "sample_rate": 8000, "strides": [2, 4], "channels": [4, 6, 6],
         "latent_dim": 4, "dilations": [1], "kernel_size": 3, "skip_coefficients": 1}


def codec_table(tmp: Path) -> dict:
    return {"task": "codec", "codec": CODEC,
            "data": {"train_scenes": 2, "validation_scenes": 1, "clip_seconds": 0.25,
                     "segment_seconds": 0.05, "max_sources": 2, "cache_dir": str(tmp / "cache")},
            "loss": {"fft_sizes": [64, 32], "spatial_fft_size": 64},
            "optimizer": {"warmup_steps": 2, "learning_rate": 1e-3},
            "run": {"steps": 4, "batch_size": 2, "checkpoint_every": 2, "validate_every": 2,
                    "output_dir": str(tmp / "codec-single")}}


def svac_table(tmp: Path) -> dict:
    return {"task": "svac",
            "model": {"video": {"dim": 16, "height": 16, "width": 32, "channels": [8, 8],
                                "token_dim": 8, "heads": 2, "temporal_kernel": 2},
                      "audio": {"sample_rate": 8000, "n_fft": 256, "hop_length": 128,
                                "bands": 8, "channels": [8]}},
            "loss": {"min_shift_seconds": 0.25},
            "data": {"train_scenes": 4, "validation_scenes": 2, "clip_seconds": 0.75,
                     "max_sources": 1, "render_width": 64, "cache_dir": str(tmp / "cache")},
            "evaluation": {"rotations": 4},
            "optimizer": {"warmup_steps": 0, "learning_rate": 1e-3},
            "run": {"steps": 3, "batch_size": 3, "checkpoint_every": 3, "validate_every": 3,
                    "output_dir": str(tmp / "svac-single")}}


def pipeline_table(tmp: Path) -> dict:
    """A minute pipeline (training-free codec) for ``task = "pipeline"``."""
    size = {"layers": 1, "width": 32, "heads": 2, "kv_heads": 1}
    pipeline = {
        "codec": {"type": "patch", "sample_rate": 8000, "hop_length": 16, "transform": "dct",
                  "coefficients": 4},
        "backbone": {"type": "causal-dit", "latent_dim": 16, "latent_frame_rate": 500.0,
                     "patch_frames": 4, "text_dim": 32, "video_dim": 16, "caption_layers": 1,
                     "attention_window": 8, "lm": size, "locenc": size, "locdit": size},
        "sampler": {"type": "euler", "steps": 2},
        "text": {"type": "text-transformer", "dim": 32, "layers": 1, "heads": 2,
                 "vocab_size": 64},
        "video": {"type": "panorama-video", "dim": 16, "height": 16, "width": 32,
                  "channels": [4], "token_dim": 8, "heads": 2, "mixer_layers": 0,
                  "sh_order": 1}}
    return {"task": "pipeline", "stage": "foa", "pipeline": pipeline,
            "data": {"train_scenes": 4, "validation_scenes": 2, "clip_seconds": 0.25,
                     "render_width": 32, "cache_dir": str(tmp / "cache")},
            "optimizer": {"warmup_steps": 0, "learning_rate": 1e-3},
            "run": {"steps": 2, "batch_size": 4, "checkpoint_every": 2, "validate_every": 2,
                    "output_dir": str(tmp / "pipeline-single")}}


def train_in_two_processes(commands: list[list[str]]) -> subprocess.CompletedProcess:
    return torchrun(WORKER, json.dumps(commands))


def gradients_config(tmp: Path) -> Path:
    """The pipeline run with a batch of 3, split 2 + 1: unequal shards must still average
    to the gradient of the whole batch's mean."""
    table = pipeline_table(tmp)
    table["run"] |= {"batch_size": 3, "output_dir": str(tmp / "pipeline-gradients")}
    path = tmp / "gradients.toml"
    path.write_text(tomli_w.dumps(table))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Single-process references (which also fill the scene caches), then the DDP launch."""
    tmp = tmp_path_factory.mktemp("ddp")
    codec, svac, pipeline = tmp / "codec.toml", tmp / "svac.toml", tmp / "pipeline.toml"
    codec.write_text(tomli_w.dumps(codec_table(tmp)))
    svac.write_text(tomli_w.dumps(svac_table(tmp)))
    pipeline.write_text(tomli_w.dumps(pipeline_table(tmp)))
    for config in (codec, svac, pipeline):
        assert main(["train", str(config), "--no-progress"]) == 0
    quiet = ["--no-progress"]
    result = train_in_two_processes([
        ["train", str(codec), *quiet, "--output-dir", str(tmp / "codec-ddp")],
        ["train", str(codec), *quiet, "--output-dir", str(tmp / "codec-resumed"), "--steps", "2"],
        ["train", str(codec), *quiet, "--output-dir", str(tmp / "codec-resumed"),
         "--resume", str(tmp / "codec-resumed")],
        ["train", str(svac), *quiet, "--output-dir", str(tmp / "svac-ddp")],
        ["train", str(pipeline), *quiet, "--output-dir", str(tmp / "pipeline-ddp")],
        ["pipeline-gradients", str(gradients_config(tmp)), str(tmp)],
    ])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp, result.stdout


def train_entries(run: Path) -> list[dict]:
    """The train metrics of a run, step by step (the split key dropped)."""
    return [{k: v for k, v in e.items() if k != "split"} for e in MetricsLog(run).read()
            if e["split"] == "train"]


def relative_update_error(initial: dict, reference: dict, other: dict) -> float:
    """|Δother − Δreference| / |Δreference| over all weights (Δ: change from ``initial``).

    A norm, not a maximum: Adam moves a weight whose gradient is ~0 by ±lr on the sign of
    rounding noise, so a few single weights may differ by a whole step.
    """
    delta = torch.cat([(reference[k] - initial[k]).flatten() for k in initial])
    error = torch.cat([(other[k] - reference[k]).flatten() for k in initial])
    return float(error.norm() / delta.norm())


def test_ddp_codec_steps_equal_the_single_process_steps(runs):
    tmp, _ = runs
    single, ddp = train_entries(tmp / "codec-single"), train_entries(tmp / "codec-ddp")
    assert [e["step"] for e in ddp] == [1, 2, 3, 4]
    assert ddp[0] == pytest.approx(single[0], rel=1e-5)        # grad_norm included
    # This tiny codec's training is chaotic: a 1e-7 weight nudge after step 2 moves the
    # step-4 gradient norm by ~18 % (measured), and the rounding of a sum over two ranks is
    # such a nudge; later steps compare by their loss.
    for one, two in zip(single[1:], ddp[1:], strict=True):
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-3)
    initial = CodecTrainer(structure(codec_table(tmp), CodecTrainConfig), progress=False)
    weights = lambda run: load_tensors(step_directory(tmp / run, 2) / "model.safetensors")  # noqa: E731
    assert relative_update_error(initial.codec.state_dict(), weights("codec-single"),
                                 weights("codec-ddp")) < 1e-3


def test_ddp_svac_uses_the_whole_batch_as_negatives_like_one_process(runs):
    """Batch 3 over 2 ranks (2 + 1): embeddings are all-gathered, so every step (loss,
    in-batch accuracy, gradient norm) is the single-process step."""
    tmp, _ = runs
    single, ddp = train_entries(tmp / "svac-single"), train_entries(tmp / "svac-ddp")
    assert len(ddp) == 3
    for one, two in zip(single, ddp, strict=True):
        assert two == pytest.approx(one, rel=1e-4, abs=1e-6)
    config = structure(svac_table(tmp), SVACTrainConfig)
    initial = SVACTrainer(config, progress=False).model.state_dict()
    exported = lambda run: load_tensors(tmp / run / "svac" / "model.safetensors")  # noqa: E731
    # Measured 1.5 %: Adam's first steps move each weight by about ±lr whatever the size of
    # its gradient, so weights with near-zero gradients follow the rounding; per-rank
    # negatives would change the losses above at the first step already.
    assert relative_update_error(initial, exported("svac-single"), exported("svac-ddp")) < 5e-2


def test_ddp_pipeline_training_splits_each_batch_and_writes_once(runs):
    """Each rank takes 2 of the 4 scenes (with its own noise stream, so the step matches the
    single-process one in distribution, not bit for bit); rank 0 alone writes."""
    tmp, stdout = runs
    single, ddp = train_entries(tmp / "pipeline-single"), train_entries(tmp / "pipeline-ddp")
    assert [e["step"] for e in ddp] == [1, 2]
    for one, two in zip(single, ddp, strict=True):
        assert two["lr"] == one["lr"]
        assert two["loss"] == pytest.approx(one["loss"], rel=0.5)
    assert [step for step, _ in list_checkpoints(tmp / "pipeline-ddp")] == [2]
    assert stdout.count("trained pipeline") == 1
    exported = load_tensors(tmp / "pipeline-ddp" / "pipeline" / "model.safetensors")
    initial = load_tensors(tmp / "pipeline-single" / "pipeline" / "model.safetensors")
    changed = [k for k in exported if k.startswith("backbone.")
               and not torch.equal(exported[k], initial[k])]
    assert changed  # trained, and differently from the single-process run


def test_ddp_gradients_equal_the_single_process_gradient_of_the_union_batch(runs):
    """Each rank's gradient after one pipeline step (DDP-averaged, shards of 2 and 1 scenes)
    is the gradient one process computes on all 3 scenes: DDP averages, and the loss weights
    make unequal shards count by their size. Per-scene noise seeds make the losses equal."""
    tmp, _ = runs
    single = step_gradients(str(gradients_config(tmp)))
    for rank in (0, 1):
        ddp = load_tensors(tmp / f"rank-{rank}.safetensors")
        assert set(ddp) == set(single)
        scale = max(float(g.abs().max()) for g in single.values())
        for name, gradient in single.items():
            torch.testing.assert_close(ddp[name], gradient, atol=1e-5 * scale, rtol=1e-4,
                                       msg=lambda m, n=name: f"{n}: {m}")


def test_only_rank_zero_writes_checkpoints_logs_and_output(runs):
    tmp, stdout = runs
    run = tmp / "codec-ddp"
    assert [step for step, _ in list_checkpoints(run)] == [2, 4]
    entries = [(e["step"], e["split"]) for e in MetricsLog(run).read()]
    assert entries == [(0, "validation"), (1, "train"), (2, "train"), (2, "validation"),
                       (3, "train"), (4, "train"), (4, "validation")]
    assert [(e["step"], e["split"]) for e in CSVLog(run / "metrics.csv").read()] == entries
    assert len(events_files(run)) == 1
    assert [s for s, _ in read_scalars(run)["train/loss"]] == [1, 2, 3, 4]
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith("events.")) == [
        "checkpoints", "codec", "metrics.csv", "metrics.jsonl", "train.toml"]
    assert stdout.count("trained codec") == 3 and stdout.count("trained svac") == 1


def test_a_resumed_ddp_run_continues_to_the_uninterrupted_result(runs):
    tmp, stdout = runs
    assert "trained codec for 4 steps (from step 2)" in stdout
    full = load_tensors(tmp / "codec-ddp" / "codec" / "model.safetensors")
    resumed = load_tensors(tmp / "codec-resumed" / "codec" / "model.safetensors")
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    assert train_entries(tmp / "codec-resumed") == train_entries(tmp / "codec-ddp")
    assert read_scalars(tmp / "codec-resumed")["train/loss"] == \
        read_scalars(tmp / "codec-ddp")["train/loss"]


def test_without_torchrun_variables_a_run_is_the_plain_single_process_loop(tmp_path,
                                                                           monkeypatch):
    for name in LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    table = codec_table(tmp_path)
    table["run"]["output_dir"] = str(tmp_path / "run")
    with launch() as dist:
        assert dist == Distributed() and current() is dist
        assert not torch_dist.is_initialized()
        trainer = CodecTrainer(structure(table, CodecTrainConfig), progress=False)
        trainer.run()
    assert not isinstance(trainer.train_reconstruct, torch.nn.Module)   # no DDP wrapper

    reference = CodecTrainer(structure(table, CodecTrainConfig), progress=False)
    run, optimizer = reference.config.run, reference.optimizer
    for step in range(run.steps):                 # the loop as it was before DDP existed
        audio = training_batch(reference.pool(), run.seed, step, batch_size=run.batch_size,
                               segment=reference.segment, data=reference.config.data)
        set_learning_rate(optimizer, learning_rate(step, run.steps, reference.config.optimizer))
        optimizer.zero_grad(set_to_none=True)
        reference.losses(audio, step_generator(run.seed, step, stream=1))["terms"]["loss"] \
            .backward()
        clip_gradients(reference.codec.parameters(), reference.config.optimizer.grad_clip)
        optimizer.step()
    expected, got = reference.codec.state_dict(), trainer.codec.state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_environment_parsing_and_batch_shards():
    assert Distributed.from_environment({}) == Distributed()
    assert Distributed.from_environment({"WORLD_SIZE": "1", "RANK": "0"}).world_size == 1
    with pytest.raises(ConfigError, match="MASTER_ADDR, MASTER_PORT not set"):
        Distributed.from_environment({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    environment = {"WORLD_SIZE": "3", "RANK": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "h",
                   "MASTER_PORT": "1"}
    third = Distributed.from_environment(environment)
    assert (third.rank, third.world_size, third.is_main, third.backend) == (2, 3, False, "gloo")
    assert Distributed.from_environment(environment, device="cuda").device == \
        torch.device("cuda", 0)
    ranks = [Distributed(rank=r, world_size=3) for r in range(3)]
    assert [d.shard(8) for d in ranks] == [slice(0, 3), slice(3, 6), slice(6, 8)]
    assert Distributed().shard(5) == slice(0, 5)
    items = torch.arange(8.0)                      # DDP's average of weighted local means
    averaged = sum(d.mean_weight(8) * items[d.shard(8)].mean() for d in ranks) / 3
    assert float(averaged) == pytest.approx(float(items.mean()))
    assert ranks[2].mean_weight(8) == 6 / 8 and Distributed().mean_weight(5) == 1.0
    with pytest.raises(ConfigError, match="batch of 2 cannot be split over 3"):
        ranks[0].shard(2)
    single = Distributed()
    batch = torch.randn(4, 2)
    assert single.gather(batch, 4) is batch and single.mean({"a": 1.5}) == {"a": 1.5}


def held_by_another_thread(monkeypatch):
    """A tensor handed to a "collective" and a graph that references it, as a backend thread
    does for a moment after the collective returns."""
    monkeypatch.setattr(distributed, "_HANDED_OVER", weakref.WeakSet())
    tensor = hand_over(torch.ones(3, requires_grad=True))
    backend = {"graph": tensor * tensor}
    assert tensor._use_count() > 1
    return tensor, backend


def test_leaving_the_group_waits_until_the_backend_lets_go_of_its_tensors(monkeypatch):
    tensor, backend = held_by_another_thread(monkeypatch)
    letting_go = threading.Event()

    def backend_thread():
        time.sleep(0.05)
        letting_go.set()
        backend.clear()

    thread = threading.Thread(target=backend_thread)
    thread.start()
    wait_for_release()
    assert letting_go.is_set() and tensor._use_count() == 1
    thread.join()


def test_leaving_the_group_warns_and_goes_on_when_the_backend_never_lets_go(monkeypatch):
    tensor, backend = held_by_another_thread(monkeypatch)
    with pytest.warns(RuntimeWarning, match="still held collective tensors after 0.01 s"):
        wait_for_release(timeout=0.01)
    assert backend and tensor._use_count() > 1
    hand_over(torch.zeros(2))                 # gone at once: nothing to wait for
    backend.clear()
    wait_for_release(timeout=0)


def test_the_svac_trainer_refuses_another_device(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("swansphere.cli_args.check_device", lambda name: None)  # as if a GPU
    config = tmp_path / "svac.toml"
    config.write_text(tomli_w.dumps(svac_table(tmp_path)))
    assert main(["train", str(config), "--device", "cuda:1", "--no-progress"]) == 2
    assert "SVAC trainer runs on the CPU only" in capsys.readouterr().err


@pytest.mark.parametrize(("table", "trainer"), [(codec_table, "CodecTrainer"),
                                                 (svac_table, "SVACTrainer")])
def test_trainers_without_autocast_refuse_bfloat16(tmp_path, capsys, table, trainer):
    config = tmp_path / "train.toml"
    config.write_text(tomli_w.dumps(table(tmp_path)))
    assert main(["train", str(config), "--set", "run.precision=bfloat16", "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert f"{trainer} trains in float32 only" in error and 'run.precision = "float32"' in error
    assert not (tmp_path / "codec-single").exists() and not (tmp_path / "svac-single").exists()
