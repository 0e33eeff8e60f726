"""LiveSession.prime: a stream that continues an audio prompt, as if it had made the prompt."""

from __future__ import annotations

import attrs
import pytest
import torch
from pipeline_helpers import SAMPLE_RATE, panorama_frames, synthetic_exemplar_bank, tiny_pipeline

from swansphere.errors import ConfigError, GenerationError

TEXT = "a bell rings on the left"


# An overlap-add codec whose decoder carries state from frame to frame (the test pipeline's
# own codec decodes each frame alone, which would hide a decoder that was not primed).
OVERLAP_CODEC = {"type": "foa-parametric", "sample_rate": SAMPLE_RATE, "hop_length": 16,
                 "low_bins": 4, "envelope_bands": 4, "direction_bands": 2}


@pytest.fixture(scope="module")
def pipeline():
    return tiny_pipeline().replace(codec=OVERLAP_CODEC)


def prompt_audio(pipeline, patches: float, seed: int = 0) -> torch.Tensor:
    samples = round(patches * pipeline.samples_per_patch)
    generator = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(4, samples, generator=generator)


def primed_stream(pipeline, audio, *, seed: int = 1, patches: int = 3):
    session = pipeline._open(pipeline.encode_inputs(TEXT)[0], (seed,), None)
    used = session.prime(audio)
    audio_out, latents = zip(*(session.next_patches() for _ in range(patches)), strict=True)
    return used, torch.cat(audio_out, -1), torch.cat(latents, 1)


def test_a_primed_stream_continues_its_prompt_from_the_backbone_and_the_decoder(pipeline):
    """Its patches are those of a stream whose LM was stepped through the prompt's latents one
    patch at a time, and its audio is the decoder's output for prompt + patches, past the
    prompt: the decoder continues where the prompt's last frame left it."""
    audio = prompt_audio(pipeline, 3)
    used, got_audio, got = primed_stream(pipeline, audio)
    assert used == 3
    backbone, codec, scale = pipeline.backbone, pipeline.codec, pipeline.config.latent_scale
    frames = backbone.patch_frames
    with torch.inference_mode():
        prompt = codec.encode(audio[None]) / scale
        session = pipeline._open(pipeline.encode_inputs(TEXT)[0], (1,), None)
        state = session.backbone_state
        previous = None
        for index in range(3):  # start token, then the prompt patch by patch
            _, state = backbone.step(previous, state)
            previous = prompt[:, index * frames:(index + 1) * frames]
        session.backbone_state, session.last_patch = state, previous
        want = torch.cat([session.next_patches()[1] for _ in range(3)], 1)
        decoded = codec.decode(torch.cat((prompt, want), 1) * scale)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    tail = pipeline.output_gain(decoded[0, :, audio.shape[-1]:])
    torch.testing.assert_close(got_audio[0], tail, atol=1e-4 * float(tail.abs().max()), rtol=0)


def test_the_prompt_steers_the_stream_and_only_its_whole_patches_count(pipeline):
    audio = prompt_audio(pipeline, 2)
    _, first, _ = primed_stream(pipeline, audio)
    _, again, _ = primed_stream(pipeline, audio)
    torch.testing.assert_close(again, first)
    ragged = torch.cat((prompt_audio(pipeline, 0.5, seed=9), audio), -1)  # a part patch first
    used, cut, _ = primed_stream(pipeline, ragged)
    assert used == 2
    torch.testing.assert_close(cut, first)
    _, other, _ = primed_stream(pipeline, prompt_audio(pipeline, 2, seed=5))
    assert not torch.allclose(other, first, atol=1e-3)
    unprimed = pipeline.generate(TEXT, duration=first.shape[-1] / SAMPLE_RATE, seed=1)
    assert not torch.allclose(unprimed, first[0], atol=1e-3)


def test_each_row_may_have_its_own_prompt():
    pipeline = tiny_pipeline()
    prompts = torch.stack([prompt_audio(pipeline, 2, seed=1), prompt_audio(pipeline, 2, seed=2)])
    session = pipeline._open(pipeline.encode_inputs(TEXT)[0], (3, 3), None)
    session.prime(prompts)
    both, _ = session.next_patches()
    for row in range(2):
        alone = pipeline._open(pipeline.encode_inputs(TEXT)[0], (3,), None)
        alone.prime(prompts[row])
        torch.testing.assert_close(alone.next_patches()[0][0], both[row], atol=1e-4, rtol=1e-4)


