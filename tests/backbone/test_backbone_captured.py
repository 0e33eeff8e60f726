"""The fixed-shape patch step (what a GPU captures as one CUDA graph) equals the ordinary
stream, traces as one graph, and keeps its tensors' addresses."""

from __future__ import annotations

import pytest
import torch
from backbone_helpers import conditions, make_model
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere.plugins.causal_dit import BackboneInputError, StaleStateError
from swansphere.plugins.causal_dit.captured import PatchStepper
from swansphere.plugins.causal_dit.generation import generate_patch
from swansphere.samplers.config import GuidanceConfig


def euler(steps: int = 3):
    return swansphere.create("sampler", {"type": "euler", "steps": steps, "grid": "cosine"})


def noises(batch: int, patches: int, model, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, model.patch_frames, model.latent_dim, generator=generator)
            for _ in range(patches)]


def eager_stream(model, cond, batch: int, draws: list[torch.Tensor], w1: float,
                 w2: float, reference: float = 0.0) -> torch.Tensor:
    """The ordinary stream (step + generate_patch), fed the same noise draws."""
    guidance = GuidanceConfig(w1=w1, w2=w2, reference=reference)
    state = model.init_state(batch, cond)
    h, state = model.step(None, state)
    patches = []
    for noise in draws:
        velocity_noise = iter([noise])
        patch = generate_patch(model, state, h[:, -1], _FixedNoise(euler(), velocity_noise),
                               guidance=guidance)
        patches.append(patch)
        h, state = model.step(patch, state)
    return torch.cat(patches, 1)


class _FixedNoise:
    """A sampler that ignores the noise it is given and uses the next of ``draws``."""

    def __init__(self, sampler, draws) -> None:
        self.sampler, self.draws = sampler, draws

    def sample(self, velocity, noise, steps=None, generator=None):
        return self.sampler.sample(velocity, next(self.draws), steps)


def fixed_shape_stream(stepper: PatchStepper, model, cond, batch: int,
                       draws: list[torch.Tensor]) -> torch.Tensor:
    state = model.init_state(batch, cond)
    buffers = stepper.open(state)
    patches = []
    for noise in draws:
        patch, state = stepper.step(state, buffers, noise)
        patches.append(patch)
    return torch.cat(patches, 1)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(window=st.integers(1, 4), batch=st.integers(1, 3), patches=st.integers(1, 9),
       context_patches=st.integers(0, 2), seed=st.integers(0, 99),
       with_conditions=st.booleans())
def test_fixed_shape_step_equals_the_ordinary_stream(window: int, batch: int, patches: int,
                                                     context_patches: int, seed: int,
                                                     with_conditions: bool) -> None:
    """Past the window (the ring wraps), with and without text and video, any batch."""
    model = make_model(attention_window=window, context_patches=context_patches)
    cond = conditions(batch, model, frames=12, seed=seed) if with_conditions else None
    draws = noises(batch, patches, model, seed)
    stepper = PatchStepper(model, euler(), w1=1.4, w2=3.0)
    with torch.inference_mode():
        expected = eager_stream(model, cond, batch, draws, 1.4, 3.0)
        got = fixed_shape_stream(stepper, model, cond, batch, draws)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4)


def test_the_step_traces_as_one_graph_and_reuses_it_across_streams() -> None:
    """``fullgraph=True`` fails on any graph break (a host read, a data-dependent branch);
    a second stream of the same shapes must not compile again."""
    from torch._dynamo.testing import CompileCounter

    torch._dynamo.reset()  # a step compiled by an earlier test would be reused uncounted
    counter = CompileCounter()
    model = make_model(attention_window=3)
    cond = conditions(2, model)
    stepper = PatchStepper(model, euler(), w1=1.4, w2=3.0, compile={"backend": counter})
    eager = PatchStepper(model, euler(), w1=1.4, w2=3.0)
    draws = noises(2, 5, model, 3)
    with torch.inference_mode():
        expected = fixed_shape_stream(eager, model, cond, 2, draws)
        compiled = fixed_shape_stream(stepper, model, cond, 2, draws)
        again = fixed_shape_stream(stepper, model, cond, 2, draws)
    torch.testing.assert_close(compiled, expected)
    torch.testing.assert_close(again, expected)
    assert counter.frame_count == 1


def test_buffers_keep_their_addresses_along_a_stream() -> None:
    model = make_model(attention_window=2)
    stepper = PatchStepper(model, euler(), w1=1.4, w2=3.0)
    with torch.inference_mode():
        state = model.init_state(1, conditions(1, model))
        buffers = stepper.open(state)
        tensors = (*state.cache.keys, *state.cache.values, *buffers.tensors())
        addresses = [tensor.data_ptr() for tensor in tensors]
        for noise in noises(1, 5, model, 0):
            _, state = stepper.step(state, buffers, noise)
    assert [tensor.data_ptr() for tensor in tensors] == addresses
    assert state.position == int(buffers.position) == 5


def test_misuse_is_refused_with_a_reason() -> None:
    model = make_model(attention_window=2)
    stepper = PatchStepper(model, euler(), w1=1.4, w2=3.0)
    with pytest.raises(BackboneInputError, match="KV window"):
        PatchStepper(make_model(attention_window=0), euler(), w1=1.0, w2=1.0)
    stochastic = swansphere.create("sampler", {"type": "euler_maruyama", "steps": 3,
                                               "noise_scale": 0.5})
    with pytest.raises(BackboneInputError, match="deterministic"):
        PatchStepper(model, stochastic, w1=1.0, w2=1.0)
    with torch.inference_mode():
        state = model.init_state(1)
        _, started = model.step(None, state)
        with pytest.raises(BackboneInputError, match="fresh state"):
            stepper.open(started)
        state = model.init_state(1)
        buffers = stepper.open(state)
        noise = noises(1, 1, model, 0)[0]
        stepper.step(state, buffers, noise)
        with pytest.raises(StaleStateError):
            stepper.step(state, buffers, noise)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_graph_replay_equals_the_eager_stream(dtype: torch.dtype) -> None:
    """mode="reduce-overhead": recorded once, replayed per patch, for two streams in turn."""
    model = make_model(attention_window=3).to("cuda", dtype)
    cond = conditions(2, model)
    captured = PatchStepper(model, euler(), w1=1.4, w2=3.0, compile={"mode": "reduce-overhead"})
    eager = PatchStepper(model, euler(), w1=1.4, w2=3.0)
    draws = [noise.cuda() for noise in noises(2, 6, model, 5)]
    tolerance = {"atol": 2e-2, "rtol": 2e-2} if dtype == torch.bfloat16 else {}
    with torch.inference_mode():
        expected = fixed_shape_stream(eager, model, cond, 2, draws)
        for _ in range(2):
            got = fixed_shape_stream(captured, model, cond, 2, draws)
            torch.testing.assert_close(got, expected, **tolerance)
