"""Training checkpoints: whole directories written atomically, resumable exactly.

A checkpoint directory ``<output>/checkpoints/step-00000500/`` holds:

- the model as its own pretrained directory (``config.toml`` + ``model.safetensors``), so a
  checkpoint loads anywhere a pretrained model does;
- ``optimizer.safetensors``: every tensor of the optimizer state;
- ``trainer_state.json``: step counter, optimizer hyper-parameters and scalars, the torch RNG
  state, and whatever small extras the trainer adds;
- ``train.toml``: the training config that produced it.

Everything is first written into a hidden temporary directory next to the target, which is
then renamed into place (``os.replace``): a crash leaves either no checkpoint or a complete
one, never a half-written file. Nothing is pickled.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from swansphere.codecs.weights import load_tensors, save_tensors
from swansphere.errors import ResourceNotFoundError, SwanSphereError
from swansphere.fileio import atomic_directory

OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "trainer_state.json"
CONFIG_FILE = "train.toml"
CHECKPOINTS = "checkpoints"
FORMAT_VERSION = 1
_STEP_DIR = re.compile(r"^step-(\d+)$")


class CheckpointError(SwanSphereError, ValueError):
    """A checkpoint is missing, incomplete or does not fit the run that loads it."""


def write_directory_atomically(directory: str | Path, write: Callable[[Path], None]) -> Path:
    """Let ``write(temp_dir)`` fill a fresh directory, then move it to ``directory`` at once
    (:func:`swansphere.fileio.atomic_directory`): an existing one is replaced only when the new
    one is complete."""
    with atomic_directory(directory) as temporary:
        write(temporary)
    return Path(directory)


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into tensors (safetensors) and plain data (JSON)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{name}"] = value
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor],
                         plain: Mapping[str, Any]) -> None:
    """Inverse of :func:`optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for key, value in plain["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    groups = [{**group, "betas": tuple(group["betas"])} if "betas" in group else group
              for group in plain["param_groups"]]
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as error:
        raise CheckpointError(f"optimizer state does not fit this model: {error}") from None


def save_checkpoint(directory: str | Path, *, step: int, save_model: Callable[[Path], Any],
                    optimizer: torch.optim.Optimizer, config_text: str,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Write one complete checkpoint directory atomically (see the module doc)."""
    tensors, plain = optimizer_state(optimizer)
    trainer_state = {"format_version": FORMAT_VERSION, "step": step, "optimizer": plain,
                     "torch_rng": base64.b64encode(torch.get_rng_state().numpy().tobytes())
                     .decode("ascii"), "extra": dict(extra or {})}

    def write(temp: Path) -> None:
        save_model(temp)
        save_tensors(tensors, temp / OPTIMIZER_FILE)
        (temp / STATE_FILE).write_text(json.dumps(trainer_state, indent=1), encoding="utf-8")
        (temp / CONFIG_FILE).write_text(config_text, encoding="utf-8")

    return write_directory_atomically(directory, write)


def load_checkpoint(directory: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore the optimizer and the torch RNG; returns the trainer state (``step``, ``extra``).

    The model is loaded by the caller, from the same directory, as a pretrained model.
    """
    directory = Path(directory)
    state_path = directory / STATE_FILE
    if not state_path.is_file():
        raise CheckpointError(f"{directory} is not a complete checkpoint (no {STATE_FILE})")
    state = json.loads(state_path.read_text(encoding="utf-8"))
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{directory} has checkpoint format {state.get('format_version')}"
                              f", this version reads {FORMAT_VERSION}")
    load_optimizer_state(optimizer, load_tensors(directory / OPTIMIZER_FILE), state["optimizer"])
    rng = torch.frombuffer(bytearray(base64.b64decode(state["torch_rng"])), dtype=torch.uint8)
    torch.set_rng_state(rng)
    return state


def step_directory(output_dir: str | Path, step: int) -> Path:
    return Path(output_dir) / CHECKPOINTS / f"step-{step:08d}"


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``output_dir`` as (step, path), oldest first."""
    root = Path(output_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in root.iterdir()
             if (match := _STEP_DIR.match(path.name)) and (path / STATE_FILE).is_file()]
    return sorted(found)


def resolve_checkpoint(path: str | Path) -> Path:
    """``path`` itself if it is a checkpoint, else the newest checkpoint of a run directory."""
    path = Path(path)
    if (path / STATE_FILE).is_file():
        return path
    found = list_checkpoints(path)
    if not found:
        raise ResourceNotFoundError(f"no checkpoint in {path}; pass a step-* directory or a run "
                                    "directory that has checkpoints/")
    return found[-1][1]


def prune_checkpoints(output_dir: str | Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints (``keep = 0`` keeps everything)."""
    if keep <= 0:
        return
    for _, path in list_checkpoints(output_dir)[:-keep]:
        shutil.rmtree(path)
