"""exemplar_anchor: each patch of a primed stream starts, at a late flow time, from the
prompt's patch (looped) mixed with noise (SDEdit), so the stream varies its prompt."""

from __future__ import annotations

import attrs
import pytest
import torch
from pipeline_helpers import tiny_pipeline

from swansphere.errors import ConfigError
from swansphere.pipeline import LatentRange, loop_phase

TEXT = "a bell rings on the left"


@pytest.fixture(scope="module")
def pipeline():
    return tiny_pipeline()


def prompt_audio(pipeline, patches: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(4, patches * pipeline.samples_per_patch, generator=generator)


def anchored_patches(pipeline, prompt, anchor: float, patches: int = 5,
                     seeds: tuple[int, ...] = (1,)) -> torch.Tensor:
    """The latents ``(rows, patches·patch_frames, D)`` of a stream primed with ``prompt``
    (``pipeline`` itself when it has that anchor: a replaced pipeline is not compiled)."""
    anchored = pipeline if pipeline.config.exemplar_anchor == anchor else pipeline.replace(
        exemplar_anchor=anchor)
    session = anchored._open(anchored.encode_inputs(TEXT)[0], seeds, None)
    session.prime(prompt)
    return torch.cat([session.next_patches()[1] for _ in range(patches)], 1)


def prompt_latents(pipeline, prompt) -> torch.Tensor:
    with torch.inference_mode():
        return pipeline.prompt_latents(torch.as_tensor(prompt)[None] if prompt.dim() == 2
                                       else prompt)


def test_a_late_anchor_keeps_each_patch_near_the_prompts_patch_in_its_loop(pipeline):
    """Patch k of the stream lies near patch (k + phase) mod P of a P-patch prompt, nearer the
    later the anchor; at 0 the stream is the plain primed stream."""
    prompt = prompt_audio(pipeline, 2)
    frames = pipeline.backbone.patch_frames
    phase = loop_phase(1, 2)
    looped = prompt_latents(pipeline, prompt).roll(-phase * frames, 1).repeat(1, 3, 1)
    looped = looped[:, :5 * frames]
    distances = []
    for anchor in (0.0, 0.5, 0.9, 0.99):
        latents = anchored_patches(pipeline, prompt, anchor)
        distances.append(float((latents - looped).norm() / looped.norm()))
    assert distances == sorted(distances, reverse=True), distances
    prompt_patches = prompt_latents(pipeline, prompt)[0].unflatten(0, (2, frames))
    for index, patch in enumerate(latents[0].unflatten(0, (5, frames))):
        nearest = (prompt_patches - patch).flatten(1).norm(dim=1).argmin()
        assert int(nearest) == (index + phase) % 2


def test_each_take_loops_its_prompt_from_its_own_phase(pipeline):
    """Takes of other seeds start the loop elsewhere (seed 0 at its first patch), so that two
    takes of one prompt differ by more than their noise."""
    assert loop_phase(0, 8) == 0 and loop_phase(2**64 - 1, 8) in range(8)
    assert len({loop_phase(seed, 8) for seed in range(8)}) >= 6
    prompt = prompt_audio(pipeline, 4)
    frames = pipeline.backbone.patch_frames
    prompt_patches = prompt_latents(pipeline, prompt)[0].unflatten(0, (4, frames))
    for seed in (0, 1, 2):
        first = anchored_patches(pipeline, prompt, 0.99, patches=1, seeds=(seed,))[0]
        nearest = (prompt_patches - first).flatten(1).norm(dim=1).argmin()
        assert int(nearest) == loop_phase(seed, 4)
    session = pipeline._open(pipeline.encode_inputs(TEXT)[0], (1,), None)
    session.prime(prompt)
    plain = torch.cat([session.next_patches()[1] for _ in range(5)], 1)
    assert session.anchor is None
    torch.testing.assert_close(anchored_patches(pipeline, prompt, 0.0), plain, rtol=0, atol=0)


def test_a_row_without_a_prompt_takes_the_samplers_late_start(pipeline):
    """A silent prompt row starts from its own one-step guess: what the sampler's ``start``
    does for a stream without an anchor; a sounding row starts from its prompt."""
    silence = torch.zeros(4, 2 * pipeline.samples_per_patch)
    prompts = torch.stack([prompt_audio(pipeline, 2), silence])
    latent_dim = pipeline.backbone.latent_dim  # a narrow held range: the guess is held too
    held = pipeline.replace(latent_range=LatentRange(low=(-0.5,) * latent_dim,
                                                     high=(0.5,) * latent_dim),
                            hold_latent_range=True)
    anchored = anchored_patches(held, prompts, 0.6, patches=3, seeds=(3, 3))
    late = held.replace(sampler={"start": 0.6})
    session = late._open(late.encode_inputs(TEXT)[0], (3, 3), None)
    session.prime(prompts)
    want = torch.cat([session.next_patches()[1] for _ in range(3)], 1)
    torch.testing.assert_close(anchored[1], want[1], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(anchored[0], want[0], atol=1e-3)


def test_an_anchored_stream_is_the_same_on_a_compiled_pipeline():
    """A compiled pipeline samples an anchored stream eagerly (its fixed-shape step starts
    from noise), so the audio is the uncompiled pipeline's."""
    plain = tiny_pipeline().replace(exemplar_anchor=0.5)
    compiled = tiny_pipeline().replace(exemplar_anchor=0.5).compile(backend="eager")
    assert compiled.patch_stepper is not None
    prompt = prompt_audio(plain, 3)
    torch.testing.assert_close(anchored_patches(compiled, prompt, 0.5),
                               anchored_patches(plain, prompt, 0.5), rtol=0, atol=0)


def test_anchored_patches_take_their_own_step_count_and_free_streams_the_samplers():
    """``exemplar_steps = 2`` samples an anchored patch as a two-step sampler would; a
    stream that nothing primes keeps the sampler's three (its stream, bit for bit)."""
    three = tiny_pipeline().replace(exemplar_anchor=0.5)
    prompt = prompt_audio(three, 3)
    own = three.replace(exemplar_steps=2)
    two = three.replace(sampler={"type": "euler", "steps": 2})
    torch.testing.assert_close(anchored_patches(own, prompt, 0.5),
                               anchored_patches(two, prompt, 0.5), rtol=0, atol=0)
    assert not torch.allclose(anchored_patches(own, prompt, 0.5),
                              anchored_patches(three, prompt, 0.5))
    torch.testing.assert_close(own.generate(TEXT, duration=0.2, seed=3),
                               three.generate(TEXT, duration=0.2, seed=3), rtol=0, atol=0)
    with pytest.raises(ValueError):
        three.replace(exemplar_steps=-1)


def test_an_anchor_is_a_flow_time_before_the_end_and_needs_a_late_starting_sampler(pipeline):
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match="exemplar_anchor"):
            pipeline.replace(exemplar_anchor=bad)

    class FromNoiseOnly:
        config = pipeline.sampler.config

        def sample(self, velocity, noise, steps=None, generator=None):
            return noise

        def nfe(self, steps=None):
            return 1

    with pytest.raises(ConfigError, match="sample_from, late_start"):
        type(pipeline)(attrs.evolve(pipeline.config, exemplar_anchor=0.5),
                       codec=pipeline.codec, backbone=pipeline.backbone,
                       sampler=FromNoiseOnly(), text=pipeline.text_encoder)


def test_exemplar_phases_decode_each_patch_with_the_phases_of_the_prompt_patch_it_varies():
    """With ``exemplar_phases`` a codec that guides phases gets, for stream patch k, the
    guide of the prompt frames it was anchored to (patch (k + phase) mod P), NaN in a row
    whose prompt is silent; without, it decodes as ever."""
    for phases in (True, False):
        pipeline = tiny_pipeline().replace(exemplar_anchor=0.5, exemplar_phases=phases)
        codec, guides = pipeline.codec, []
        hop, frames = codec.hop_length, pipeline.backbone.patch_frames

        def frame_numbers(audio, hop=hop):
            count = audio.shape[-1] // hop
            return torch.arange(count, dtype=torch.float32)[None, :, None].expand(
                audio.shape[0], count, 3).clone()

        def guided_decode_step(latents, state, guide, codec=codec, guides=guides):
            guides.append(guide)
            return codec.decode_step(latents, state)

        codec.phase_guide, codec.guided_decode_step = frame_numbers, guided_decode_step
        prompt = torch.stack([prompt_audio(pipeline, 2), torch.zeros(4, 2 * hop * frames)])
        session = pipeline._open(pipeline.encode_inputs(TEXT)[0], (1, 2), None)
        session.prime(prompt)
        for _ in range(4):
            session.next_patches()
        if not phases:
            assert guides == []
            continue
        phase = loop_phase(1, 2)
        for k, guide in enumerate(guides):
            expected = ((k + phase) % 2) * frames + torch.arange(frames, dtype=torch.float32)
            torch.testing.assert_close(guide[0, :, 0], expected)
            assert bool(guide[1].isnan().all())
