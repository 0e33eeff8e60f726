"""Causal convolution layers with an offline ``forward`` and an explicit-state ``step``.

Every layer here maps ``(batch, channels, time)`` to ``(batch, channels', time')`` and follows
the library's streaming pattern: ``state = layer.init_state(batch)``, then
``out, state = layer.step(chunk, state)``. Steps never mutate a state in place, so a state can
be kept as a snapshot for free. Offline and streamed outputs agree for any chunking; a state
holds only the receptive field (at most ``kernel`` samples per layer), so streams can run
forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class StreamingModule(nn.Module):
    """A module with an offline ``forward`` and a streaming ``init_state``/``step`` pair."""

    def init_state(self, batch_size: int) -> Any:
        raise NotImplementedError

    def step(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def _zeros(self, batch_size: int, channels: int, length: int) -> torch.Tensor:
        weight = next(self.parameters())
        return torch.zeros(batch_size, channels, length, device=weight.device, dtype=weight.dtype)


class CausalConv1d(StreamingModule):
    """Conv1d whose output ``i`` sees input samples before ``(i + 1) * stride`` only.

    Offline, the input is padded on the left by ``(kernel - 1) * dilation + 1 - stride``; the
    output has ``floor(n / stride)`` steps. Streaming keeps that many past samples plus the
    remainder that does not fill a stride yet.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        span = (kernel_size - 1) * dilation + 1
        if span < stride:
            raise ValueError(f"kernel span {span} is shorter than the stride {stride}")
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride,
                              dilation=dilation)
        self.stride = stride
        self.span = span
        self.padding = span - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        whole = x.shape[-1] // self.stride * self.stride
        if whole == 0:
            return x.new_zeros(x.shape[0], self.conv.out_channels, 0)
        return self.conv(F.pad(x[..., :whole], (self.padding, 0)))

    def init_state(self, batch_size: int) -> torch.Tensor:
        return self._zeros(batch_size, self.conv.in_channels, self.padding)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        joined = torch.cat([state, x], dim=-1)
        steps = (joined.shape[-1] - self.span) // self.stride + 1
        if steps <= 0:
            return joined.new_zeros(x.shape[0], self.conv.out_channels, 0), joined
        if self.conv.dilation[0] > 1:
            return self._taps_matmul(joined, steps), joined[..., steps * self.stride:]
        used = (steps - 1) * self.stride + self.span
        return self.conv(joined[..., :used]), joined[..., steps * self.stride:]

    def _taps_matmul(self, joined: torch.Tensor, steps: int) -> torch.Tensor:
        """The conv as one matmul over gathered taps: on the short inputs of a streaming step
        PyTorch falls back to a slow kernel for dilated convs (about 3x slower here)."""
        dilation = self.conv.dilation[0]
        taps = joined.unfold(-1, self.span, self.stride)[..., ::dilation][:, :, :steps]
        out = torch.einsum("bcsk,ock->bos", taps, self.conv.weight)
        return out + self.conv.bias[:, None]


class CausalConvTranspose1d(StreamingModule):
    """Transposed conv (upsampling by ``stride``) whose output block ``i`` sees frames <= i.

    Each input frame writes ``kernel_size`` samples; the ``kernel_size - stride`` samples that
    spill past the current block are carried in the state and added to the next block
    (overlap-add), so the output has exactly ``n * stride`` samples.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 stride: int) -> None:
        super().__init__()
        if kernel_size < stride:
            raise ValueError(f"kernel_size {kernel_size} is smaller than the stride {stride}")
        self.conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride=stride,
                                       bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.stride = stride
        self.overlap = kernel_size - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == 0:
            return x.new_zeros(x.shape[0], self.conv.out_channels, 0)
        length = x.shape[-1] * self.stride
        return self.conv(x)[..., :length] + self.bias[:, None]

    def init_state(self, batch_size: int) -> torch.Tensor:
        return self._zeros(batch_size, self.conv.out_channels, self.overlap)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] == 0:
            return self(x), state
        length = x.shape[-1] * self.stride
        full = self.conv(x)
        full = torch.cat([full[..., :self.overlap] + state, full[..., self.overlap:]], dim=-1)
        return full[..., :length] + self.bias[:, None], full[..., length:]


class Pointwise(StreamingModule):
    """A stateless per-sample module (an activation) in a streaming stack."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    def init_state(self, batch_size: int) -> tuple[()]:
        return ()

    def step(self, x: torch.Tensor, state: tuple[()]) -> tuple[torch.Tensor, tuple[()]]:
        return self.module(x), state


class StreamingSequential(StreamingModule):
    """Streaming layers in a row; the state is the tuple of the layers' states."""

    def __init__(self, layers: Sequence[StreamingModule]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def init_state(self, batch_size: int) -> tuple:
        return tuple(layer.init_state(batch_size) for layer in self.layers)

    def step(self, x: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        new_state = []
        for layer, layer_state in zip(self.layers, state, strict=True):
            x, layer_state = layer.step(x, layer_state)
            new_state.append(layer_state)
        return x, tuple(new_state)


class CausalResidualBlock(StreamingModule):
    """``x + conv1x1(act(dilated causal conv(act(x))))``: widens the receptive field cheaply."""

    def __init__(self, channels: int, *, kernel_size: int = 7, dilation: int = 1) -> None:
        super().__init__()
        self.body = StreamingSequential([
            Pointwise(nn.ELU()),
            CausalConv1d(channels, channels, kernel_size, dilation=dilation),
            Pointwise(nn.ELU()),
            CausalConv1d(channels, channels, 1),
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)

    def init_state(self, batch_size: int) -> tuple:
        return self.body.init_state(batch_size)

    def step(self, x: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        y, state = self.body.step(x, state)
        return x + y, state


class StreamingSum(StreamingModule):
    """Branches fed the same input whose outputs add up (a skip path around a stack).

    The branches must produce outputs of the same length at the same times (same rate and
    causality), which holds for stacks with the same total stride.
    """

    def __init__(self, branches: Sequence[StreamingModule]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(branch(x) for branch in self.branches)

    def init_state(self, batch_size: int) -> tuple:
        return tuple(branch.init_state(batch_size) for branch in self.branches)

    def step(self, x: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        outputs, new_state = [], []
        for branch, branch_state in zip(self.branches, state, strict=True):
            out, branch_state = branch.step(x, branch_state)
            outputs.append(out)
            new_state.append(branch_state)
        return sum(outputs), tuple(new_state)
