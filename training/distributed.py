"""Multi-process data-parallel training through ``torch.distributed`` (torchrun + DDP).

Launch (each process runs the whole CLI; torchrun sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``)::

    torchrun --nproc_per_node 2 -m swansphere.cli train CONFIG.toml

Without those variables (or with ``WORLD_SIZE=1``) everything runs in one process exactly as
before: no process group, :meth:`Distributed.wrap` returns the module itself,
:meth:`Distributed.gather` returns its input.

How a step stays equal to the single-process step:

1. every rank draws the same *global* batch from ``step_generator(seed, step)`` and keeps its
   contiguous slice (:meth:`Distributed.shard`);
2. the module runs on the slice inside a :class:`~torch.nn.parallel.DistributedDataParallel`
   wrapper (:meth:`Distributed.wrap`), which averages gradients over ranks;
3. per-item outputs are gathered back into the global batch (:meth:`Distributed.gather`, an
   ``all_gather`` with autograd) and the loss is computed on the whole batch on every rank. So
   a loss that couples the items of a batch (SVAC's in-batch negatives, the codec losses'
   batch-mean floors) is the single-process loss, and so is any randomness drawn for the batch.

Gradients: every rank computes the same loss ``L``; the backward of :meth:`gather` sums the
``W`` ranks' (identical) gradients of each gathered row and hands the owner its rows, i.e.
``W · dL/d(own outputs)``; DDP's average over the ``W`` ranks then leaves exactly
``dL/dθ`` of the global batch (up to float rounding).

Only rank 0 (:attr:`Distributed.is_main`) validates and writes checkpoints, logs, exports and
progress bars; scalar training metrics are averaged over ranks (:meth:`Distributed.mean`).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import attrs
import torch
import torch.distributed as torch_dist
from torch import nn

from swansphere.errors import ConfigError

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
COLLECTIVE_TIMEOUT = timedelta(minutes=30)
"""How long a rank waits in a collective, e.g. while rank 0 alone validates (NCCL's own
default, 10 minutes, is short for a slow validation)."""
RELEASE_TIMEOUT_SECONDS = 30.0
"""How long :func:`launch` waits, at most, for the backend to let go of the tensors of the
last collectives before it leaves the process group."""

_HANDED_OVER: weakref.WeakSet[torch.Tensor] = weakref.WeakSet()
"""Tensors this process gave to a collective (see :func:`hand_over`)."""


@attrs.frozen(kw_only=True)
class Distributed:
    """Where this process stands in a data-parallel run (one process: rank 0 of 1).

    Attributes:
        rank / world_size / local_rank: as torchrun numbers the processes.
        device: where the trainer should put the model (``cuda:<local_rank>`` under NCCL).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = attrs.field(factory=lambda: torch.device("cpu"), converter=torch.device)

    @property
    def is_main(self) -> bool:
        """The one process that validates and writes files."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def backend(self) -> str:
        """``nccl`` for CUDA devices, ``gloo`` for the CPU."""
        return "nccl" if self.device.type == "cuda" else "gloo"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None,
                         device: str | torch.device = "cpu") -> Distributed:
        """Read torchrun's variables; a single process when ``WORLD_SIZE`` is absent or 1."""
        environ = os.environ if environ is None else environ
        world_size = int(environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls(device=device)
        missing = [name for name in LAUNCH_VARIABLES if name not in environ]
        if missing:
            raise ConfigError(f"WORLD_SIZE={world_size} but {', '.join(missing)} not set; "
                              "launch multi-process training with torchrun")
        local_rank = int(environ["LOCAL_RANK"])
        return cls(rank=int(environ["RANK"]), world_size=world_size, local_rank=local_rank,
                   device=_process_device(device, local_rank))

    # ------------------------------------------------------------------ batches

    def shard_sizes(self, total: int) -> list[int]:
        """Items per rank when ``total`` items are split: contiguous, sizes differ by <= 1."""
        if total < self.world_size:
            raise ConfigError(f"a batch of {total} cannot be split over {self.world_size} "
                              "processes; use run.batch_size >= the number of processes")
        base, extra = divmod(total, self.world_size)
        return [base + (rank < extra) for rank in range(self.world_size)]

    def shard(self, total: int) -> slice:
        """This rank's rows of a global batch of ``total`` items (all of them in one process)."""
        sizes = self.shard_sizes(total)
        start = sum(sizes[:self.rank])
        return slice(start, start + sizes[self.rank])

    def mean_weight(self, total: int) -> float:
        """Factor for a loss that is the mean over this rank's items only: scaled by it, DDP's
        average of the ranks' gradients is the gradient of the mean over all ``total`` items,
        also when the shards differ in size (1.0 in one process)."""
        share = self.shard(total)
        return (share.stop - share.start) * self.world_size / total

    def gather(self, local: torch.Tensor, total: int) -> torch.Tensor:
        """The global batch from every rank's slice (dim 0), differentiable; the identity in
        one process. Every rank must call it, in the same order."""
        if not self.is_distributed:
            return local
        sizes = self.shard_sizes(total)
        if local.shape[0] != sizes[self.rank]:
            raise ValueError(f"rank {self.rank} holds {local.shape[0]} rows, its shard of "
                             f"{total} is {sizes[self.rank]}")
        width = max(sizes)
        padded = torch.cat([local, local.new_zeros(width - local.shape[0], *local.shape[1:])])
        gathered = _GatherRows.apply(padded, self.rank, self.world_size)
        return torch.cat([gathered[rank * width:rank * width + size]
                          for rank, size in enumerate(sizes)])

    def sharded(self, function: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        """``function(batch, *rest)`` computed on this rank's slice of ``batch`` and gathered:
        the same tensor as ``function(batch, *rest)``, each rank doing only its share."""
        if not self.is_distributed:
            return function

        def call(batch: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            total = batch.shape[0]
            return self.gather(function(batch[self.shard(total)], *args, **kwargs), total)

        return call

    # ------------------------------------------------------------------ model, metrics

    def wrap(self, module: nn.Module, forward: Callable[..., Any] | None = None, *,
             find_unused_parameters: bool = False) -> Callable:
        """What a trainer calls for its training forward pass.

        One process: ``forward`` (default: ``module`` itself), unchanged. Several: a
        :class:`~torch.nn.parallel.DistributedDataParallel` over ``module`` whose forward runs
        ``forward(*args)``: DDP synchronises only the gradients of work done inside its own
        forward, so a loss method or a trainer function is routed through it. Set
        ``find_unused_parameters`` when a step leaves some parameters without gradient (null
        embeddings of absent modalities): DDP then looks for them at every step.
        """
        call = module if forward is None else forward
        if not self.is_distributed:
            return call
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(_Forward(module, call), device_ids=device_ids,
                                                   find_unused_parameters=find_unused_parameters)

    def mean(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """Scalars averaged over ranks (every rank must log the same names in the same order)."""
        if not self.is_distributed or not metrics:
            return dict(metrics)
        values = torch.tensor([float(v) for v in metrics.values()], dtype=torch.float64,
                              device=self.device)
        torch_dist.all_reduce(hand_over(values))
        return dict(zip(metrics, (values / self.world_size).tolist(), strict=True))

    def barrier(self) -> None:
        if self.is_distributed:
            torch_dist.barrier()


def _process_device(device: str | torch.device, local_rank: int) -> torch.device:
    """``cuda`` without an index means this process's own GPU, ``cuda:<local_rank>``."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank)
    return device


class _GatherRows(torch.autograd.Function):
    """``all_gather`` along dim 0 whose backward sums every rank's gradient of the gathered
    tensor and returns this rank's rows (the adjoint of gathering)."""

    @staticmethod
    def forward(ctx: Any, local: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
        parts = [hand_over(torch.empty_like(local)) for _ in range(world_size)]
        torch_dist.all_gather(parts, hand_over(local.detach().clone(
            memory_format=torch.contiguous_format)))
        ctx.rows, ctx.rank = local.shape[0], rank
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        total = hand_over(grad.clone(memory_format=torch.contiguous_format))
        torch_dist.all_reduce(total)
        return total[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows], None, None


class _Forward(nn.Module):
    """Holds ``module`` (so DDP sees its parameters) and runs ``call`` as its forward."""

    def __init__(self, module: nn.Module, call: Callable[..., Any]) -> None:
        super().__init__()
        self.module = module
        self._call = call

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)


# ------------------------------------------------------------------------------ launch

SINGLE_PROCESS = Distributed()
_ACTIVE: contextvars.ContextVar[Distributed] = contextvars.ContextVar(
    "swansphere_distributed", default=SINGLE_PROCESS)


def current() -> Distributed:
    """The run this process belongs to: the innermost :func:`launch`, else one process."""
    return _ACTIVE.get()


@contextlib.contextmanager
def launch(device: str | torch.device = "cpu", environ: Mapping[str, str] | None = None,
           timeout: timedelta = COLLECTIVE_TIMEOUT) -> Iterator[Distributed]:
    """Join the process group torchrun describes (gloo on the CPU, NCCL on CUDA) for the
    duration of the block, and leave it afterwards, also on errors.

    In one process nothing is initialised. A process group that the caller already set up is
    used as it is and left open.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        context = Distributed(rank=torch_dist.get_rank(), world_size=torch_dist.get_world_size(),
                              local_rank=local_rank, device=_process_device(device, local_rank))
        owned = False
    else:
        context = Distributed.from_environment(environ, device)
        owned = context.is_distributed
    if owned:
        if context.device.type == "cuda":
            torch.cuda.set_device(context.device)
        torch_dist.init_process_group(context.backend, rank=context.rank,
                                      world_size=context.world_size, timeout=timeout)
    token = _ACTIVE.set(context)
    try:
        yield context
    finally:
        _ACTIVE.reset(token)
        if owned:
            wait_for_release()
            torch_dist.destroy_process_group()


def hand_over(tensor: torch.Tensor) -> torch.Tensor:
    """Note that ``tensor``, which no one else references, goes to a collective; returns it.

    The backend's threads keep references to a collective's tensors for a moment after the
    collective returns, and dropping the last of them takes the GIL. A thread that asks for
    the GIL while the interpreter shuts down aborts the whole process (gloo: "terminate
    called without an active exception"), so :func:`launch` waits for these references to
    go (:func:`wait_for_release`) before a rank may exit. The tensor must be private to the
    collective (a fresh buffer or a copy): a reference held elsewhere, e.g. by an autograd
    graph, would look like the backend's.
    """
    _HANDED_OVER.add(tensor)
    return tensor


def wait_for_release(timeout: float = RELEASE_TIMEOUT_SECONDS) -> None:
    """Sleep (so the backend's threads can take the GIL) until every live tensor given to
    :func:`hand_over` is referenced by Python alone; warn and go on after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while any(tensor._use_count() > 1 for tensor in list(_HANDED_OVER)):
        if time.monotonic() > deadline:
            warnings.warn(f"the process group still held collective tensors after {timeout:g} s; "
                          "leaving it anyway", RuntimeWarning, stacklevel=2)
            return
        time.sleep(0.001)
