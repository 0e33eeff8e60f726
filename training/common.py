"""Pieces every trainer shares: run and optimizer configs, the LR schedule, per-step seeds.

Training is reproducible by construction: every step draws its randomness from a generator
seeded by ``(run seed, step)`` (:func:`step_generator`), so a resumed run needs no hidden RNG
state to continue exactly where an uninterrupted run would be.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from swansphere.errors import ConfigError


def _positive(_instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise ConfigError(f"{attribute.name} must be >= 1, got {value}")


def _non_negative(_instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 0:
        raise ConfigError(f"{attribute.name} must be >= 0, got {value}")


def _seed(_instance: object, attribute: attrs.Attribute, value: int) -> None:
    if not 0 <= value < 2**63:
        raise ConfigError(f"{attribute.name} must lie in [0, 2**63), got {value}")


MAX_LEARNING_RATE = 10.0
"""Above this an AdamW step is meaningless (and float32 overflows long before 1e38)."""


def _learning_rate(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and 0 < value <= MAX_LEARNING_RATE):
        raise ConfigError(f"{attribute.name} must lie in (0, {MAX_LEARNING_RATE:g}], got "
                          f"{value}")


def _device(_instance: object, attribute: attrs.Attribute, value: str) -> None:
    try:
        torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"{attribute.name} {value!r} is not a device; use \"cpu\", \"cuda\" "
                          "or \"cuda:N\"") from None


PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}
"""``run.precision`` names: the dtype the forward pass computes in (weights stay float32)."""


def _precision(_instance: object, attribute: attrs.Attribute, value: str) -> None:
    if value not in PRECISIONS:
        raise ConfigError(f"{attribute.name} must be one of {sorted(PRECISIONS)}, got {value!r}")


def task_named(name: str) -> Callable[[Any, attrs.Attribute, str], None]:
    """attrs validator for a training config's ``task`` key: it must be ``name``."""

    def check(_instance: Any, _attribute: attrs.Attribute, value: str) -> None:
        if value != name:
            raise ConfigError(f"task must be \"{name}\" for this config class, got {value!r}")

    return check


@attrs.frozen(kw_only=True)
class RunConfig:
    """How long and where a run goes.

    Attributes:
        steps: optimizer steps in total (a resumed run continues up to this).
        batch_size: examples per step.
        seed: seeds the model initialisation and every step's randomness.
        output_dir: checkpoints, logs and the final model go here.
        checkpoint_every: steps between checkpoints (the last step always gets one).
        validate_every: steps between validations (the last step always gets one).
        keep_checkpoints: how many of the newest checkpoints to keep (0 keeps all).
        keep_every: checkpoints at multiples of this many steps are kept as well (0: none),
            so that a learning curve can be evaluated after the run.
        threads: torch CPU threads (0 leaves torch's default).
        device: where the model trains (``"cpu"``, ``"cuda"``, ``"cuda:1"``); trainers that
            run only on the CPU say so when given another.
        precision: ``"float32"``, or ``"bfloat16"``: the training forward pass runs under
            autocast (matrix products in bfloat16; weights, gradients, optimizer state and
            the loss stay float32). Faster on GPUs and on CPUs with AVX-512 BF16; trainers
            that do not support it say so.
    """

    steps: int = attrs.field(default=1000, validator=_positive)
    batch_size: int = attrs.field(default=8, validator=_positive)
    seed: int = attrs.field(default=0, validator=_seed)
    output_dir: str = "runs/train"
    checkpoint_every: int = attrs.field(default=500, validator=_positive)
    validate_every: int = attrs.field(default=250, validator=_positive)
    keep_checkpoints: int = attrs.field(default=2, validator=_non_negative)
    keep_every: int = attrs.field(default=0, validator=_non_negative)
    threads: int = attrs.field(default=0, validator=_non_negative)
    device: str = attrs.field(default="cpu", validator=_device)
    precision: str = attrs.field(default="float32", validator=_precision)


def probability_field(default: float = 0.0) -> Any:
    """A config field holding a share or probability, checked to lie in [0, 1]."""
    return attrs.field(default=default,
                       validator=[attrs.validators.ge(0), attrs.validators.le(1)])


def caption_style_field() -> Any:
    """A scene config's ``captions``: ``"templates"`` or ``"natural"`` (docs/data.md)."""
    return attrs.field(default="templates",
                       validator=attrs.validators.in_(("templates", "natural")))


@attrs.frozen(kw_only=True)
class OptimizerConfig:
    """AdamW with linear warm-up, cosine decay to ``min_lr_ratio`` and gradient clipping."""

    learning_rate: float = attrs.field(default=3e-4, validator=_learning_rate)
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.0
    warmup_steps: int = attrs.field(default=100, validator=attrs.validators.ge(0))
    min_lr_ratio: float = probability_field(0.1)
    grad_clip: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))


