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
from swansphere import Component, ComponentKind, Registry
from swansphere.cli import main
from swansphere.errors import ConfigError, DuplicateComponentError, UnknownComponentError


def test_builtins_come_from_the_swansphere_distribution():
    registry = Registry(disabled=())
    providers = {p.plugin: p for p in registry.providers}
    assert {"codecs", "samplers", "backbones"} <= set(providers)
    assert all(p.distribution == "swansphere" for p in providers.values())
    for item in registry.components():
        assert item.provider.distribution == "swansphere"
    assert registry.broken == []


def test_third_party_plugin_is_discovered_and_attributed(with_plugins):
    with_plugins("example")
    registry = Registry(disabled=())
    item = registry.get("reward", "example-loudness")
    assert item.provider.distribution == "swansphere-example"
    assert item.provider.version == "1.2.3"
    assert item.provider.plugin == "example"
    assert item.kind is ComponentKind.REWARD


def test_third_party_component_is_built_by_name_from_config(with_plugins):
    import torch

    with_plugins("example")
    registry = Registry(disabled=())
    reward = registry.create("reward", {"type": "example-loudness", "target_db": -6.0})
    assert reward.config.target_db == -6.0
    quiet, loud = torch.full((1, 4, 100), 0.01), torch.full((1, 4, 100), 0.5)
    assert reward(loud, 16000).item() > reward(quiet, 16000).item()


def test_unknown_key_and_unknown_type_are_config_errors(with_plugins):
    with_plugins("example")
    registry = Registry(disabled=())
    with pytest.raises(ConfigError, match=r"unknown key reward\.target_dbb"):
        registry.create("reward", {"type": "example-loudness", "target_dbb": 1.0})
    with pytest.raises(UnknownComponentError, match="valid: example-loudness"):
        registry.create("reward", {"type": "no-such-reward"})
    with pytest.raises(ConfigError, match="missing 'type'"):
        registry.create("reward", {"target_db": 1.0})


def test_duplicate_names_fail_naming_both_distributions(with_plugins):
    with_plugins("example", "clash")
    registry = Registry(disabled=())
    with pytest.raises(DuplicateComponentError) as caught:
        registry.components()
    message = str(caught.value)
    assert "swansphere-example 1.2.3" in message and "swansphere-clash 0.0.1" in message
    assert "example-loudness" in message


def test_disabled_plugin_is_never_imported(with_plugins):
    with_plugins("example", "clash")
    registry = Registry(disabled=["clash"])
    assert registry.get("reward", "example-loudness").provider.plugin == "example"
    assert [p.plugin for p in registry.skipped] == ["clash"]
    assert "swansphere_clash" not in sys.modules


def test_disable_by_distribution_name_and_environment(with_plugins, monkeypatch):
    with_plugins("example", "clash")
    monkeypatch.setenv("SWANSPHERE_DISABLE_PLUGINS", "swansphere-clash, unrelated")
    registry = Registry()
    assert "example-loudness" in registry.names("reward")
    assert "swansphere_clash" not in sys.modules


def test_broken_plugin_is_reported_and_skipped(with_plugins):
    with_plugins("example", "broken")
    registry = Registry(disabled=())
    assert "example-loudness" in registry.names("reward")
    [broken] = registry.broken
    assert broken.provider.distribution == "swansphere-broken"
    assert "ModuleNotFoundError" in broken.error
    assert "swansphere_dependency_that_is_not_installed" in broken.error


def test_a_hook_that_raises_or_yields_the_wrong_kind_marks_its_plugin_broken():
    @attrs.frozen(kw_only=True)
    class Empty:
        pass

    plugin = types.SimpleNamespace()

    @swansphere.hookimpl
    def swansphere_register_samplers():
        yield Component(name="wrong", kind="codec", factory=lambda c: None, config_class=Empty,
                        description="registered through the wrong hook")

    plugin.swansphere_register_samplers = swansphere_register_samplers
    registry = Registry(entry_points=False)
    registry.register(plugin, "misfiled")
    assert registry.names("sampler") == [] and registry.names("codec") == []
    [broken] = registry.broken
    assert broken.provider.plugin == "misfiled" and "register it through its own hook" in (
        broken.error)


def test_programmatic_registration_without_entry_points():
    @attrs.frozen(kw_only=True)
    class GainConfig:
        gain: float = 1.0

    class Plugin:
        @swansphere.hookimpl
        def swansphere_register_rewards(self):
            return [Component(name="gain", kind=ComponentKind.REWARD, factory=lambda c: c.gain,
                              config_class=GainConfig, description="returns its gain")]

    registry = Registry(entry_points=False)
    registry.register(Plugin(), "inline")
    assert registry.create("reward", {"type": "gain", "gain": 2.5}) == 2.5
    assert registry.get("reward", "gain").provider.distribution is None


def test_records_validate_their_fields():
    with pytest.raises(ValueError, match="no whitespace"):
        Component(name="two words", kind="codec", factory=print, config_class=type(
            "X", (), {}), description="")
    with pytest.raises(ValueError):
        Component(name="ok", kind="not-a-kind", factory=print, config_class=object,
                  description="")


def test_cli_plugins_lists_components_broken_and_disabled(with_plugins, capsys):
    with_plugins("example", "broken", "clash")
    assert main(["--disable-plugins", "clash", "plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [example] = [c for c in report["components"] if c["name"] == "example-loudness"]
    assert example == {"kind": "reward", "name": "example-loudness", "plugin": "example",
                       "distribution": "swansphere-example", "version": "1.2.3",
                       "description": example["description"]}
    assert example["description"]
    assert [b["distribution"] for b in report["broken"]] == ["swansphere-broken"]
    assert [d["plugin"] for d in report["disabled"]] == ["clash"]
    assert main(["--disable-plugins", "clash", "plugins"]) == 0
    text = capsys.readouterr().out
    assert "example-loudness" in text and "swansphere-example 1.2.3" in text
    assert "broken plugin 'broken' from swansphere-broken" in text


def test_cli_duplicate_is_one_line_error(with_plugins, capsys):
    with_plugins("example", "clash")
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("swansphere: error: reward 'example-loudness' is registered twice")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_console_script_in_a_subprocess(installed_plugins):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        str(installed_plugins[name]) for name in ("example", "broken")),
        "SWANSPHERE_DISABLE_PLUGINS": ""}
    result = subprocess.run([sys.executable, "-m", "swansphere.cli", "plugins", "--json"],
                            capture_output=True, text=True, env=env, check=True)
    report = json.loads(result.stdout)
    assert any(c["name"] == "example-loudness" for c in report["components"])
    assert report["broken"][0]["plugin"] == "broken"
