"""The plugin registry with real third-party plugin packages (tests/plugin_packages)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import attrs
import pytest

import swansphere
from swansphere import Component, ComponentKind, Extension, ExtensionKind, Registry
from swansphere.cli import main
from swansphere.errors import (
    ConfigError,
    DuplicateComponentError,
    PluginError,
    SwanSphereWarning,
    UnknownComponentError,
)
from swansphere.registry import PROTOCOLS, check_protocol, protocol_members


def problems(registry: Registry) -> dict[str, list[str]]:
    """Plugin name -> the errors reported for it."""
    found: dict[str, list[str]] = {}
    for broken in registry.broken:
        found.setdefault(broken.provider.plugin, []).append(broken.error)
    return found


@attrs.frozen(kw_only=True)
class Empty:
    pass


class Zero:
    """The smallest Reward: a name and a call."""

    name = "zero"

    def __init__(self, config: Empty) -> None:
        self.config = config

    def __call__(self, audio, sample_rate, conditions):
        return audio.new_zeros(audio.shape[0])


# ---------------------------------------------------------------- discovery and attribution


def test_builtins_come_from_the_swansphere_distribution():
    registry = Registry(disabled=())
    providers = {p.plugin: p for p in registry.providers}
    assert {"codecs", "samplers", "backbones", "commands", "training_tasks",
            "bench_targets"} <= set(providers)
    assert all(p.distribution == "swansphere" and p.version == swansphere.__version__
               for p in providers.values())
    assert registry.broken == []
    assert {"generate", "train", "eval", "bench", "data", "spatial"} <= {
        item.name for item in registry.extensions("command")}
    assert {"codec", "svac", "pipeline", "odpo"} <= {
        item.name for item in registry.extensions("training_task")}


def test_third_party_plugin_is_discovered_and_attributed(with_plugins):
    with_plugins("example")
    registry = Registry(disabled=())
    item = registry.get("reward", "example-loudness")
    assert item.provider.distribution == "swansphere-example"
    assert item.provider.version == "1.2.3"
    assert item.provider.plugin == "example"
    assert item.kind is ComponentKind.REWARD


def test_entry_points_are_read_without_importing_them(with_plugins):
    with_plugins("example")
    registry = Registry(disabled=["example", "no-such-plugin"])
    assert registry.unmatched_disabled == ("no-such-plugin",)
    assert "swansphere_example" not in sys.modules


def test_third_party_component_is_built_by_name_from_config(with_plugins):
    import torch

    with_plugins("example")
    registry = Registry(disabled=())
    reward = registry.create("reward", {"type": "example-loudness", "target_db": -6.0})
    assert reward.config.target_db == -6.0 and reward.name == "example-loudness"
    quiet, loud = torch.full((1, 4, 100), 0.01), torch.full((1, 4, 100), 0.5)
    assert reward(loud, 16000, None).item() > reward(quiet, 16000, None).item()


def test_unknown_key_and_unknown_type_are_config_errors(with_plugins):
    with_plugins("example")
    registry = Registry(disabled=())
    with pytest.raises(ConfigError, match=r"unknown key reward\.target_dbb"):
        registry.create("reward", {"type": "example-loudness", "target_dbb": 1.0})
    with pytest.raises(UnknownComponentError, match="valid: example-loudness"):
        registry.create("reward", {"type": "no-such-reward"})
    with pytest.raises(ConfigError, match="missing 'type'"):
        registry.create("reward", {"target_db": 1.0})


# ---------------------------------------------------------------- what costs only itself


def test_a_taken_name_stays_with_its_first_provider(with_plugins):
    with_plugins("example", "clash")
    registry = Registry(disabled=())
    assert registry.get("reward", "example-loudness").provider.plugin == "example"
    assert registry.get("sampler", "euler").provider.distribution == "swansphere"
    assert registry.create("sampler", {"type": "euler", "steps": 2}).nfe() == 2
    [sampler, reward, command] = problems(registry)["clash"][:3]
    assert ("reward 'example-loudness' is already registered by swansphere-example 1.2.3 "
            "(plugin 'example')") in reward
    assert "sampler 'euler' is already registered by swansphere 0.1.0" in sampler
    assert "command 'generate' is already registered by swansphere" in command
    assert all(b.provider.distribution == "swansphere-rival" for b in registry.broken)


def test_a_taken_plugin_name_is_reported_and_never_imported(with_plugins):
    with_plugins("example", "faulty")
    registry = Registry(disabled=())
    assert registry.get("reward", "example-loudness").provider.distribution == (
        "swansphere-example")
    [shadowed] = [b for b in registry.broken if b.provider.plugin == "example"]
    assert shadowed.provider.distribution == "swansphere-faulty"
    assert "plugin name 'example' is already taken by swansphere-example 1.2.3" in (
        shadowed.error)
    assert "swansphere_faulty.shadow" not in sys.modules


def test_misspelt_unmarked_and_missing_hooks_are_reported(with_plugins):
    with_plugins("faulty")
    registry = Registry(disabled=())
    found = problems(registry)
    assert found["misspelt"] == [
        "swansphere_register_reward is not a swansphere hook (did you mean "
        "swansphere_register_rewards?); hooks are " + ", ".join(sorted(
            kind.hook_name for kind in [*ComponentKind, *ExtensionKind]))]
    assert registry.get("reward", "faulty-silent").provider.plugin == "misspelt"
    assert found["unmarked"] == ["swansphere_register_samplers is not marked with "
                                 "@swansphere.hookimpl, so it is never called"]
    assert found["empty"] == ["implements no swansphere hook: mark functions named "
                              "swansphere_register_<kind>s with @swansphere.hookimpl"]
    assert all(b.provider.distribution == "swansphere-faulty" and b.provider.version == "0.0.2"
               for b in registry.broken)


def test_a_malformed_record_or_a_raising_hook_costs_only_itself(with_plugins):
    with_plugins("faulty")
    registry = Registry(disabled=())
    assert {"faulty-good", "faulty-incomplete"} <= set(registry.names("sampler"))
    assert registry.create("sampler", {"type": "faulty-good"}).nfe() == 0
    errors = problems(registry)["records"]
    assert len(errors) == 4
    assert errors[0] == "swansphere_register_codecs raised RuntimeError: the codec hook fails"
    assert "yielded dict" in errors[1] and "not a swansphere.Component" in errors[1]
    assert "record name 'two words' must be non-empty, without whitespace" in errors[2]
    assert "sampler 'faulty-config': config_class must be an attrs class" in errors[3]
    assert "faulty-good" in registry.names("sampler")  # asking again reports nothing twice
    assert len(problems(registry)["records"]) == 4


def test_a_built_component_must_follow_its_protocol(with_plugins):
    with_plugins("faulty")
    registry = Registry(disabled=())
    with pytest.raises(PluginError, match=(
            r"sampler 'faulty-incomplete' from swansphere-faulty 0\.0\.2 \(plugin 'records'\) "
            r"built a NotASampler that is not a Sampler: it lacks nfe, sample")):
        registry.create("sampler", {"type": "faulty-incomplete"})


def test_every_component_kind_has_a_protocol_and_members_are_listed():
    assert set(PROTOCOLS) == set(ComponentKind)
    from swansphere.protocols import Reward, VideoConditioner

    assert protocol_members(Reward) == ["__call__", "name"]
    assert {"frame_rate", "step", "prepare", "modality"} <= set(
        protocol_members(VideoConditioner))


def test_a_video_conditioner_must_also_stream():
    registry = Registry(entry_points=False)

    class TextOnly:
        modality, dim = "video", 4

        def prepare(self, raw): ...
        def forward(self, prepared): ...
        def null(self, batch_size): ...

    @swansphere.hookimpl
    def swansphere_register_conditioners():
        yield Component(name="still", kind="conditioner", factory=lambda c: TextOnly(),
                        config_class=Empty, description="a video conditioner that cannot stream")

    registry.register(types.SimpleNamespace(
        swansphere_register_conditioners=swansphere_register_conditioners), "still")
    with pytest.raises(PluginError, match="not a VideoConditioner: it lacks frame_rate, "
                                          "init_state, lookahead, step"):
        registry.create("conditioner", {"type": "still"})
    item = registry.get("conditioner", "still")
    TextOnly.modality = "text"
    check_protocol(item, TextOnly())  # a text conditioner needs no streaming members


def test_broken_plugin_is_reported_and_skipped(with_plugins):
    with_plugins("example", "broken")
    registry = Registry(disabled=())
    assert "example-loudness" in registry.names("reward")
    [broken] = registry.broken
    assert broken.provider.distribution == "swansphere-broken"
    assert "ModuleNotFoundError" in broken.error
    assert "swansphere_dependency_that_is_not_installed" in broken.error


# ---------------------------------------------------------------- disabling


def test_disabled_plugin_is_never_imported(with_plugins):
    with_plugins("example", "clash")
    registry = Registry(disabled=["clash"])
    assert registry.get("reward", "example-loudness").provider.plugin == "example"
    assert [p.plugin for p in registry.skipped] == ["clash"]
    assert registry.broken == []
    assert "swansphere_clash" not in sys.modules


def test_disable_by_distribution_name_and_environment(with_plugins, monkeypatch):
    with_plugins("example", "clash")
    monkeypatch.setenv("SWANSPHERE_DISABLE_PLUGINS", "swansphere_Rival, unrelated")
    registry = Registry()
    with pytest.warns(SwanSphereWarning, match="'unrelated' match no installed plugin or "
                                               "distribution"):
        assert "example-loudness" in registry.names("reward")
    assert registry.unmatched_disabled == ("unrelated",)
    assert "swansphere_clash" not in sys.modules


# ---------------------------------------------------------------- registering by hand


def test_a_hook_that_yields_the_wrong_kind_costs_that_record():
    @swansphere.hookimpl
    def swansphere_register_samplers():
        yield Component(name="wrong", kind="codec", factory=lambda c: None, config_class=Empty,
                        description="registered through the wrong hook")
        yield Component(name="odd", kind="not-a-kind", factory=lambda c: None,
                        config_class=Empty, description="no such kind")

    registry = Registry(entry_points=False)
    registry.register(types.SimpleNamespace(
        swansphere_register_samplers=swansphere_register_samplers), "misfiled")
    assert registry.names("sampler") == [] and registry.names("codec") == []
    [wrong, odd] = problems(registry)["misfiled"]
    assert "register it through swansphere_register_codecs" in wrong
    assert "'not-a-kind'" in odd and "with a kind of codec, backbone" in odd


def test_programmatic_registration_without_entry_points():
    class Plugin:
        @swansphere.hookimpl
        def swansphere_register_rewards(self):
            return [Component(name="zero", kind=ComponentKind.REWARD, factory=Zero,
                              config_class=Empty, description="scores every clip 0")]

    registry = Registry(entry_points=False)
    registry.register(Plugin(), "inline")
    assert registry.create("reward", {"type": "zero"}).name == "zero"
    assert registry.get("reward", "zero").provider.distribution is None
    with pytest.raises(DuplicateComponentError,
                       match="a plugin named 'inline' is already registered"):
        registry.register(Plugin(), "inline")


def test_extensions_load_their_target_only_when_used():
    @swansphere.hookimpl
    def swansphere_register_training_tasks():
        yield Extension(name="later", kind="training_task",
                        target="swansphere_module_that_does_not_exist:TASK",
                        description="its module is imported only when used")
        yield Extension(name="bad-target", kind="training_task", target="no colon",
                        description="a malformed target")

    registry = Registry(entry_points=False)
    registry.register(types.SimpleNamespace(
        swansphere_register_training_tasks=swansphere_register_training_tasks), "lazy")
    [later] = registry.extensions(ExtensionKind.TRAINING_TASK)
    assert later.name == "later"
    assert "target 'no colon' must be \"package.module:attribute\"" in registry.broken[0].error
    with pytest.raises(PluginError, match="training task 'later' from plugin 'lazy': cannot "
                                          "load swansphere_module_that_does_not_exist:TASK"):
        later.load()
    with pytest.raises(UnknownComponentError, match="unknown training task 'nope'; valid: "
                                                    "later"):
        registry.extension("training_task", "nope")
    registry.extend("training_task", lambda task: None)
    assert "ModuleNotFoundError" in registry.broken[-1].error


# ---------------------------------------------------------------- the CLI


def test_cli_plugins_lists_components_broken_and_disabled(with_plugins, capsys):
    with_plugins("example", "broken", "clash")
    assert main(["--disable-plugins", "clash", "plugins", "--json"]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    [example] = [c for c in report["components"] if c["name"] == "example-loudness"]
    assert example == {"kind": "reward", "name": "example-loudness", "plugin": "example",
                       "distribution": "swansphere-example", "version": "1.2.3",
                       "description": example["description"]}
    assert example["description"]
    assert [b["distribution"] for b in report["broken"]] == ["swansphere-broken"]
    assert [d["plugin"] for d in report["disabled"]] == ["clash"]
    assert "1 plugin problem(s)" in captured.err
    assert main(["--disable-plugins", "clash", "plugins"]) == 2
    text = capsys.readouterr().out
    assert "example-loudness" in text and "swansphere-example 1.2.3" in text
    assert "broken plugin 'broken' from swansphere-broken 0.0.1: ModuleNotFoundError" in text


def test_cli_plugins_exits_zero_when_nothing_is_broken(with_plugins, capsys):
    with_plugins("example")
    assert main(["plugins"]) == 0
    assert capsys.readouterr().err == ""


def test_a_clash_breaks_no_command(with_plugins, capsys, tmp_path):
    with_plugins("example", "clash")
    assert main(["plugins", "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    errors = [b["error"] for b in report["broken"]]
    assert len(errors) == 4 and all(b["plugin"] == "clash" for b in report["broken"])
    assert "command 'clash-spatial': ArgumentError" in errors[3]
    assert "conflicting subparser: spatial" in errors[3]
    out = tmp_path / "tone.wav"
    assert main(["spatial", "encode", "--source", "sine", "--duration", "0.1", "--azimuth",
                 "90", "-o", str(out)]) == 0
    assert out.is_file()


def test_cli_warns_about_disabled_names_that_match_nothing(with_plugins, capsys):
    with_plugins("example")
    assert main(["--disable-plugins", "exmaple", "plugins"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("swansphere: warning: disabled plugin name(s) 'exmaple' match no "
                          "installed plugin or distribution (installed: ")
    assert "swansphere-example" in err and len(err.strip().splitlines()) == 1


def test_console_script_in_a_subprocess(installed_plugins):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        str(installed_plugins[name]) for name in ("example", "broken")),
        "SWANSPHERE_DISABLE_PLUGINS": ""}
    result = subprocess.run([sys.executable, "-m", "swansphere.cli", "plugins", "--json"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert any(c["name"] == "example-loudness" for c in report["components"])
    assert report["broken"][0]["plugin"] == "broken"