def build_optimizer(parameters: Iterable[torch.nn.Parameter],
                    config: OptimizerConfig) -> torch.optim.AdamW:
    """AdamW over the trainable ``parameters``."""
    trainable = [p for p in parameters if p.requires_grad]
    if not trainable:
        raise ConfigError("the model has no trainable parameters; nothing to train")
    return torch.optim.AdamW(trainable, lr=config.learning_rate, betas=config.betas,
                             weight_decay=config.weight_decay)


def learning_rate(step: int, total_steps: int, config: OptimizerConfig) -> float:
    """LR at ``step`` (0-based): linear warm-up, then cosine from the peak to the floor."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    span = max(total_steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / span, 1.0)
    floor = config.min_lr_ratio
    return config.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, value: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = value


def clip_gradients(parameters: Iterable[torch.nn.Parameter], max_norm: float) -> float:
    """Clip the global gradient norm (when ``max_norm`` > 0); returns the norm before."""
    parameters = [p for p in parameters if p.grad is not None]
    if max_norm > 0:
        return float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in parameters])))


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A generator seeded by ``(seed, step, stream)``: each step's randomness, reproducibly."""
    (state,) = np.random.SeedSequence([seed, step, stream]).generate_state(1, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


def require_cpu(run: RunConfig, trainer: str) -> None:
    """Refuse a ``run.device`` other than the CPU for a trainer that only runs there."""
    if torch.device(run.device).type != "cpu":
        raise ConfigError(f"the {trainer} trainer runs on the CPU only; set run.device = "
                          f"\"cpu\" (got {run.device!r})")


BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
"""``/proc/cpuinfo`` flags of CPUs that compute bfloat16 in hardware (x86 AVX-512 BF16 and
AMX, Arm BF16)."""


def cpu_bfloat16_is_emulated(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU lacks bfloat16 instructions, so that autocast emulates them; False
    where ``cpuinfo`` cannot be read (no claim either way)."""
    try:
        flags = set(cpuinfo.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return False
    return not flags & BFLOAT16_CPU_FLAGS


def warn_if_bfloat16_is_emulated(run: RunConfig) -> None:
    """Warn when ``run`` asks for bfloat16 on a CPU that only emulates it: there it is about
    10x slower than float32 (docs/training.md), where it is the faster choice elsewhere."""
    if (run.precision == "bfloat16" and torch.device(run.device).type == "cpu"
            and cpu_bfloat16_is_emulated()):
        warnings.warn("run.precision = \"bfloat16\" on a CPU without bfloat16 instructions "
                      "(no avx512_bf16, amx_bf16 or bf16 in /proc/cpuinfo): it is emulated, "
                      "about 10x slower than float32; set run.precision = \"float32\"",
                      RuntimeWarning, stacklevel=2)


def autocast(run: RunConfig) -> contextlib.AbstractContextManager:
    """The context a training forward pass runs in for ``run.precision`` (none for float32)."""
    if run.precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(run.device).type, dtype=PRECISIONS[run.precision])


def clips_fingerprint(clips: Iterable[Any]) -> str:
    """A short digest of which clips (``clip_id`` and class) a split draws from, for scene
    cache keys: scenes rendered before a sound set was installed or removed draw from other
    clips under the same config, so they must not be read back as this split's."""
    names = sorted(f"{clip.clip_id}\t{clip.label}" for clip in clips)
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def check_class_count(clips: Iterable[Any], min_classes: int) -> None:
    """Refuse a split whose clips name fewer than ``min_classes`` classes (``data.min_classes``):
    the sound sets a recipe was written for are not all installed."""
    classes = len({clip.label for clip in clips})
    if classes < min_classes:
        raise ConfigError(f"data.min_classes = {min_classes}, but the installed sound sets give "
                          f"{classes} classes; install them (scripts/install-sound-sets.sh, "
                          "'swansphere data sources' lists them) or lower data.min_classes")


def scene_cache_path(cache_dir: str | None, kind: str, key: dict[str, Any]) -> Path | None:
    """Where the rendered scenes described by ``key`` are cached (``None``: no cache). The
    renderer's version (``data.render.RENDER_VERSION``) is part of the key, so scenes rendered
    before a change to rendering are rendered again."""
    if cache_dir is None:
        return None
    from swansphere.data.render import RENDER_VERSION

    text = json.dumps({**key, "render": RENDER_VERSION}, sort_keys=True)
    return Path(cache_dir) / f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.safetensors"
