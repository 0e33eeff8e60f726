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
import struct
import tomllib
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from swansphere.codecs.weights import load_tensors, save_tensors
from swansphere.errors import ResourceNotFoundError, SwanSphereError, SwanSphereWarning
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
    problem = checkpoint_problem(directory)
    if problem:
        raise CheckpointError(f"{directory} is not a usable checkpoint: {problem}; resume from "
                              "its run directory to fall back to an older one")
    state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
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
    """``path`` itself if it is a checkpoint, else the newest valid checkpoint of a run
    directory: a newer one that is damaged (a torn file, a disk that filled up) is skipped
    with a :class:`~swansphere.errors.SwanSphereWarning`."""
    path = Path(path)
    if (path / STATE_FILE).is_file():
        problem = checkpoint_problem(path)
        if problem:
            raise CheckpointError(f"{path} is not a usable checkpoint: {problem}; resume from "
                                  "its run directory to fall back to an older one")
        return path
    found = list_checkpoints(path)
    if not found:
        raise ResourceNotFoundError(f"no checkpoint in {path}; pass a step-* directory or a run "
                                    "directory that has checkpoints/")
    for _, candidate in reversed(found):
        problem = checkpoint_problem(candidate)
        if problem is None:
            return candidate
        warnings.warn(f"skipping damaged checkpoint {candidate.name}: {problem}",
                      SwanSphereWarning, stacklevel=2)
    raise CheckpointError(f"every checkpoint in {path / CHECKPOINTS} is damaged; start afresh "
                          "with --overwrite")


def checkpoint_problem(directory: str | Path) -> str | None:
    """Why ``directory`` is not a whole checkpoint, or None: its state must parse, every
    safetensors file must have a sound header and exactly the bytes it announces, every TOML
    file must parse. Cheap: no tensor is read."""
    directory = Path(directory)
    try:
        state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"{STATE_FILE} is unreadable ({type(error).__name__})"
    if not isinstance(state, dict) or not isinstance(state.get("step"), int) \
            or not isinstance(state.get("torch_rng"), str) or "optimizer" not in state:
        return f"{STATE_FILE} is incomplete"
    if state.get("format_version") != FORMAT_VERSION:
        return (f"checkpoint format {state.get('format_version')}, this version reads "
                f"{FORMAT_VERSION}")
    if not (directory / OPTIMIZER_FILE).is_file():
        return f"{OPTIMIZER_FILE} is missing"
    for file in sorted(directory.rglob("*.safetensors")):
        problem = _safetensors_problem(file)
        if problem:
            return f"{file.relative_to(directory)} {problem}"
    for file in sorted(directory.rglob("*.toml")):
        try:
            tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return f"{file.relative_to(directory)} is not readable TOML"
    return None


def _safetensors_problem(path: Path) -> str | None:
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            (length,) = struct.unpack("<Q", stream.read(8))
            if length > size - 8:
                return "is truncated (header)"
            header = json.loads(stream.read(length))
    except (OSError, ValueError, struct.error):
        return "has no readable header"
    if not isinstance(header, dict):
        return "has no readable header"
    ends = [entry["data_offsets"][1] for key, entry in header.items()
            if key != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry]
    if 8 + length + max(ends, default=0) != size:
        return "is truncated or padded (its size does not match its header)"
    return None


def prune_checkpoints(output_dir: str | Path, keep: int, keep_every: int = 0) -> None:
    """Delete all but the ``keep`` newest checkpoints (``keep = 0`` keeps everything) and
    those at multiples of ``keep_every`` steps (the milestones of a learning curve)."""
    if keep <= 0:
        return
    for step, path in list_checkpoints(output_dir)[:-keep]:
        if not (keep_every and step % keep_every == 0):
            shutil.rmtree(path)
