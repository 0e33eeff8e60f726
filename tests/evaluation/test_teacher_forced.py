"""The teacher-forced identity probe: each patch sampled from the true history, and its report."""

from __future__ import annotations

import pytest
import torch
from pipeline_helpers import SAMPLE_RATE, tiny_pipeline

from swansphere.errors import ConfigError
from swansphere.evaluation.teacher_forced import (
    identity_probe,
    one_step_patches,
    words_only_patches,
    words_only_states,
)

OVERLAP_CODEC = {"type": "foa-parametric", "sample_rate": SAMPLE_RATE, "hop_length": 16,
                 "low_bins": 4, "envelope_bands": 4, "direction_bands": 2}
TEXT = "a bell rings on the left"


@pytest.fixture(scope="module")
def pipeline():
    return tiny_pipeline().replace(codec=OVERLAP_CODEC)


def true_latents(pipeline, patches: int = 5) -> torch.Tensor:
    frames = patches * pipeline.backbone.patch_frames
    return torch.randn(1, frames, pipeline.backbone.latent_dim,
                       generator=torch.Generator().manual_seed(3))


def test_each_patch_is_sampled_from_the_true_patches_before_it(pipeline):
    latents = true_latents(pipeline)
    frames = pipeline.backbone.patch_frames
    sampled = one_step_patches(pipeline, TEXT, latents, seed=1)
    free = pipeline.generate_takes(TEXT, duration=0.1, seeds=(1,)).latents
    torch.testing.assert_close(sampled[:, :frames], free[:, :frames])  # no history yet
    changed = latents.clone()
    changed[:, 2 * frames:] += 1.0  # the truth changes from patch 2 on
    again = one_step_patches(pipeline, TEXT, changed, seed=1)
    torch.testing.assert_close(again[:, :3 * frames], sampled[:, :3 * frames])
    assert not torch.allclose(again[:, 3 * frames:], sampled[:, 3 * frames:], atol=1e-3)


def test_words_only_patches_follow_the_words_and_never_their_own_samples(pipeline):
    """Patch 0 has no history either way, so it is the stream's own; later patches are the
    ones the LM gives with the start token at every position (no audio fed back)."""
    from swansphere.samplers.guidance import multi_condition_guidance

    frames, backbone = pipeline.backbone.patch_frames, pipeline.backbone
    words = words_only_patches(pipeline, TEXT, 4, seed=1)
    assert words.shape == (1, 4 * frames, backbone.latent_dim)
    free = pipeline.generate_takes(TEXT, duration=0.1, seeds=(1,)).latents
    # the whole-sequence LM and the cached step round float32 differently (~1e-5 here)
    torch.testing.assert_close(words[:, :frames], free[:, :frames], atol=1e-4, rtol=1e-5)
    assert not torch.allclose(words[:, frames:2 * frames], free[:, frames:2 * frames])
    # patch 3 again, by hand: h of position 3 with nothing heard, the third noise draw after
    generator = torch.Generator().manual_seed(1)
    noises = [torch.randn(1, frames, backbone.latent_dim, generator=generator)
              for _ in range(4)]
    with torch.no_grad():
        h = backbone.hidden_states(torch.zeros_like(words), pipeline.conditions(TEXT),
                                   history=False)[:, 3]
        guidance = pipeline.config.guidance
        velocity = multi_condition_guidance(backbone.guided_model(h), guidance.w1, guidance.w2)
        expected = pipeline.generation_sampler.sample(velocity, noises[3])
    torch.testing.assert_close(words[:, 3 * frames:], expected)
    torch.testing.assert_close(words_only_states(pipeline, [TEXT, TEXT], 3), h.expand(2, -1))
    assert not torch.allclose(words_only_patches(pipeline, "a dog barks behind you", 4, 1),
                              words)


class SpectrumEmbedding:
    """A stand-in for aisfx: the log power of 16 equal frequency bands."""

    def embed(self, signal, sample_rate):
        power = torch.fft.rfft(torch.as_tensor(signal).float()).abs().square()
        bands = power[:(len(power) // 16) * 16].reshape(16, -1).mean(1)
        return torch.log(bands + 1e-9)[None]


def test_the_probe_reports_every_clip_kind_and_latent_part(pipeline):
    from swansphere.data.sources import catalogue
    from swansphere.data.vocabulary import class_clips, split_clips
    from swansphere.evaluation.content import References, content_cases

    held_out = split_clips(class_clips(catalogue(["synthetic"])))[1]
    embedding = SpectrumEmbedding()
    references = References.build(held_out, embedding=embedding, sample_rate=SAMPLE_RATE,
                                  seconds=0.5)
    cases = content_cases(sorted(references.clips), count=2)
    report = identity_probe(pipeline, references, cases, embedding=embedding,
                            prime_seconds=0.1, progress=False)
    parts = pipeline.codec.config.latent_parts()
    kinds = {"codec", "one_step", "continued", "free",
             *(f"sampled {part}" for part in parts), *(f"true {part} only" for part in parts)}
    assert set(report["clips"]) == kinds
    assert report["cases"] == 2 and report["classes"] == len(references.clips)
    for figures in report["clips"].values():
        assert 0 <= figures["top1"] <= figures["top5"] <= 1
        assert 1 <= figures["median_rank"] <= report["classes"]
    # a model trained to hear nothing at times is also asked from its words alone
    hiding = pipeline.replace(backbone={"history_dropout": 0.5})
    report = identity_probe(hiding, references, cases[:1], embedding=embedding,
                            prime_seconds=0.1, progress=False)
    assert set(report["clips"]) == kinds | {"words_only"}


def test_training_oracles_rank_each_kind_and_a_clip_among_its_own_references_first(pipeline):
    """With each class's first training clip as its reference, that clip's round trip is
    what the codec ceiling measures; every kind is ranked for every class."""
    from swansphere.data.sources import catalogue
    from swansphere.data.vocabulary import class_clips, split_clips
    from swansphere.evaluation.content import References, codec_ceiling, training_oracles

    training = split_clips(class_clips(catalogue(["synthetic"])))[0]
    embedding = SpectrumEmbedding()
    firsts = {}
    for clip in training:
        firsts.setdefault(clip.label, clip)
    references = References.build(list(firsts.values()), embedding=embedding,
                                  sample_rate=SAMPLE_RATE, seconds=0.5)
    report = training_oracles(pipeline.codec, references, training, embedding,
                              clips_per_class=3)
    assert set(report) == {"training_clip", "shuffled_frames", "mean_latent"}
    classes = len(references.clips)
    for figures in report.values():
        assert 0 <= figures["top1"] <= figures["top5"] <= 1
        assert 1 <= figures["median_rank"] <= classes
    # the references are those very clips: the first clip's round trip is the ceiling
    # judged against centroids that hold it
    ceiling = codec_ceiling(pipeline.codec, references, embedding)
    for key in ("top1", "top5", "median_rank"):
        assert report["training_clip"][key] == ceiling["own_centroid"][key], key
    assert ceiling["own_centroid"]["top1"] > 0.5
    with pytest.raises(ConfigError, match="no training clips"):
        training_oracles(pipeline.codec, references, training[:1], embedding)
