"""The streaming conformance suites themselves: they pass honest components and fail broken ones.

Each broken toy breaks exactly one property; the matching check must raise
StreamingConformanceError, which proves that the suites can fail.
"""

from __future__ import annotations

import attrs
import pytest
import torch
import torch.nn.functional as F

from swansphere.testing.streaming import (
    StreamingAdapter,
    StreamingConformanceError,
    StreamingConformanceSuite,
    check_batch_independence,
    check_bounded_state,
    check_causality,
    check_chunk_partition_invariance,
    check_gradient_causality,
    check_reset,
    check_snapshot_restore,
    state_size,
)

TAPS = 4


def _noise(batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(batch, 2, length, generator=generator)


class CausalFir(torch.nn.Module):
    """y[t] = sum_k w[k] x[t - k]: the honest reference; its state is the last TAPS-1 samples."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.linspace(1.0, 0.25, TAPS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fir(x)

    def fir(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (TAPS - 1, 0))
        return sum(self.weight[k] * padded[..., TAPS - 1 - k: padded.shape[-1] - k]
                   for k in range(TAPS))

    def init_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, 2, TAPS - 1)

    def step(self, chunk: torch.Tensor, state: torch.Tensor):
        joined = torch.cat([state, chunk], dim=-1)
        return self.fir(joined)[..., TAPS - 1:], joined[..., joined.shape[-1] - (TAPS - 1):]


def adapter_for(module, **overrides) -> StreamingAdapter:
    fields = {"offline": module, "init_state": module.init_state, "step": module.step,
              "make_input": _noise}
    return StreamingAdapter(**{**fields, **overrides})


class LookaheadFir(CausalFir):
    """Centred filter: y[t] also sees x[t+1] and x[t+2]."""

    ahead = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fir(F.pad(x, (0, self.ahead)))[..., self.ahead:]

    def init_state(self, batch: int) -> dict:
        return {"history": CausalFir.init_state(self, batch), "skip": self.ahead}

    def step(self, chunk: torch.Tensor, state: dict):
        out, history = CausalFir.step(self, chunk, state["history"])
        dropped = min(state["skip"], out.shape[-1])
        return out[..., dropped:], {"history": history, "skip": state["skip"] - dropped}

    def flush(self, state: dict) -> torch.Tensor:
        return self.step(torch.zeros(state["history"].shape[0], 2, self.ahead), state)[0]


class StatelessChunks(CausalFir):
    """Restarts every chunk from zero padding: clicks at chunk boundaries."""

    def step(self, chunk: torch.Tensor, state: torch.Tensor):
        return self(chunk), state


class BatchMixing(CausalFir):
    """Subtracts the batch mean, like a batch norm in training mode."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x - x.mean(dim=0, keepdim=True))

    def step(self, chunk: torch.Tensor, state: torch.Tensor):
        return super().step(chunk - chunk.mean(dim=0, keepdim=True), state)


class HiddenCounter(CausalFir):
    """Keeps a step counter inside the module instead of in the state."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def step(self, chunk: torch.Tensor, state: torch.Tensor):
        self.calls += 1
        out, state = super().step(chunk, state)
        return out + 0.01 * self.calls, state


class GrowingState(CausalFir):
    """Right values, but the state keeps the whole history."""

    def init_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, 2, 0)

    def step(self, chunk: torch.Tensor, state: torch.Tensor):
        joined = torch.cat([state, chunk], dim=-1)
        return self.fir(joined)[..., state.shape[-1]:], joined


@attrs.define
class MutableState:
    history: torch.Tensor


class InPlaceState(CausalFir):
    """Mutates its state in place; with an identity snapshot the replay goes wrong."""

    def init_state(self, batch: int) -> MutableState:
        return MutableState(torch.zeros(batch, 2, TAPS - 1))

    def step(self, chunk: torch.Tensor, state: MutableState):
        out, state.history = super().step(chunk, state.history)
        return out, state


class GradientLeak(CausalFir):
    """Causal in value, but the gradient sees the next sample (a detach trick gone wrong)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ahead = F.pad(x, (0, 1))[..., 1:]
        return super().forward(x) + (ahead - ahead.detach())


class LateOutput(CausalFir):
    """Holds every chunk's output back until the next step: undeclared latency."""

    def init_state(self, batch: int):
        return super().init_state(batch), torch.zeros(batch, 2, 0)

    def step(self, chunk: torch.Tensor, state):
        out, history = super().step(chunk, state[0])
        return state[1], (history, out)

    def flush(self, state) -> torch.Tensor:
        return state[1]


class BlockSum(torch.nn.Module):
    """Hop-4 framing: each output frame is the sum of its 4 samples; buffers partial hops."""

    hop = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1] // self.hop
        return x[..., : frames * self.hop].unflatten(-1, (frames, self.hop)).sum(-1)

    def init_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, 2, 0)

    def step(self, chunk: torch.Tensor, state: torch.Tensor):
        joined = torch.cat([state, chunk], dim=-1)
        whole = joined.shape[-1] // self.hop * self.hop
        return self(joined), joined[..., whole:]


