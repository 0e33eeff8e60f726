"""Configs: frozen attrs classes, tagged component unions, TOML round trips, dotted errors."""

from __future__ import annotations

import enum

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import swansphere
from swansphere import Component, Registry
from swansphere.config import (
    RewardSpec,
    dump_toml,
    dumps_toml,
    load_toml,
    loads_toml,
    structure,
    unstructure,
)
from swansphere.errors import ConfigError, UnknownComponentError


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


@attrs.frozen(kw_only=True)
class ScaleConfig:
    factor: float = 1.0
    axes: tuple[int, ...] = (0, 1)


@attrs.frozen(kw_only=True)
class Optimiser:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.99)


@attrs.frozen(kw_only=True)
class Experiment:
    name: str
    steps: int = 10
    mode: Mode = Mode.FAST
    seed: int | None = None
    reward: RewardSpec
    optimiser: Optimiser = Optimiser()
    extra_rewards: tuple[RewardSpec, ...] = ()


@attrs.frozen
class TaggedReward:
    """A Reward that remembers the config it was built from."""

    name: str
    config: object

    def __call__(self, audio, sample_rate, conditions):
        return audio.new_zeros(audio.shape[0])


class ScalePlugin:
    @swansphere.hookimpl
    def swansphere_register_rewards(self):
        return [
            Component(name="scale", kind="reward", factory=lambda c: TaggedReward("scale", c),
                      config_class=ScaleConfig, description="scales"),
            Component(name="other", kind="reward", factory=lambda c: TaggedReward("other", c),
                      config_class=Optimiser, description="another config class"),
        ]


@pytest.fixture
def registry():
    registry = Registry(entry_points=False)
    registry.register(ScalePlugin(), "scale-plugin")
    return registry


TEXT = """
name = "run"
steps = 5
mode = "slow"

[reward]
type = "scale"
factor = 2.5
axes = [1, 2, 3]

[[extra_rewards]]
type = "other"
lr = 0.5
"""


def test_tagged_unions_structure_into_the_registered_config_class(registry):
    config = loads_toml(TEXT, Experiment, registry=registry)
    assert config.reward.type == "scale"
    assert config.reward.config == ScaleConfig(factor=2.5, axes=(1, 2, 3))
    assert config.extra_rewards[0].config == Optimiser(lr=0.5)
    assert config.mode is Mode.SLOW and config.seed is None
    assert registry.create("reward", config.reward) == TaggedReward("scale",
                                                                    config.reward.config)


def test_toml_round_trip_is_unchanged(registry, tmp_path):
    config = loads_toml(TEXT, Experiment, registry=registry)
    path = tmp_path / "experiment.toml"
    dump_toml(config, path, registry=registry)
    again = load_toml(path, Experiment, registry=registry)
    assert again == config
    assert dumps_toml(again, registry=registry) == path.read_text()


def test_configs_are_frozen_and_keyword_only(registry):
    config = loads_toml(TEXT, Experiment, registry=registry)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.steps = 3
    with pytest.raises(TypeError):
        ScaleConfig(2.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "reward": {"type": "scale", "factr": 1}}, r"unknown key reward\.factr"),
        ({"name": "x", "reward": {"type": "scale"}, "optimiser": {"lrr": 1}},
         r"unknown key optimiser\.lrr"),
        ({"name": "x", "reward": {"type": "scale"}, "typo": 1}, r"unknown key typo"),
        ({"name": "x", "reward": {"type": "scale"},
          "extra_rewards": [{"type": "other"}, {"type": "other", "bad": 1}]},
         r"unknown key extra_rewards\.1\.bad"),
        ({"reward": {"type": "scale"}}, r"missing required key name"),
        ({"name": "x", "reward": {"type": "scale", "factor": "big"}},
         r"reward\.factor: expected float, got str .big."),
        ({"name": "x", "reward": {"factor": 1.0}}, r"reward: missing 'type' \(one of: other, "
                                                    r"scale\)"),
        ({"name": "x", "steps": 2.5, "reward": {"type": "scale"}},
         r"steps: expected int, got float 2\.5"),
        ({"name": "x", "steps": True, "reward": {"type": "scale"}},
         r"steps: expected int, got bool True"),
        ({"name": 3, "reward": {"type": "scale"}}, r"name: expected str, got int 3"),
    ],
)
def test_errors_name_their_dotted_path(registry, data, message):
    with pytest.raises(ConfigError, match=message):
        structure(data, Experiment, registry=registry)