def test_a_compiled_primed_stream_equals_the_ordinary_one():
    plain, compiled = tiny_pipeline(), tiny_pipeline().compile(backend="eager")
    audio = prompt_audio(plain, 11)  # past the test pipeline's 8-patch window: the ring wraps
    results = [primed_stream(pipeline, audio, patches=4)[1] for pipeline in (plain, compiled)]
    torch.testing.assert_close(results[1], results[0], atol=1e-4, rtol=1e-4)


def test_bad_prompts_are_refused_in_one_line(pipeline):
    session = pipeline._open(pipeline.encode_inputs(TEXT)[0], (0,), None)
    for audio, message in ((torch.zeros(2, 4000), r"AmbiX \(4, samples\)"),
                           (torch.zeros(4, 10), "at least one patch")):
        with pytest.raises(GenerationError, match=message) as error:
            session.prime(audio)
        assert "\n" not in str(error.value)
    session.next_patches()
    with pytest.raises(GenerationError, match="already made chunks"):
        session.prime(prompt_audio(pipeline, 1))
    video = {"frames": panorama_frames(4), "fps": 25.0}
    text_tokens, video_tokens, _ = pipeline.clip_inputs(TEXT, video, None)
    with pytest.raises(GenerationError, match="video"):
        pipeline._open(text_tokens, (0,), video_tokens).prime(prompt_audio(pipeline, 1))


def test_generate_and_takes_continue_an_audio_prompt(pipeline):
    audio = prompt_audio(pipeline, 2)
    _, want, _ = primed_stream(pipeline, audio, patches=2)
    duration = want.shape[-1] / SAMPLE_RATE
    got = pipeline.generate(TEXT, duration=duration, seed=1, audio_prompt=audio)
    torch.testing.assert_close(got, want[0])
    takes = pipeline.generate_takes(TEXT, duration=duration, seeds=(1, 2), audio_prompt=audio)
    torch.testing.assert_close(takes.audio[0], want[0], atol=1e-4 * float(want.abs().max()),
                               rtol=0)


def test_prompts_no_stream_could_continue_are_refused(pipeline):
    audio = prompt_audio(pipeline, 1)
    video = {"frames": panorama_frames(4), "fps": 25.0}
    with pytest.raises(GenerationError, match="video"):
        pipeline.generate(TEXT, video, duration=0.1, audio_prompt=audio)
    separate = pipeline.replace(sources="separate")
    with pytest.raises(GenerationError, match="name one sound at one place"):
        separate.generate("a bell on the left and a dog behind you", duration=0.1,
                          audio_prompt=audio)


