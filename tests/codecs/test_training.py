"""Codec training: exact resume after a crash, atomic checkpoints, the ``train`` command."""

from __future__ import annotations

import itertools
import json

import attrs
import pytest
import torch

from swansphere.cli import main
from swansphere.config import structure
from swansphere.errors import ConfigError
from swansphere.training import checkpoint as checkpoint_module
from swansphere.training.checkpoint import (
    list_checkpoints,
    resolve_checkpoint,
    write_directory_atomically,
)
from swansphere.training.codec import CodecTrainConfig, CodecTrainer, training_batch
from swansphere.training.common import OptimizerConfig, learning_rate
from swansphere.training.loop import MetricsLog

CODEC = {"type": "foa-vae", "sample_rate": 8000, "strides": [2, 4], "channels": [4, 6, 6],
         "latent_dim": 4, "dilations": [1], "kernel_size": 3, "skip_coefficients": 1}
DATA = {"train_scenes": 2, "validation_scenes": 1, "clip_seconds": 0.25,
        "segment_seconds": 0.05, "max_sources": 2}
LOSS = {"fft_sizes": [64, 32], "spatial_fft_size": 64}


def config_table(output_dir, **run) -> dict:
    return {"task": "codec", "codec": CODEC, "data": DATA, "loss": LOSS,
            "optimizer": {"warmup_steps": 2, "learning_rate": 1e-3},
            "run": {"steps": 4, "batch_size": 2, "checkpoint_every": 2, "validate_every": 2,
                    "output_dir": str(output_dir), **run}}


def trainer(output_dir, **run) -> CodecTrainer:
    return CodecTrainer(structure(config_table(output_dir, **run), CodecTrainConfig),
                        progress=False)


def weights(trainer_: CodecTrainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer_.codec.state_dict().items()}


def test_resume_after_a_crash_reaches_the_uninterrupted_weights(tmp_path, crash_run):
    full = trainer(tmp_path / "full")
    full.run()

    crashing = trainer(tmp_path / "crash")
    crash_run(crashing, 3)
    assert [step for step, _ in list_checkpoints(tmp_path / "crash")] == [2]

    resumed = trainer(tmp_path / "crash")
    summary = resumed.run(resume=tmp_path / "crash")
    assert summary["resumed_from"] == 2
    expected, got = weights(full), weights(resumed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    state_full = full.optimizer.state_dict()["state"]
    state_resumed = resumed.optimizer.state_dict()["state"]
    assert state_full.keys() == state_resumed.keys()
    assert all(torch.equal(state_full[i][name], state_resumed[i][name])
               for i in state_full for name in ("exp_avg", "exp_avg_sq", "step"))
    train_steps = [e["step"] for e in MetricsLog(tmp_path / "crash").read()
                   if e["split"] == "train"]
    assert train_steps == [1, 2, 3, 4]


def test_checkpoints_are_complete_and_pruned(tmp_path):
    run = trainer(tmp_path, steps=6, keep_checkpoints=2)
    summary = run.run()
    assert [step for step, _ in list_checkpoints(tmp_path)] == [4, 6]
    newest = resolve_checkpoint(tmp_path)
    assert sorted(p.name for p in newest.iterdir()) == [
        "config.toml", "model.safetensors", "optimizer.safetensors", "train.toml",
        "trainer_state.json"]
    assert json.loads((newest / "trainer_state.json").read_text())["step"] == 6
    assert {"si_sdr_W", "si_sdr_X", "delta_angular", "val_loss"} <= set(summary["validation"])
    assert (tmp_path / "codec" / "model.safetensors").is_file()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".old"))]


@pytest.mark.parametrize(("keep_every", "kept"), [(0, [8]), (4, [4, 8]), (3, [6, 8])])
def test_keep_every_spares_the_milestones_from_pruning(tmp_path, keep_every, kept):
    trainer(tmp_path, steps=8, keep_checkpoints=1, keep_every=keep_every).run()
    assert [step for step, _ in list_checkpoints(tmp_path)] == kept


