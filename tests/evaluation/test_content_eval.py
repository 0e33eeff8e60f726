"""The content evaluation: cases, references, drop-outs and the figures of a real run."""

from __future__ import annotations

import math

import pytest
import torch

from swansphere.errors import ConfigError
from swansphere.evaluation.content import (
    FRAME_SECONDS,
    References,
    caption_identity,
    content_cases,
    dropout_share,
    generated_takes,
    local_levels,
    recording_dropouts,
    scene_silences,
    summarise,
    sustained_dropout_share,
)
from swansphere.spatial.words import prompt_directions

RATE = 16000


def test_cases_name_their_classes_and_targets_are_what_the_words_say():
    classes = ["bell", "whistling", "engine"]
    cases = content_cases(classes, count=6, sources=2, family="held_out", seed=3)
    assert len(cases) == 6
    assert {case.classes[0] for case in cases} == set(classes)  # every class asked for
    for case in cases:
        assert len(set(case.classes)) == 2 and case.family == "held_out"
        assert list(case.directions) == prompt_directions(case.text)
    assert cases == content_cases(classes, count=6, sources=2, family="held_out", seed=3)


class CaptionOracle:
    """A text conditioner that knows the class of the captions it was told: two one-hot
    tokens of that class (zeros for any other caption) and a padding token; with
    ``precompute`` it gives the same as frozen states."""

    def __init__(self, known: dict[str, str], classes: list[str]) -> None:
        self.known, self.classes = known, classes

    def prepare(self, texts):
        from swansphere.conditioning.types import PreparedText

        ids = torch.tensor([[self.classes.index(self.known[text]) + 1 if text in self.known
                             else 0] * 2 + [len(text) % len(self.classes)] for text in texts])
        mask = torch.tensor([[True, True, False]] * len(texts))
        return PreparedText(ids=ids, mask=mask, present=torch.ones(len(texts), dtype=bool))

    def _states(self, prepared):
        states = torch.nn.functional.one_hot(prepared.ids, len(self.classes) + 1)[..., 1:]
        states = states.float()
        # the padding token: a loud class unrelated to the caption's, that pooling must skip
        states[:, 2] = 50 * torch.nn.functional.one_hot(prepared.ids[:, 2], len(self.classes))
        return states

    def __call__(self, prepared):
        from swansphere.conditioning.types import ConditionTokens

        return ConditionTokens(tokens=self._states(prepared), mask=prepared.mask)

    def precompute(self, prepared):
        import attrs

        return attrs.evolve(prepared, states=self._states(prepared))


def test_caption_identity_names_held_out_captions_by_training_caption_centroids():
    classes = ["bell", "whistling", "engine", "rain", "siren"]
    training = content_cases(classes, count=10, family="training")
    held = content_cases(classes, count=10, family="held_out")
    both = {case.text: case.classes[0] for case in training + held}
    report = caption_identity(CaptionOracle(both, classes), classes, captions=10, held_out=10)
    assert report["conditioner"]["top1"] == report["frozen"]["top1"] == 1.0
    assert report["conditioner"]["chance_top1"] == pytest.approx(0.2)
    assert "states" not in report

    def one_hot_states(texts):   # further features that name the class, as an LM's h might
        return torch.eye(len(classes))[[classes.index(both[text]) for text in texts]]

    report = caption_identity(CaptionOracle(both, classes), classes, captions=10, held_out=10,
                              states=one_hot_states)
    assert report["states"]["top1"] == 1.0 and report["states"]["clips"] == 10
    assert report["states_linear"]["top1"] == report["states_linear"]["train_top1"] == 1.0

    # knowing only the training captions, the held-out ones (other words) are not named
    trained_only = {case.text: case.classes[0] for case in training}
    assert not set(trained_only) & {case.text for case in held}
    report = caption_identity(CaptionOracle(trained_only, classes), classes, captions=10,
                              held_out=10)
    assert report["conditioner"]["top1"] <= 0.2 + 1e-9