@pytest.mark.parametrize("patches", [1, 3])
def test_a_backbone_that_takes_a_reference_follows_the_prompt_and_silent_rows_get_none(
        pipeline, patches):
    """The prompt's first ``reference_frames`` latent frames (a shorter prompt repeated) become
    each sounding row's reference for the rest of the stream."""
    following = pipeline.replace(backbone={"reference_frames": 5})
    audio = torch.stack([prompt_audio(following, patches, seed=3),
                         torch.zeros(4, patches * following.samples_per_patch)])
    session = following._open(following.encode_inputs(TEXT)[0], (1, 2), None)
    session.prime(audio)
    state = session.backbone_state
    with torch.inference_mode():
        latents = following.prompt_latents(audio)
    repeated = latents.repeat(1, -(-5 // latents.shape[1]), 1)[:, :5]
    torch.testing.assert_close(state.reference, repeated, atol=0, rtol=0)
    assert state.reference_valid.tolist() == [True, False]
    session.next_patches()
    assert session.backbone_state.reference is not None  # kept along the stream
    plain = pipeline._open(pipeline.encode_inputs(TEXT)[0], (1,), None)
    plain.prime(audio[0])
    assert plain.backbone_state.reference is None


# ---------------------------------------------------------------- exemplar prompts

@pytest.fixture(scope="module")
def bank():
    return synthetic_exemplar_bank()


def test_a_prompt_naming_a_known_sound_starts_from_its_exemplar(pipeline, bank):
    with_bank = pipeline.replace(exemplars=bank, exemplar_prompts=True)
    named = "a siren wails behind you"
    want = pipeline.generate(named, duration=0.2, seed=2, audio_prompt=bank.prompt(named))
    torch.testing.assert_close(with_bank.generate(named, duration=0.2, seed=2), want)
    unnamed = "a sound on the left"
    torch.testing.assert_close(with_bank.generate(unnamed, duration=0.2, seed=2),
                               pipeline.generate(unnamed, duration=0.2, seed=2))
    off = with_bank.replace(exemplar_prompts=False)
    torch.testing.assert_close(off.generate(named, duration=0.2, seed=2),
                               pipeline.generate(named, duration=0.2, seed=2))
    video = {"frames": panorama_frames(8), "fps": 25.0}  # video sets the time: no exemplar
    torch.testing.assert_close(with_bank.generate(named, video, duration=0.2, seed=2),
                               pipeline.generate(named, video, duration=0.2, seed=2))


def test_a_chained_exemplar_prompt_is_read_from_its_last_clip_and_varied_whole(pipeline):
    """With ``exemplar_chain`` a stream starts from its class's clips one after another: it
    reads the last of them as its history and an anchored stream loops over all of them,
    from the take's own phase of the whole loop."""
    from swansphere.pipeline import loop_phase

    bank = synthetic_exemplar_bank(per_class=3)
    chained = pipeline.replace(exemplars=bank, exemplar_prompts=True, exemplar_chain=True,
                               exemplar_anchor=0.5)
    named = "a siren wails behind you"
    prompt = bank.prompt(named, seed=2, chain=True)
    assert prompt.shape[-1] == 3 * bank.audio.shape[-1]
    session = chained._open(chained.encode_inputs(named)[0], (2,), None)
    session.prime_for([named])
    with torch.inference_mode():
        whole = chained.prompt_latents(prompt[None])
    torch.testing.assert_close(session.anchor, whole)
    torch.testing.assert_close(session.prompt, whole[:, -whole.shape[1] // 3:])  # last clip
    patches = whole.shape[1] // chained.backbone.patch_frames
    assert session.anchor_phase.tolist() == [loop_phase(2, patches)]
    with pytest.raises(GenerationError, match="history_patches is at least 1"):
        chained._open(chained.encode_inputs(named)[0], (2,), None).prime(prompt,
                                                                         history_patches=0)
    single = chained.replace(exemplar_chain=False)
    session = single._open(single.encode_inputs(named)[0], (2,), None)
    session.prime_for([named])
    assert session.anchor.shape[1] == session.prompt.shape[1] == whole.shape[1] // 3


def test_batched_rows_start_from_their_own_exemplar_or_silence(pipeline, bank):
    with_bank = pipeline.replace(exemplars=bank, exemplar_prompts=True)
    texts = ["a bell rings on the left", "a sound above you"]
    steps = list(with_bank.stream_many(texts, duration=0.2, seeds=[4, 5]))
    silence = torch.zeros(4, bank.audio.shape[-1])
    for row, (text, prompt) in enumerate(zip(texts, (bank.prompt(texts[0]), silence),
                                             strict=True)):
        alone = pipeline.generate(text, duration=0.2, seed=4 + row, audio_prompt=prompt)
        got = torch.cat([step[row].audio for step in steps], -1)
        torch.testing.assert_close(got, alone, atol=1e-3 * float(alone.abs().max()), rtol=0)
    separate = with_bank.replace(sources="separate")  # each place's clause: its own exemplar
    scene = "a bell rings on the left and a siren wails behind you"
    clauses = [pipeline.generate(clause, duration=0.2, seed=7 + offset,
                                 audio_prompt=bank.prompt(clause))
               for offset, clause in enumerate(("a bell rings on the left",
                                                "a siren wails behind"))]
    mixed = clauses[0] + clauses[1]
    torch.testing.assert_close(separate.generate(scene, duration=0.2, seed=7), mixed,
                               atol=1e-3 * float(mixed.abs().max()), rtol=0)


def test_a_bank_is_saved_with_its_pipeline_and_needed_where_switched_on(pipeline, bank,
                                                                       tmp_path):
    from swansphere.pipeline import Pipeline

    with_bank = pipeline.replace(exemplars=bank, exemplar_prompts=True)
    loaded = Pipeline.from_pretrained(with_bank.save_pretrained(tmp_path / "model"))
    assert loaded.config.exemplar_prompts and loaded.exemplars.class_names == bank.class_names
    text = "a bell rings on the left"
    want = pipeline.generate(text, duration=0.2, audio_prompt=loaded.exemplars.prompt(text))
    torch.testing.assert_close(loaded.generate(text, duration=0.2), want,  # float16 clips
                               atol=1e-4 * float(want.abs().max()), rtol=0)
    with pytest.raises(ConfigError, match="exemplar bank"):
        pipeline.replace(exemplar_prompts=True)
    with pytest.raises(ConfigError, match="Hz"):
        pipeline.replace(exemplars=attrs.evolve(bank, sample_rate=16000))