def test_a_crash_while_writing_leaves_no_broken_checkpoint(tmp_path, monkeypatch):
    run = trainer(tmp_path, steps=2)
    run.run()
    before = (resolve_checkpoint(tmp_path) / "model.safetensors").read_bytes()

    def disk_full(*_args, **_kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(checkpoint_module, "save_tensors", disk_full)
    with pytest.raises(OSError, match="no space"):
        run.save_checkpoint(2)
    with pytest.raises(OSError, match="no space"):
        run.save_checkpoint(3)
    assert [step for step, _ in list_checkpoints(tmp_path)] == [2]
    assert (resolve_checkpoint(tmp_path) / "model.safetensors").read_bytes() == before
    assert not (tmp_path / "checkpoints" / "step-00000003").exists()
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]


def test_write_directory_atomically_replaces_only_when_complete(tmp_path):
    target = tmp_path / "out"
    write_directory_atomically(target, lambda d: (d / "a.txt").write_text("one"))
    with pytest.raises(ZeroDivisionError):
        write_directory_atomically(target, lambda d: ((d / "a.txt").write_text("two"), 1 / 0))
    assert (target / "a.txt").read_text() == "one"
    write_directory_atomically(target, lambda d: (d / "b.txt").write_text("three"))
    assert [p.name for p in target.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_training_batches_are_a_function_of_seed_and_step():
    pool = torch.randn(3, 4, 400, generator=torch.Generator().manual_seed(0))
    data = structure(DATA, CodecTrainConfig.__attrs_attrs__.data.type)
    batch = lambda seed, step: training_batch(pool, seed, step, batch_size=2,  # noqa: E731
                                              segment=64, data=data)
    assert batch(0, 5).shape == (2, 4, 64)
    assert torch.equal(batch(0, 5), batch(0, 5))
    assert not torch.equal(batch(0, 5), batch(0, 6))
    assert not torch.equal(batch(0, 5), batch(1, 5))


def test_learning_rate_warms_up_then_decays_to_the_floor():
    config = OptimizerConfig(learning_rate=1.0, warmup_steps=4, min_lr_ratio=0.1)
    rates = [learning_rate(step, 20, config) for step in range(20)]
    assert rates[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in itertools.pairwise(rates[3:]))
    assert learning_rate(20, 20, config) == pytest.approx(0.1)


def write_config(path, table: dict) -> None:
    import tomli_w

    path.write_text(tomli_w.dumps(table), encoding="utf-8")


def test_train_command_runs_and_resumes(tmp_path, capsys):
    config = tmp_path / "codec.toml"
    write_config(config, config_table(tmp_path / "run", steps=2))
    assert main(["train", str(config), "--no-progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["resumed_from"] == 0
    assert main(["train", str(config), "--no-progress", "--steps", "4",
                 "--resume", str(tmp_path / "run")]) == 0
    assert "from step 2" in capsys.readouterr().out
    assert [step for step, _ in list_checkpoints(tmp_path / "run")] == [2, 4]


@pytest.mark.parametrize(("table", "message"), [
    ({"codec": CODEC}, "missing top-level key 'task'"),
    ({"task": "pipeline-zero", "codec": CODEC}, "unknown training task 'pipeline-zero'"),
    ({"task": "codec", "codec": CODEC, "data": {"scenes": 3}}, "unknown key data.scenes"),
    ({"task": "codec", "codec": {"type": "patch"}}, "no trainable parameters"),
])
def test_train_command_reports_bad_configs(tmp_path, capsys, table, message):
    config = tmp_path / "bad.toml"
    write_config(config, {**table, "run": {"output_dir": str(tmp_path / "run")}})
    assert main(["train", str(config), "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_resume_from_nothing_is_a_clear_error(tmp_path, capsys):
    config = tmp_path / "codec.toml"
    write_config(config, config_table(tmp_path / "run"))
    assert main(["train", str(config), "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no checkpoint in" in capsys.readouterr().err


def test_untrainable_codec_is_refused_in_python_too(tmp_path):
    table = config_table(tmp_path)
    table["codec"] = {"type": "patch"}
    with pytest.raises(ConfigError, match="no trainable parameters"):
        CodecTrainer(structure(table, CodecTrainConfig), progress=False)


@pytest.mark.slow
def test_training_improves_reconstruction(tmp_path):
    """Without the linear paths the untrained codec outputs silence; 40 steps must help."""
    table = config_table(tmp_path, steps=40, validate_every=40, checkpoint_every=40)
    table["codec"] = {**CODEC, "skip_coefficients": 0}
    run = CodecTrainer(structure(table, CodecTrainConfig), progress=False)
    before = run.validate()
    after = run.run()["validation"]
    assert after["val_loss"] < before["val_loss"], (before, after)
    assert after["val_spatial"] < before["val_spatial"], (before, after)


def test_a_parametric_codec_is_fitted_on_sound_set_scenes(tmp_path, capsys):
    """``foa-parametric`` has statistics, not weights: the codec task fits them on the
    scene pool (here the always-installed synthetic set through the sound-set path) and
    exports a codec whose latents are standardised on that pool."""
    from swansphere.codecs.weights import load_codec
    from swansphere.training.codec import render_pool

    data = {"source": "sound-sets", "sets": ["synthetic"], "train_scenes": 3,
            "validation_scenes": 1, "clip_seconds": 0.5, "room_probability": 0.0}
    config = tmp_path / "fit.toml"
    write_config(config, {"task": "codec", "data": data,
                          "codec": {"type": "foa-parametric", "sample_rate": 8000,
                                    "hop_length": 32, "low_bins": 6, "envelope_bands": 4,
                                    "direction_bands": 3},
                          "run": {"output_dir": str(tmp_path / "run"), "batch_size": 2}})
    assert main(["train", str(config), "--no-progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["fitted"] and summary["fitted_frames"] == 3 * (4000 // 32)
    assert summary["validation"]["delta_angular"] < 0.05
    codec = load_codec(summary["codec_dir"])
    pool = render_pool(structure({"data": data, "codec": {"type": "patch"}},
                                 CodecTrainConfig).data, 8000, progress=False)
    latents = codec.encode(pool).reshape(-1, codec.latent_dim)
    torch.testing.assert_close(latents.mean(0), torch.zeros(codec.latent_dim), atol=1e-3,
                               rtol=0)
    assert [entry["split"] for entry in MetricsLog(tmp_path / "run").read()] == ["validation"]
    assert main(["train", str(config), "--no-progress"]) == 2  # the folder holds a run
    assert "--overwrite" in capsys.readouterr().err
    assert main(["train", str(config), "--no-progress", "--overwrite"]) == 0
    assert "fitted codec statistics on 375 frames" in capsys.readouterr().out
    assert main(["train", str(config), "--resume", str(tmp_path / "run")]) == 2
    assert "no checkpoints to resume" in capsys.readouterr().err


def test_sound_set_scenes_are_cached_per_clip_set_and_need_their_classes(tmp_path, monkeypatch):
    """A pool rendered from other clips (a set installed since) is not read back, and a recipe
    that names more classes than the installed sets give is refused with one line."""
    from swansphere.data import sources
    from swansphere.training.codec import render_pool

    table = {"data": {"source": "sound-sets", "sets": ["synthetic"], "train_scenes": 2,
                      "validation_scenes": 1, "clip_seconds": 0.25,
                      "cache_dir": str(tmp_path / "cache")},
             "codec": {"type": "patch"}}
    data = structure(table, CodecTrainConfig).data
    render_pool(data, 8000, progress=False)
    render_pool(data, 8000, progress=False)
    assert len(list((tmp_path / "cache").iterdir())) == 1
    every_clip = sources.catalogue(["synthetic"])
    monkeypatch.setattr(sources, "catalogue", lambda *args, **kwargs: every_clip[:-1])
    render_pool(data, 8000, progress=False)
    assert len(list((tmp_path / "cache").iterdir())) == 2
    with pytest.raises(ConfigError, match=r"min_classes = 10, but .* 9 classes"):
        render_pool(attrs.evolve(data, min_classes=10), 8000, progress=False)
