"""Samplers built from config through the registry: names, costs, errors, TOML round trip."""

from __future__ import annotations

import subprocess
import sys

import attrs
import pytest
import torch

import swansphere
from swansphere import ConfigError
from swansphere.config import SamplerSpec, dumps_toml, loads_toml
from swansphere.protocols import Sampler
from swansphere.samplers import SamplingError

# (config, nfe with the default 20 steps)
COSTS = [
    ({"type": "euler"}, 20),
    ({"type": "heun"}, 40),
    ({"type": "midpoint"}, 40),
    ({"type": "rk4"}, 80),
    ({"type": "adams_bashforth"}, 21),
    ({"type": "adams_bashforth", "order": 2}, 20),
    ({"type": "euler_maruyama"}, 20),
    ({"type": "euler", "start": 0.5}, 21),
    ({"type": "rk4", "steps": 5, "start": 0.1}, 21),
]


def test_every_builtin_is_registered() -> None:
    names = swansphere.default_registry().names("sampler")
    assert {"euler", "heun", "midpoint", "rk4", "adams_bashforth", "euler_maruyama"} <= set(names)


@pytest.mark.parametrize(("config", "nfe"), COSTS)
def test_nfe_of_the_default_call(config: dict, nfe: int) -> None:
    sampler = swansphere.create("sampler", config)
    assert isinstance(sampler, Sampler)
    assert sampler.nfe() == nfe


def test_paper_default_is_twenty_cosine_steps() -> None:
    sampler = swansphere.create("sampler", {"type": "euler"})
    assert (sampler.config.steps, sampler.config.grid, sampler.config.start) == (20, "cosine", 0)


def test_samplers_are_immutable() -> None:
    sampler = swansphere.create("sampler", {"type": "heun"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        sampler.config = None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        sampler.config.steps = 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "heun", "steps": 0}, "steps must be an integer >= 1"),
        ({"type": "heun", "grid": "karras"}, "unknown grid 'karras'"),
        ({"type": "heun", "shift": 2.0}, "shift applies only to grid = 'shifted'"),
        ({"type": "heun", "grid": "shifted", "shift": -1.0}, "shift must be a finite number > 0"),
        ({"type": "rk4", "start": 1.0}, "start must lie in"),
        ({"type": "adams_bashforth", "order": 4}, "order must be 2 or 3"),
        ({"type": "euler_maruyama", "noise_scale": -0.5}, "noise_scale must be a finite number"),
        ({"type": "euler", "stepz": 3}, "unknown key sampler.stepz"),
        ({"type": "dpm"}, "unknown sampler type 'dpm'"),
    ],
)
def test_bad_configs_are_one_line_config_errors(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        swansphere.create("sampler", config)
    assert "\n" not in str(caught.value)


@attrs.frozen(kw_only=True)
class _Settings:
    sampler: SamplerSpec


@pytest.mark.parametrize("table", [
    '{type = "heun", steps = 20, grid = "cosine"}',
    '{type = "adams_bashforth", order = 3, grid = "shifted", shift = 2.5, start = 0.1}',
    '{type = "euler_maruyama", noise_scale = 0.5, grid = "uniform"}',
])
def test_toml_round_trip(table: str) -> None:
    loaded = loads_toml(f"sampler = {table}", _Settings)
    assert loads_toml(dumps_toml(loaded), _Settings) == loaded
    sampler = swansphere.create("sampler", loaded.sampler)
    assert sampler.config == loaded.sampler.config


def test_bad_call_arguments_are_sampling_errors() -> None:
    sampler = swansphere.create("sampler", {"type": "euler"})
    field = lambda x, t: -x  # noqa: E731
    with pytest.raises(SamplingError, match="steps must be an integer >= 1"):
        sampler.sample(field, torch.zeros(2, 3), 0)
    with pytest.raises(SamplingError, match="floating-point tensor"):
        sampler.sample(field, torch.zeros(2, 3, dtype=torch.long), 4)
    with pytest.raises(SamplingError, match="non-empty batch dimension"):
        sampler.sample(field, torch.zeros(()), 4)
    with pytest.raises(SamplingError, match="must return a tensor shaped like x"):
        sampler.sample(lambda x, t: x[:, :1], torch.zeros(2, 3), 4)


def test_stochastic_sampler_needs_a_generator() -> None:
    sampler = swansphere.create("sampler", {"type": "euler_maruyama"})
    with pytest.raises(SamplingError, match="pass generator="):
        sampler.sample(lambda x, t: -x, torch.zeros(2, 3))


def test_velocity_output_dtype_is_cast_to_the_noise_dtype() -> None:
    sampler = swansphere.create("sampler", {"type": "heun", "steps": 3})
    out = sampler.sample(lambda x, t: torch.ones(x.shape, dtype=torch.float64),
                         torch.zeros(2, 3, dtype=torch.float32))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.ones(2, 3))


def test_plugin_module_does_not_import_torch() -> None:
    code = ("import sys, swansphere.plugins.samplers as p; p.swansphere_register_samplers(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