# ------------------------------------------------------------------------- the mixin passes


class TestCausalFirConforms(StreamingConformanceSuite):
    max_examples = 8

    def make_adapters(self):
        lookahead = LookaheadFir()
        blocks = BlockSum()
        return {
            "fir": adapter_for(CausalFir()),
            "lookahead": adapter_for(lookahead, lookahead=2, flush=lookahead.flush),
            "blocks": adapter_for(blocks, input_hop=4, chunk_unit=1, differentiable=True),
        }


def test_lookahead_without_flush_compares_prefix():
    lookahead = LookaheadFir()
    check_chunk_partition_invariance(adapter_for(lookahead, lookahead=2), max_examples=5)


# ------------------------------------------------------------------------- broken toys fail


def test_noncausal_filter_fails_causality():
    with pytest.raises(StreamingConformanceError, match="causality"):
        check_causality(adapter_for(LookaheadFir(), lookahead=0), max_examples=10)


def test_understated_lookahead_fails_causality():
    with pytest.raises(StreamingConformanceError, match="causality"):
        check_causality(adapter_for(LookaheadFir(), lookahead=1), max_examples=10)


def test_noncausal_filter_fails_gradient_causality():
    with pytest.raises(StreamingConformanceError, match="gradient causality"):
        check_gradient_causality(adapter_for(LookaheadFir(), lookahead=0))


def test_stateless_chunking_fails_partition_invariance():
    with pytest.raises(StreamingConformanceError, match="chunk partition"):
        check_chunk_partition_invariance(adapter_for(StatelessChunks()), max_examples=10)


def test_batch_mixing_fails_batch_independence():
    with pytest.raises(StreamingConformanceError, match="batch independence"):
        check_batch_independence(adapter_for(BatchMixing()))


def test_hidden_module_state_fails_reset():
    with pytest.raises(StreamingConformanceError, match="reset"):
        check_reset(adapter_for(HiddenCounter(), chunk_unit=1), blocks=40)


def test_reset_that_keeps_history_fails():
    fir = CausalFir()
    with pytest.raises(StreamingConformanceError, match="reset state differs"):
        check_reset(adapter_for(fir, reset=lambda state: state))


def test_growing_state_fails_bounded_state():
    with pytest.raises(StreamingConformanceError, match="bounded state"):
        check_bounded_state(adapter_for(GrowingState()), steps=8)


def test_identity_snapshot_of_mutable_state_fails():
    with pytest.raises(StreamingConformanceError, match="snapshot"):
        check_snapshot_restore(adapter_for(InPlaceState(), snapshot=lambda s: s), max_examples=3)


def test_deepcopy_snapshot_of_mutable_state_passes():
    check_snapshot_restore(adapter_for(InPlaceState()), max_examples=3)


def test_gradient_leak_passes_values_but_fails_gradient_causality():
    adapter = adapter_for(GradientLeak())
    check_causality(adapter, max_examples=5)
    with pytest.raises(StreamingConformanceError, match="gradient causality"):
        check_gradient_causality(adapter)


def test_late_output_fails_latency_contract():
    late = LateOutput()
    with pytest.raises(StreamingConformanceError, match="latency"):
        check_chunk_partition_invariance(adapter_for(late, flush=late.flush), max_examples=5)


def test_wrong_offline_length_is_reported():
    with pytest.raises(StreamingConformanceError, match="offline output length"):
        check_causality(adapter_for(BlockSum(), input_hop=2), max_examples=3)


def test_constant_output_makes_gradient_check_fail_loudly():
    zero = CausalFir()
    with torch.no_grad():
        zero.weight.zero_()
    with pytest.raises(StreamingConformanceError, match="vacuous"):
        check_gradient_causality(adapter_for(zero))


def test_mixin_names_the_failing_stream():
    class Broken(StreamingConformanceSuite):
        def make_adapters(self):
            return {"clicky": adapter_for(StatelessChunks())}

    with pytest.raises(StreamingConformanceError, match=r"\[clicky\] chunk partition"):
        Broken().test_streaming_chunk_partition_invariance()


def test_state_size_counts_nested_structures():
    state = {"a": torch.zeros(2, 3), "b": [torch.zeros(4), MutableState(torch.zeros(5))]}
    assert state_size(state) == 2 + 6 + 2 + 4 + 5
    assert state_size(torch.zeros(7)) == 7