def test_unknown_type_lists_valid_names(registry):
    with pytest.raises(UnknownComponentError) as caught:
        structure({"name": "x", "reward": {"type": "scael"}}, Experiment, registry=registry)
    assert str(caught.value) == "reward: unknown reward type 'scael'; valid: other, scale"


def test_invalid_toml_and_missing_file_are_config_errors(registry, tmp_path):
    with pytest.raises(ConfigError, match="invalid TOML"):
        loads_toml("name = ", Experiment, registry=registry)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_toml(tmp_path / "absent.toml", Experiment, registry=registry)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(
    name=st.text(min_size=1, max_size=12),
    steps=st.integers(-(2**62), 2**62),
    seed=st.none() | st.integers(0, 2**31),
    mode=st.sampled_from(Mode),
    factor=finite,
    axes=st.lists(st.integers(-5, 5), max_size=4).map(tuple),
    betas=st.tuples(finite, finite),
)
def test_any_config_round_trips_through_toml(name, steps, seed, mode, factor, axes, betas):
    registry = Registry(entry_points=False)
    registry.register(ScalePlugin(), "scale-plugin")
    config = Experiment(name=name, steps=steps, seed=seed, mode=mode,
                        reward=RewardSpec(type="scale", config=ScaleConfig(factor=factor,
                                                                           axes=axes)),
                        optimiser=Optimiser(betas=betas))
    assert loads_toml(dumps_toml(config, registry=registry), Experiment,
                      registry=registry) == config
    assert "seed" not in unstructure(config, registry=registry) or seed is not None


def test_create_uses_the_default_registry(monkeypatch):
    from swansphere import registry as registry_module

    registry = Registry(entry_points=False)
    registry.register(ScalePlugin(), "scale-plugin")
    monkeypatch.setattr(registry_module, "_default", registry)
    assert swansphere.create("reward", {"type": "scale", "factor": 3.0}) == TaggedReward(
        "scale", ScaleConfig(factor=3.0))


def _at_least_one(_instance, attribute, value):
    if value < 1:
        raise ConfigError(f"sampler: {attribute.name} must be >= 1, got {value}")


@attrs.frozen(kw_only=True)
class CheckedConfig:
    steps: int = attrs.field(default=1, validator=_at_least_one)
    grid: str = attrs.field(default="uniform", validator=attrs.validators.in_(("uniform",)))


def checked_registry() -> Registry:
    class Plugin:
        @swansphere.hookimpl
        def swansphere_register_samplers(self):
            return [Component(name="checked", kind="sampler", factory=lambda c: c,
                              config_class=CheckedConfig, description="validates")]

    registry = Registry(entry_points=False)
    registry.register(Plugin(), "checked")
    return registry


def test_a_validator_that_names_its_table_is_not_prefixed_twice():
    with pytest.raises(ConfigError) as caught:
        checked_registry().create("sampler", {"type": "checked", "steps": 0})
    assert str(caught.value) == "sampler: steps must be >= 1, got 0"


def test_attrs_validator_messages_read_as_one_line():
    with pytest.raises(ConfigError) as caught:
        checked_registry().create("sampler", {"type": "checked", "grid": "cosine"})
    assert str(caught.value) == ("invalid value for sampler: 'grid' must be in ('uniform',) "
                                 "(got 'cosine')")
