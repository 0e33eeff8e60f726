"""Codec weights on disk: safetensors plus a TOML config, strict loading, atomic writes.

A pretrained codec directory holds ``config.toml`` (the ``{type = ..., ...}`` table that
rebuilds the codec through the registry) and ``model.safetensors`` (its state dict). Loading
checks every key and shape and says exactly what does not fit; nothing is ever unpickled.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from swansphere.config import dumps_toml
from swansphere.errors import ConfigError, ResourceNotFoundError, SwanSphereError
from swansphere.fileio import atomic_file

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.toml"
_SHOWN = 5


class WeightsError(SwanSphereError, ValueError):
    """A weights file is unreadable or does not match the model it is loaded into."""


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temp)`` on a temporary file beside ``path``, then rename it into place
    (:func:`swansphere.fileio.atomic_file`): never a partial file at ``path``."""
    with atomic_file(path) as temporary:
        write(temporary)
    return Path(path)


def save_tensors(tensors: Mapping[str, torch.Tensor], path: str | Path,
                 metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` as safetensors, atomically (contiguous CPU copies)."""
    plain = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    return atomic_write(path, lambda temp: save_file(plain, str(temp), dict(metadata or {})))


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file; missing or corrupt files raise clear errors."""
    path = Path(path)
    if not path.is_file():
        raise ResourceNotFoundError(f"weights file {path} does not exist")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{path} is not a readable safetensors file ({error}); "
                           "write it again with save_pretrained") from None


def save_weights(module: nn.Module, path: str | Path) -> Path:
    """Write ``module.state_dict()`` to ``path`` as safetensors, atomically."""
    return save_tensors(module.state_dict(), path, {"format": "pt"})


def check_saved_config(config: Any) -> None:
    """Refuse ``config.weights`` saved with another config: where a ``config.toml`` sits beside
    them (a codec directory), every field it names must equal ``config``'s (``weights``
    aside). Statistics fitted with ``low_band = "power"`` read as waveform coefficients, say,
    would load without a shape error and decode noise."""
    from swansphere.config import unstructure

    path = Path(config.weights)
    saved = (path if path.is_dir() else path.parent) / CONFIG_FILE
    if not saved.is_file():
        return
    names, fields = attrs.fields_dict(type(config)), unstructure(config)
    for key, value in _read_table(saved).items():
        if key != "weights" and key in names and fields.get(key) != value:
            raise WeightsError(f"{path} was saved with {key} = {value!r} but the config says "
                               f"{fields.get(key)!r}; make them equal")


def _read_table(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load a safetensors state dict into ``module``; keys and shapes must match exactly.

    ``path`` may be the file or a directory holding ``model.safetensors``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS_FILE
    tensors = load_tensors(path)
    expected = module.state_dict()
    problems = _mismatches(expected, tensors)
    if problems:
        raise WeightsError(f"{path} does not fit {type(module).__name__}: {'; '.join(problems)}"
                           " (was it saved from a model with the same config?)")
    module.load_state_dict(tensors, strict=True)


def _mismatches(expected: Mapping[str, torch.Tensor],
                found: Mapping[str, torch.Tensor]) -> list[str]:
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [f"{k} {tuple(found[k].shape)} != {tuple(expected[k].shape)}"
              for k in sorted(set(expected) & set(found)) if found[k].shape != expected[k].shape]
    for label, names in (("missing keys", missing), ("unexpected keys", unexpected),
                         ("shape mismatches", shapes)):
        if names:
            more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
            problems.append(f"{len(names)} {label}: {', '.join(names[:_SHOWN])}{more}")
    return problems


def save_codec(codec: Any, directory: str | Path, spec: Any = None) -> Path:
    """Write a codec's ``config.toml`` and, when it has state, ``model.safetensors``.

    ``spec`` is the ``{type = ..., ...}`` spec the codec was built from (default: the
    codec's own ``spec``, which the built-in codecs have).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    spec = codec.spec if spec is None else spec
    if attrs.has(type(spec.config)) and "weights" in attrs.fields_dict(type(spec.config)):
        spec = attrs.evolve(spec, config=attrs.evolve(spec.config, weights=None))
    text = dumps_toml(spec)
    atomic_write(directory / CONFIG_FILE, lambda temp: temp.write_text(text, encoding="utf-8"))
    if isinstance(codec, nn.Module) and codec.state_dict():
        save_weights(codec, directory / WEIGHTS_FILE)
    return directory


def load_codec(directory: str | Path, *, registry: Any = None) -> Any:
    """Build the codec described by ``directory/config.toml`` and load its weights."""
    from swansphere.registry import default_registry

    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise ResourceNotFoundError(f"{directory} holds no {CONFIG_FILE}; "
                                    "is it a directory written by save_pretrained?")
    table = _read_table(config_path)
    codec = (registry or default_registry()).create("codec", table)
    weights = directory / WEIGHTS_FILE
    has_state = isinstance(codec, nn.Module) and bool(codec.state_dict())
    if has_state:
        load_weights(codec, weights)
    elif weights.exists():
        raise WeightsError(f"{weights} exists but the {table.get('type')!r} codec has no "
                           "weights to load")
    return codec