def test_a_linear_probe_reads_classes_a_nearest_centroid_misses():
    """Two classes told apart by one feature that a larger, irrelevant one swamps: the
    centroids see mostly the noise, one linear layer reads the class."""
    from swansphere.evaluation.content import linear_probe
    from swansphere.evaluation.identity import ClassCentroids

    generator = torch.Generator().manual_seed(0)

    def draw(count):
        labels = ["a", "b"] * (count // 2)
        signal = torch.tensor([1.0 if n == "a" else -1.0 for n in labels])
        noise = 30 * torch.randn(count, 1, generator=generator)
        features = torch.cat([noise + 0.01 * signal[:, None], noise, signal[:, None]
                              + 10], dim=1)
        return labels, features

    labels, features = draw(200)
    test_labels, test_features = draw(100)
    probe = linear_probe(labels, features, test_labels, test_features)
    assert probe["top1"] == probe["train_top1"] == 1.0 and probe["chance_top1"] == 0.5
    centroid = ClassCentroids.fit(labels, features).accuracy(test_labels, test_features,
                                                             ks=(1,))
    assert centroid["top1"] < 0.8
    with pytest.raises(ConfigError, match="no fitted features"):
        linear_probe(labels, features, ["c"], test_features[:1])


def test_dropout_share_counts_silent_frames_where_the_reference_sounds():
    frame = round(FRAME_SECONDS * RATE)
    reference = torch.randn(40 * frame, generator=torch.Generator().manual_seed(0))
    reference[30 * frame:] = 0.0                     # the reference sounds in 30 frames
    generated = torch.randn(40 * frame, generator=torch.Generator().manual_seed(1))
    generated[10 * frame:16 * frame] = 0.0           # 6 of them dropped
    generated[32 * frame:] = 0.0                     # silence where the reference is silent
    assert dropout_share(generated, reference, RATE) == pytest.approx(6 / 30)
    assert dropout_share(reference, reference, RATE) == 0.0
    assert dropout_share(torch.zeros_like(reference), reference, RATE) == 1.0  # all silent
    assert math.isnan(dropout_share(reference, torch.zeros_like(reference), RATE))


def _sustained(frames: int, seed: int) -> torch.Tensor:
    """Steady noise at -20 dBFS, like rain or an engine."""
    return 0.1 * torch.randn(frames * round(FRAME_SECONDS * RATE),
                             generator=torch.Generator().manual_seed(seed))


def _dip(signal: torch.Tensor, first: int, count: int, db: float) -> torch.Tensor:
    frame = round(FRAME_SECONDS * RATE)
    out = signal.clone()
    out[first * frame:(first + count) * frame] *= 10 ** (db / 20)
    return out


@pytest.mark.parametrize("depth", [25.0, 40.0])
def test_a_planted_gap_inside_a_sustained_sound_is_a_drop_out(depth):
    """One 128 ms patch (2 frames) 25 dB down inside steady noise: audible, and counted (the
    measure once needed 30 dB below the clip's loud frames and missed it)."""
    reference, generated = _sustained(60, 0), _sustained(60, 1)
    planted = _dip(generated, 20, 2, -depth)
    assert dropout_share(planted, reference, RATE) == pytest.approx(2 / 60)
    assert sustained_dropout_share(planted, RATE) == pytest.approx(2 / 60)
    assert dropout_share(generated, reference, RATE) == 0.0
    assert sustained_dropout_share(generated, RATE) == 0.0


def test_wobble_ends_and_sparse_sounds_are_not_drop_outs():
    wobble = _dip(_dip(_sustained(60, 1), 10, 3, -10.0), 40, 1, -12.0)
    assert sustained_dropout_share(wobble, RATE) == 0.0        # a few dB: the sound itself
    ends = _dip(_sustained(60, 2), 30, 30, -80.0)              # the sound stops halfway
    assert sustained_dropout_share(ends, RATE) == 0.0
    ticks = _dip(_sustained(60, 3), 0, 60, -60.0)              # a clock: one loud frame in 8
    for tick in range(0, 60, 8):
        ticks = _dip(ticks, tick, 1, 60.0)
    assert math.isnan(sustained_dropout_share(ticks, RATE))   # no sustained sound at all
    assert math.isnan(sustained_dropout_share(torch.zeros(4000), RATE))


def test_recordings_are_scored_against_each_other_as_a_generator_would_be():
    """Two steady recordings never drop out against each other; a drum whose rests fall where
    the other recording sounds does, and so does a recording with a gap of its own."""
    steady = [_sustained(60, seed) for seed in range(3)]
    references = References({"rain": steady, "drone": [_sustained(60, 9)]}, None, RATE)
    assert recording_dropouts(references) == {"dropout_share": 0.0, "gap_share": 0.0,
                                              "pairs": 3}
    gapped = _dip(steady[1], 20, 2, -40.0)
    references = References({"rain": [steady[0], gapped]}, None, RATE)
    figures = recording_dropouts(references)
    assert figures["dropout_share"] == pytest.approx((2 / 60 + 0.0) / 2)  # one way round only
    assert figures["gap_share"] == pytest.approx((0.0 + 2 / 60) / 2)
    assert math.isnan(recording_dropouts(References({"a": [steady[0]]}, None, RATE))
                      ["dropout_share"])


def test_local_level_is_a_running_median_that_ignores_short_dips():
    levels = torch.tensor([0.0] * 10 + [-40.0, -40.0] + [0.0] * 10)
    assert local_levels(levels).tolist() == [0.0] * 22
    step = torch.tensor([0.0] * 10 + [-60.0] * 10)
    assert local_levels(step)[:9].tolist() == [0.0] * 9        # edges stay where they are
    assert local_levels(step)[11:].tolist() == [-60.0] * 9


def test_summary_means_by_source_count_with_chance():
    rows = [{"sources": 1, "rank": 1, "angular": 0.1, "map_correlation": 0.9, "level_db": -20,
             "reference_level_db": -20, "dropout_share": 0.0},
            {"sources": 1, "rank": 7, "angular": 0.3, "map_correlation": 0.7, "level_db": -30,
             "reference_level_db": -20, "dropout_share": math.nan},
            {"sources": 2, "beam_ranks": [1, 3], "map_correlation": 0.5, "level_db": -25,
             "reference_level_db": -20, "dropout_share": 0.5}]
    summary = summarise(rows, classes=10)
    assert summary["top1"] == 0.5 and summary["top5"] == 0.5 and summary["chance_top5"] == 0.5
    assert summary["angular"] == pytest.approx(0.2)
    assert summary["beam_top1"] == 0.5 and summary["beam_top5"] == 1.0
    assert summary["map_correlation_two"] == 0.5 and summary["level_db"] == -25
    assert summary["dropout_share"] == 0.25  # the undefined clip is left out
    assert math.isnan(summary["gap_share"])  # rows without their own gaps: nothing to mean
    gapped = [{**row, "gap_share": share} for row, share in zip(rows, (0.1, math.nan, 0.3),
                                                                  strict=True)]
    assert summarise(gapped, classes=10)["gap_share"] == pytest.approx(0.2)
    assert summary["median_rank"] == 4.0 and summary["chance_median_rank"] == 5.5
    assert summary["over_full_scale"] == 0.0


def test_summary_counts_clips_over_full_scale_and_ranks_of_one_source_only():
    rows = [{"sources": 1, "rank": 2, "angular": 0.1, "map_correlation": 0.9, "level_db": 3.0,
             "reference_level_db": -20, "dropout_share": 0.0},
            {"sources": 2, "beam_ranks": [9, 9], "map_correlation": 0.5, "level_db": -1.0,
             "reference_level_db": -20, "dropout_share": 0.0}]
    summary = summarise(rows, classes=9)
    assert summary["over_full_scale"] == 0.5
    assert summary["median_rank"] == 2.0 and summary["chance_median_rank"] == 5.0


def test_summary_counts_silent_clips_which_the_mean_level_hides():
    levels = [-20.0, -22.0, -110.0, -24.0]
    references = [-18.0, -20.0, -40.0, -26.0]
    rows = [{"sources": 1, "rank": 1, "angular": 0.1, "map_correlation": 0.9, "level_db": level,
             "reference_level_db": reference, "dropout_share": 0.0}
            for level, reference in zip(levels, references, strict=True)]
    summary = summarise(rows, classes=9)
    assert summary["silent_clips"] == 0.25 and summary["median_level_db"] == -23.0
    assert summary["reference_median_level_db"] == -23.0
    assert summary["reference_level_db"] == -26.0
    assert summary["level_db"] == -44.0


def test_scene_silences_are_the_generated_clips_figures_for_training_scenes():
    """A loud scene, one silent for its first patch, one with a gap inside its sound and a
    silent one; only W counts (Z here is 20 dB louder, X steady noise throughout)."""
    frame = round(FRAME_SECONDS * RATE)
    loud = _sustained(60, 0)
    late = _dip(_sustained(60, 1), 0, 2, -80.0)     # the first 128 ms (2 frames) silent
    gap = _dip(_sustained(60, 2), 30, 2, -40.0)     # one patch missing inside the sound
    silent = torch.zeros(60 * frame)
    omnis = (loud, late, gap, silent)
    steady = _sustained(60, 9)
    figures = scene_silences([torch.stack([w, w, 10 * w, steady]) for w in omnis], RATE,
                             first_seconds=2 * FRAME_SECONDS)
    levels = [10 * math.log10(max(float(w.double().square().mean()), 1e-24)) for w in omnis]
    assert figures["scenes"] == 4 and figures["silent_clips"] == 0.25
    assert figures["silent_first"] == 0.5                            # late and silent
    assert figures["mean_level_db"] == pytest.approx(sum(levels) / 4)
    assert figures["median_level_db"] == pytest.approx(sum(sorted(levels)[1:3]) / 2)
    # a 2-frame silent start is as short as a gap, and counts as one; silence is NaN, left out
    assert figures["dropout_share"] == pytest.approx((0 + 2 / 60 + 2 / 60) / 3)


def test_takes_are_each_seeds_clip_for_streaming_and_whole_clip_pipelines():
    """The global baseline has no batched takes: take k must be its clip of seed k (the
    streaming pipeline's batched takes match its own clips up to float rounding)."""
    from pipeline_helpers import tiny_pipeline

    from swansphere.evaluation.baselines import GlobalBaseline

    streaming = tiny_pipeline()
    torch.manual_seed(0)
    whole_clip = GlobalBaseline.same_size_as(streaming).pipeline
    for pipeline in (streaming, whole_clip):
        takes = generated_takes(pipeline, "a bell on the left", 0.05, (3, 5))
        assert takes.shape == (2, 4, 400)
        for take, seed in zip(takes, (3, 5), strict=True):
            clip = pipeline.generate("a bell on the left", duration=0.05, seed=seed)
            torch.testing.assert_close(take, clip, atol=1e-4, rtol=1e-3)
        assert not torch.allclose(takes[0], takes[1])


@pytest.mark.slow
def test_the_benchmark_runs_on_the_shipped_model_with_the_synthetic_set(tmp_path):
    pytest.importorskip("aisfx")
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "content_eval.py"
    out = tmp_path / "content.json"
    subprocess.run([sys.executable, str(script), "--sets", "synthetic", "--cases", "2",
                    "--pairs", "1", "--duration", "1", "--json", str(out)], check=True,
                   capture_output=True)
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert summary["classes"] == 10 and summary["single_clips"] == 2
    assert summary["two_source_clips"] == 1 and 0 <= summary["top5"] <= 1
    assert summary["ceiling"]["own_centroid"]["clips"] >= 10 and summary["fd"] >= 0
    assert all(case["text"] for case in report["cases"])
    # the cascade of the same model: its W channel, so the same sound, panned to the place
    subprocess.run([sys.executable, str(script), "--sets", "synthetic", "--cases", "2",
                    "--pairs", "1", "--duration", "1", "--json", str(out), "--cascade"],
                   check=True, capture_output=True)
    cascade = json.loads(out.read_text())["summary"]
    for key in ("top1", "top5", "median_rank", "level_db", "fd"):
        assert cascade[key] == pytest.approx(summary[key]), key
    assert cascade["angular"] < 0.05 and cascade["map_correlation_single"] > 0.99
    # prompts for chosen classes only, each clip still ranked among every class
    chosen = sorted({name for case in report["cases"] for name in case["classes"]})[:1]
    subprocess.run([sys.executable, str(script), "--sets", "synthetic", "--cases", "2",
                    "--pairs", "0", "--duration", "1", "--json", str(out), "--classes",
                    ",".join(chosen)], check=True, capture_output=True)
    narrowed = json.loads(out.read_text())
    assert {name for case in narrowed["cases"] for name in case["classes"]} == set(chosen)
    assert narrowed["summary"]["classes"] == 10
    refused = subprocess.run([sys.executable, str(script), "--sets", "synthetic", "--classes",
                              "a unicorn"], capture_output=True, text=True)
    assert refused.returncode == 2 and "no held-out references of a unicorn" in refused.stderr


TONES = {"low": 100.0, "mid": 400.0, "high": 1000.0}


class _ToneEmbedding:
    """A stand-in for aisfx: the magnitudes of three tones (``TONES``): classes are pitches."""

    def embed(self, signal: torch.Tensor, sample_rate: int) -> torch.Tensor:
        time = torch.arange(signal.shape[-1]) / sample_rate
        return torch.stack([(signal * torch.exp(-2j * math.pi * f * time)).mean().abs()
                            for f in TONES.values()])[None].float()


def _tone(name: str, seconds: float) -> torch.Tensor:
    time = torch.arange(round(seconds * RATE)) / RATE
    return torch.sin(2 * math.pi * TONES[name] * time)


def _tone_references():
    """The tone embedding and references whose classes are its three pitches (no clips)."""
    from swansphere.evaluation.content import References
    from swansphere.evaluation.identity import ClassCentroids

    embedding = _ToneEmbedding()
    labels = sorted(TONES)
    centroids = ClassCentroids.fit(labels, torch.cat([embedding.embed(_tone(name, 1.0), RATE)
                                                      for name in labels]))
    return embedding, References({name: [] for name in labels}, centroids, RATE)


def test_a_stream_is_ranked_in_parts_and_against_the_exemplar_it_started_from():
    """Low for the first third, high after: the named class (low) ranks first in the first
    part only; the exemplar that the take's seed picks is ranked on its own."""
    from types import SimpleNamespace

    from swansphere.evaluation.content import (
        ContentCase,
        References,
        _single_source_ranks,
    )
    from swansphere.evaluation.identity import ClassCentroids
    from swansphere.spatial import encode

    embedding = _ToneEmbedding()
    labels = sorted(TONES)
    centroids = ClassCentroids.fit(labels, torch.cat([embedding.embed(_tone(name, 1.0), RATE)
                                                      for name in labels]))
    references = References({}, centroids, RATE)
    case = ContentCase("a low hum", "held_out", ("low",), ((0.0, 0.0),))
    clip = torch.cat((_tone("low", 1.0), _tone("high", 2.0)))
    asked = []

    def class_prompt(name, text, seed, chain):
        asked.append((name, text, seed, chain))
        return encode(_tone("low" if seed == 3 else "high", 1.0), 0.0, 0.0)

    def prompt_matches(texts):
        return [("low" if "low" in text else "high", 0.9) for text in texts]

    config = SimpleNamespace(exemplar_prompts=True, exemplar_chain=True)
    primed = SimpleNamespace(config=config,
                             exemplars=SimpleNamespace(class_prompt=class_prompt,
                                                       prompt_matches=prompt_matches))
    ranks = _single_source_ranks(primed, references, embedding, case, 3, clip, windows=3)
    assert ranks["window_ranks"][0] == 1 and min(ranks["window_ranks"][1:]) > 1
    assert ranks["exemplar_rank"] == 1 and asked == [("low", "a low hum", 3, True)]
    assert ranks["exemplar_named"]
    other = ContentCase("a high whine", "held_out", ("low",), ((0.0, 0.0),))
    assert not _single_source_ranks(primed, references, embedding, other, 3, clip,
                                    windows=1)["exemplar_named"]
    plain = SimpleNamespace(config=SimpleNamespace(exemplar_prompts=False), exemplars=None)
    assert set(_single_source_ranks(plain, references, embedding, case, 3, clip,
                                    windows=1)) == {"rank"}


def test_each_source_is_ranked_in_the_beam_towards_its_own_place():
    """Low on the left, high on the right: the cardioid towards each place ranks its own
    tone first; the same two sounds with their places swapped rank each second."""
    from swansphere.evaluation.content import ContentCase, References, _beam_ranks
    from swansphere.evaluation.identity import ClassCentroids
    from swansphere.spatial import encode

    embedding = _ToneEmbedding()
    labels = sorted(TONES)
    centroids = ClassCentroids.fit(labels, torch.cat([embedding.embed(_tone(name, 1.0), RATE)
                                                      for name in labels]))
    references = References({}, centroids, RATE)
    case = ContentCase("a low hum on the left and a high whine on the right", "held_out",
                       ("low", "high"), ((90.0, 0.0), (-90.0, 0.0)))
    placed = encode(_tone("low", 1.0), 90.0, 0.0) + encode(_tone("high", 1.0), -90.0, 0.0)
    swapped = encode(_tone("low", 1.0), -90.0, 0.0) + encode(_tone("high", 1.0), 90.0, 0.0)
    assert _beam_ranks(references, embedding, case, placed) == [1, 1]
    assert _beam_ranks(references, embedding, case, swapped) == [2, 2]


def test_summary_gives_the_reference_scenes_beams_beside_the_clips():
    base = {"sources": 2, "map_correlation": 0.5, "level_db": -20, "reference_level_db": -20,
            "dropout_share": 0.0}
    rows = [{**base, "beam_ranks": [1, 9], "reference_beam_ranks": [1, 1]},
            {**base, "beam_ranks": [3, 2], "reference_beam_ranks": [1, 4]}]
    summary = summarise(rows, classes=10)
    assert summary["beam_top1"] == 0.25 and summary["beam_top5"] == 0.75
    assert summary["reference_beam_top1"] == 0.75 and summary["reference_beam_top5"] == 1.0


def test_summary_gives_the_median_rank_of_each_part_and_of_the_exemplars():
    base = {"sources": 1, "angular": 0.1, "map_correlation": 0.9, "level_db": -20,
            "reference_level_db": -20, "dropout_share": 0.0}
    rows = [{**base, "rank": 2, "window_ranks": [1, 3, 3], "exemplar_rank": 1,
             "exemplar_named": True},
            {**base, "rank": 5, "window_ranks": [1, 1, 9], "exemplar_rank": 7,
             "exemplar_named": False},
            {**base, "rank": 9, "window_ranks": [5, 1, 3]}]
    summary = summarise(rows, classes=10)
    assert summary["window_median_ranks"] == [1.0, 1.0, 3.0]
    # the primed clips alone (the first two) beside their exemplars: like with like
    assert summary["exemplar"] == {
        "clips": 2, "top1": 0.5, "top5": 0.5, "median_rank": 4.0,
        "stream": {"top1": 0.0, "top5": 1.0, "median_rank": 3.5},
        "stream_window_median_ranks": [1.0, 2.0, 6.0],
        "named": 1, "stream_named": {"top1": 0.0, "top5": 1.0, "median_rank": 2.0}}
    plain = summarise([{**base, "rank": 2}], classes=10)
    assert plain["window_median_ranks"] == [] and plain["exemplar"] is None


def test_bank_figures_rank_each_class_exemplar_and_count_what_the_words_find():
    """Low's exemplar is a high tone (rank 3 of 3), mid's and high's their own (rank 1); one
    prompt finds its class, one another class, one none."""
    from types import SimpleNamespace

    from swansphere.evaluation.content import ContentCase, bank_figures

    embedding, references = _tone_references()
    found = {"a low hum": ("low", 0.9), "a mid tone": ("high", 0.6), "a whine": None}
    bank = SimpleNamespace(class_names=("high", "low", "mid"), clip_classes=(0, 1, 1, 2),
                           audio=torch.stack([_tone("high", 0.5), _tone("high", 0.5),
                                              _tone("low", 0.5), _tone("mid", 0.5)]),
                           sample_rate=RATE, match=lambda texts, sound_words: (
                               asked.append(sound_words) or [found[t] for t in texts]))
    asked: list[bool] = []
    cases = [ContentCase(text, "held_out", (name,), ((0.0, 0.0),))
             for text, name in (("a low hum", "low"), ("a mid tone", "mid"),
                                ("a whine", "high"))]
    two = ContentCase("a low hum and a whine", "held_out", ("low", "high"),
                      ((0.0, 0.0), (90.0, 0.0)))
    figures = bank_figures(bank, references, embedding, [*cases, two])
    assert figures["exemplars"] == {"classes": 3, "top1": pytest.approx(2 / 3),
                                    "top5": 1.0, "median_rank": 1.0}
    assert figures["retrieval"] == {"cases": 3, "primed": pytest.approx(2 / 3),
                                    "right": pytest.approx(1 / 3)}
    found |= {"a buzz": ("mid", 0.5), "a hiss": None}
    absent = [ContentCase(text, "held_out", ("other",), ((0.0, 0.0),))
              for text in ("a buzz", "a hiss", "a hiss")]
    figures = bank_figures(bank, references, embedding, cases, [*absent, two])
    assert figures["retrieval"]["absent_cases"] == 3
    assert figures["retrieval"]["false_primed"] == pytest.approx(1 / 3)
    bank_figures(bank, references, embedding, cases, sound_words=False)
    assert asked == [True, True, True, False]  # the words as the caller asks them matched


def test_exemplar_round_trips_rank_the_exemplars_the_words_find_through_the_codec():
    """Only prompts whose words find the named class's exemplar count; a power codec gives
    the round trip with its own phases too, a waveform one has none to guide."""
    from types import SimpleNamespace

    import swansphere
    from swansphere.evaluation.content import ContentCase, exemplar_round_trips
    from swansphere.spatial import encode

    embedding, references = _tone_references()
    found = {"a low hum": ("low", 0.9), "a mid tone": ("high", 0.6), "a whine": None}
    exemplars = {"low": _tone("low", 0.5), "high": _tone("high", 0.5)}
    bank = SimpleNamespace(prompt_matches=lambda texts: [found[t] for t in texts],
                           class_prompt=lambda name, text: exemplars[name][None].repeat(4, 1))
    cases = [ContentCase(text, "held_out", (name,), ((0.0, 0.0),))
             for text, name in (("a low hum", "low"), ("a mid tone", "mid"),
                                ("a whine", "high"))]
    for low_band, kinds in (("power", {"looped", "round_trip", "own_phases"}),
                            ("waveform", {"looped", "round_trip"})):
        codec = swansphere.create("codec", {"type": "foa-parametric", "low_band": low_band})
        guides = []
        guided = codec.guided_decode_step
        codec.guided_decode_step = lambda latents, state, guide, guided=guided, guides=guides: (
            guides.append(guide) or guided(latents, state, guide))
        pipeline = SimpleNamespace(exemplars=bank, codec=codec)
        figures = exemplar_round_trips(pipeline, references, embedding, cases, seconds=1.0)
        assert set(figures) == kinds
        for kind in kinds:
            assert figures[kind] == {"clips": 1, "top1": 1.0, "top5": 1.0, "median_rank": 1.0}
        # the own-phases round trip is decoded with the looped exemplar's own guide
        used = [guide for guide in guides if guide is not None]
        if low_band == "power":
            looped = encode(exemplars["low"].repeat(2), 0.0, 0.0)[None]
            assert len(used) == 1 and torch.equal(used[0], codec.phase_guide(looped))
        else:
            assert used == []


def _tone_mix(weights: dict[str, float], seconds: float = 0.5) -> torch.Tensor:
    return sum(weight * _tone(name, seconds) for name, weight in weights.items())


def _built_references(recordings: dict[str, list[dict[str, float]]]):
    """References built from stand-in clips, each a mix of the three tones."""
    from types import SimpleNamespace

    clips = [SimpleNamespace(label=name, render=lambda rng, rate, samples, mix=mix:
                             _tone_mix(mix).numpy()[:samples])
             for name, mixes in recordings.items() for mix in mixes]
    return References.build(clips, embedding=_ToneEmbedding(), sample_rate=RATE, seconds=0.5)


# "low" holds an odd recording that sounds mid: only its own clip in the centroid names it
ODD_RECORDINGS = {"low": [{"low": 1.0}, {"low": 0.3, "mid": 1.0}],
                  "mid": [{"mid": 0.6, "high": 0.8}, {"mid": 0.6, "high": 0.8}],
                  "high": [{"high": 1.0}]}


def test_a_reference_is_judged_without_its_own_clip_in_its_centroid():
    references = _built_references(ODD_RECORDINGS)
    assert [len(rows) for rows in references.embeddings.values()] == [2, 2, 1]
    without = references.centroids_without("low", 1)
    unit = references.embeddings["low"][0] / references.embeddings["low"][0].norm()
    torch.testing.assert_close(without.centroids[without.labels.index("low")],
                               unit.double())
    torch.testing.assert_close(without.centroids[without.labels.index("mid")],
                               references.centroids.centroids[without.labels.index("mid")])
    assert references.centroids_without("high", 0) is None  # its class's only clip
    with pytest.raises(ConfigError, match="no reference embeddings"):
        references.centroids_without("owl", 0)


def test_the_codec_ceiling_leaves_each_reference_out_of_its_own_centroid():
    """The odd "low" clip is named only against a centroid that holds it: the fair figures
    miss it, the ``own_centroid`` one names every clip; the one-clip class is not judged."""
    from types import SimpleNamespace

    from swansphere.evaluation.content import codec_ceiling

    references = _built_references(ODD_RECORDINGS)
    identity_codec = SimpleNamespace(encode=lambda audio: audio, decode=lambda latents: latents)
    ceiling = codec_ceiling(identity_codec, references, _ToneEmbedding())
    assert ceiling["own_centroid"] == {"clips": 5, "top1": 1.0, "top5": 1.0, "median_rank": 1.0}
    for kind in ("recordings", "round_trip"):
        assert ceiling[kind]["clips"] == 4 and ceiling[kind]["top1"] == 0.75, kind


def test_reference_beams_are_judged_without_the_scenes_own_clips():
    """The scene of case 1 plays each class's second clip: the odd "low" one, placed
    alone in its beam, is not named once its own clip leaves the centroid."""
    from swansphere.evaluation.content import ContentCase, _beam_ranks

    references = _built_references(ODD_RECORDINGS)
    case = ContentCase("a low hum on the left and a high whine on the right", "held_out",
                       ("low", "high"), ((90.0, 0.0), (-90.0, 0.0)))
    embedding = _ToneEmbedding()
    for number, named in ((0, True), (1, False)):  # case 1 plays the odd "low" clip
        scene = references.scene(case, number)
        assert _beam_ranks(references, embedding, case, scene) == [1, 1]  # own clip in
        ranks = _beam_ranks(references, embedding, case, scene, scene=number)
        assert len(ranks) == 1 and (ranks[0] == 1) == named  # "high": its only clip
