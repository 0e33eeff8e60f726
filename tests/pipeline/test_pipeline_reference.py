"""The pipeline against independent computations of the same thing.

``generate`` is the concatenation of ``stream`` by construction, so comparing those tests
nothing. Here the streamed output is compared with what it must equal, computed another way:

- the audio of the chunks with ONE offline codec decode of all the sampled latents;
- the velocity field the sampler integrated for each patch with the paper's guidance
  v_u + w1(v_c1 − v_u) + w2(v_all − v_c1) computed by hand from training-time LocDiT calls,
  with ``h_t`` from the backbone's teacher-forced forward over the generated sequence and the
  context of the patches before it. The weights differ (w1 ≠ w2), so swapping them fails.
"""

from __future__ import annotations

import attrs
import numpy as np
import pytest
import torch
from backbone_helpers import RecordingSampler, reference_guided_velocity
from pipeline_helpers import panorama_frames, tiny_pipeline

from swansphere.pipeline import Guidance, Pipeline

PROMPT = "a dog barks on the left"
FPS = 25.0


def recording(pipeline: Pipeline, guidance: Guidance | None = None) -> Pipeline:
    """The same pipeline with a sampler that keeps the fields it integrates."""
    config = pipeline.config if guidance is None else attrs.evolve(pipeline.config,
                                                                   guidance=guidance)
    return Pipeline(config, codec=pipeline.codec, backbone=pipeline.backbone,
                    sampler=RecordingSampler(pipeline.sampler), text=pipeline.text_encoder,
                    video=pipeline.video_encoder)


def conditions(pipeline: Pipeline, text: str | None, video) -> object:
    """The backbone's conditions encoded straight from the conditioners."""
    text_tokens = None if text is None else pipeline.text_encoder.forward(
        pipeline.text_encoder.prepare([text]))
    video_tokens = None if video is None else pipeline.video_encoder.forward(
        pipeline.video_encoder.prepare([video]))
    return pipeline.backbone.make_conditions(text=text_tokens, video=video_tokens)


@pytest.mark.parametrize("with_video", [False, True])
def test_each_patch_integrates_the_hand_computed_guided_velocity(with_video):
    guidance = Guidance(w1=1.7, w2=3.4)
    pipeline = recording(tiny_pipeline(), guidance)
    video = (panorama_frames(6), np.arange(6) / FPS) if with_video else None
    chunks = list(pipeline.stream(PROMPT, video, duration=0.05, seed=3))
    latents = torch.cat([chunk.latents for chunk in chunks])[None]
    backbone = pipeline.backbone
    probe = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        h = backbone.hidden_states(latents, conditions(pipeline, PROMPT, video))
        fields = pipeline.sampler.fields
        assert len(fields) == len(chunks) == h.shape[1] >= 3  # the context fills up
        for patch, field in enumerate(fields):
            x = torch.randn(1, backbone.patch_frames, backbone.latent_dim, generator=probe)
            t = torch.rand(1, generator=probe)
            expected = reference_guided_velocity(backbone, latents, h[:, patch], patch, x, t,
                                                 guidance.w1, guidance.w2)
            torch.testing.assert_close(field(x, t), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["helper", "shipped"])
def test_streamed_chunks_equal_one_offline_decode_of_their_latents(name):
    pipeline = tiny_pipeline() if name == "helper" else Pipeline.from_pretrained("tiny")
    # the shipped config turns streams onto their places, after decoding (test_place_hold.py)
    pipeline = pipeline.replace(place_hold=0.0)
    duration = 5.5 * pipeline.patch_seconds  # ends inside a patch: the last chunk is cut
    chunks = list(pipeline.stream(PROMPT, duration=duration, seed=1))
    latents = torch.cat([chunk.latents for chunk in chunks])[None]
    with torch.inference_mode():
        offline = pipeline.output_gain(pipeline.codec.decode(latents
                                                             * pipeline.config.latent_scale))[0]
    streamed = torch.cat([chunk.audio for chunk in chunks], -1)
    assert streamed.shape[-1] == round(duration * pipeline.sample_rate) < offline.shape[-1]
    torch.testing.assert_close(streamed, offline[:, :streamed.shape[-1]].float(),
                               atol=1e-5, rtol=1e-4)
