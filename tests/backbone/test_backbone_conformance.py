"""The streaming conformance suites on the Spatial LM stream (latent patches in, h out).

Output block k is ``h_{k+1}``: the LM output after consuming patch k (``h_0`` comes from the
start token and depends on no patch, so it is consumed by ``init_state``). Text and video are
fixed conditions shared by every item (the suites slice batches).
"""

from __future__ import annotations

import torch
from backbone_helpers import conditions, make_model

from swansphere.plugins.causal_dit.model import CausalDiT
from swansphere.testing.streaming import StreamingAdapter, StreamingConformanceSuite


def lm_adapter(model: CausalDiT, *, conditioned: bool) -> StreamingAdapter:
    frames = model.patch_frames

    def conditions_for(batch: int):
        return conditions(batch, model, shared=True) if conditioned else None

    def offline(x: torch.Tensor) -> torch.Tensor:
        spare_patch = x.new_zeros(x.shape[0], frames, x.shape[2])  # never read: no h after it
        return model.hidden_states(torch.cat((x, spare_patch), 1),
                                   conditions_for(x.shape[0]))[:, 1:]

    def init_state(batch: int):
        return model.step(None, model.init_state(batch, conditions_for(batch)))[1]

    def step(chunk: torch.Tensor, state):
        if chunk.shape[1] == 0:
            return chunk.new_zeros(chunk.shape[0], 0, model.h_dim), state
        return model.step(chunk, state)

    def make_input(batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(batch, length, model.latent_dim, generator=generator)

    return StreamingAdapter(offline=offline, init_state=init_state, step=step,
                            make_input=make_input, input_axis=1, output_axis=1,
                            input_hop=frames, output_hop=1, chunk_unit=frames)


class TestCausalDiTStreaming(StreamingConformanceSuite):
    max_examples = 6
    max_blocks = 7
    bounded_state_steps = 16

    def make_adapters(self):
        return {
            "text+video, window 3": lm_adapter(make_model(attention_window=3),
                                               conditioned=True),
            "no conditions, window 2": lm_adapter(make_model(seed=1, attention_window=2),
                                                  conditioned=False),
        }
