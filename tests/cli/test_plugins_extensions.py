"""A third-party package (tests/plugin_packages/extensions) extends every table: a command, a
training task, a bench target, and a trainable codec that ``swansphere train`` trains, saves
and loads back."""

from __future__ import annotations

import json

import pytest
import torch

from swansphere import Registry
from swansphere.cli import main
from swansphere.codecs.weights import load_codec
from swansphere.training.tasks import get_task


def write_toml(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_plugin_command_runs(with_plugins, capsys):
    with_plugins("extensions")
    codecs = Registry(disabled=()).names("codec")
    assert "linear" in codecs
    assert main(["hello", "--name", "plugin"]) == 0
    assert capsys.readouterr().out == f"hello, plugin: {len(codecs)} codecs registered\n"


def test_plugin_command_is_absent_when_disabled(with_plugins, capsys):
    with_plugins("extensions")
    assert main(["--disable-plugins", "swansphere-extensions", "hello"]) == 2
    assert "invalid choice: 'hello'" in capsys.readouterr().err


def test_plugin_bench_target_runs_and_is_listed(with_plugins, capsys):
    with_plugins("extensions")
    assert main(["bench", "echo", "42"]) == 0
    assert capsys.readouterr().out == "TARGET  VALUE\necho    42\n"
    assert main(["bench"]) == 2
    assert "swansphere bench {codec,pipeline,clips,echo}" in capsys.readouterr().err


def test_plugin_training_task_trains(with_plugins, tmp_path, capsys):
    with_plugins("extensions")
    config = write_toml(tmp_path / "count.toml", 'task = "count"\nstart = 3\n[run]\nsteps = 4\n'
                        f'output_dir = "{tmp_path / "run"}"\n')
    assert main(["train", config, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["count_dir"] == str(tmp_path / "run" / "count")
    assert (tmp_path / "run" / "count" / "count.txt").read_text() == "7"


def test_an_unknown_task_lists_the_plugin_ones(with_plugins, tmp_path, capsys):
    with_plugins("extensions")
    config = write_toml(tmp_path / "bad.toml", 'task = "cuont"\n')
    assert main(["train", config]) == 2
    assert capsys.readouterr().err == (
        "swansphere: error: unknown training task 'cuont'; valid: codec, count, odpo, "
        "pipeline, svac\n")


def test_get_task_checks_what_the_target_names(with_plugins):
    import swansphere

    with_plugins("extensions")
    registry = Registry(disabled=())
    assert get_task("count", registry).config_class.__name__ == "CountConfig"

    @swansphere.hookimpl
    def swansphere_register_training_tasks():
        yield swansphere.Extension(name="not-a-task", kind="training_task",
                                   target="swansphere_extensions.tasks:run_count",
                                   description="names a function, not a TrainingTask")

    registry.register(type("Plugin", (), {"swansphere_register_training_tasks": staticmethod(
        swansphere_register_training_tasks)})(), "wrong-target")
    with pytest.raises(swansphere.PluginError, match="not a TrainingTask named 'not-a-task'"):
        get_task("not-a-task", registry)


def test_plugins_lists_the_extensions_with_their_provider(with_plugins, capsys):
    with_plugins("extensions")
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    mine = {(e["kind"], e["name"]) for e in report["extensions"]
            if e["distribution"] == "swansphere-extensions"}
    assert mine == {("command", "hello"), ("training_task", "count"),
                    ("bench_target", "echo")}


CODEC_TRAINING = """
task = "codec"
[codec]
type = "linear"
sample_rate = 8000
hop_length = 8
latent_dim = 6
[data]
train_scenes = 2
validation_scenes = 1
clip_seconds = 0.25
segment_seconds = 0.05
max_sources = 1
[loss]
fft_sizes = [64, 32]
spatial_fft_size = 64
[run]
steps = 2
batch_size = 2
checkpoint_every = 1
validate_every = 2
"""


def test_a_third_party_codec_trains_checkpoints_and_loads_back(with_plugins, tmp_path, capsys):
    with_plugins("extensions")
    run = tmp_path / "run"
    config = write_toml(tmp_path / "codec.toml",
                        CODEC_TRAINING + f'output_dir = "{run}"\n')
    assert main(["train", config, "--json", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000001",
                                                                        "step-00000002"]
    codec = load_codec(summary["codec_dir"], registry=Registry(disabled=()))
    assert type(codec).__name__ == "LinearCodec" and codec.hop_length == 8
    trained = load_codec(run / "checkpoints" / "step-00000002",
                         registry=Registry(disabled=()))
    assert all(torch.equal(a, b) for a, b in zip(codec.state_dict().values(),
                                                 trained.state_dict().values(), strict=True))


def test_the_third_party_codec_passes_the_codec_suite(with_plugins):
    from swansphere.testing.streaming import CodecConformanceSuite

    with_plugins("extensions")
    registry = Registry(disabled=())

    class TestLinearCodec(CodecConformanceSuite):
        max_examples = 3

        def make_codec(self):
            torch.manual_seed(0)
            return registry.create("codec", {"type": "linear", "hop_length": 4})

    suite = TestLinearCodec()
    ran = [name for name in dir(suite) if name.startswith("test_")]
    for name in ran:
        getattr(suite, name)()
    assert "test_codec_pipeline_ready" in ran and len(ran) == 11
