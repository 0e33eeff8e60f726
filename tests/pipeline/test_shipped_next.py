"""The default model, ``tiny-next``, makes the sound a prompt names, where its words put it.

Its streams start from the named class's exemplar and vary it patch by patch
(``exemplar_anchor``): each clip's sound profile
(mean log-mel spectrum, no learned model) is nearer the exemplar of the class its prompt
names than to the other classes' here. A model that ignored its start or its words
would make one kind of sound for all of them and fail all but one. Measured with the shipped weights
(2 s, seeds 0-1): every clip's nearest exemplar is its own, by cosine 0.95-1.00. Its exact
output is pinned to a recording (``GOLDEN``, as for ``tiny``); after shipping new weights,
re-record it with ``python tests/pipeline/test_shipped_next.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pipeline_helpers import assert_reproduces, panorama_with_source, stream_latents

from swansphere.cli_args import DEFAULT_MODEL
from swansphere.conditioning.text import minilm_available
from swansphere.errors import GenerationError
from swansphere.metrics.direction import angle_between
from swansphere.pipeline import BUILTIN_MODELS, Pipeline
from swansphere.spatial import direction
from swansphere.spatial.words import prompt_direction

pytestmark = pytest.mark.skipif(not minilm_available(),
                                reason="tiny-next's text encoder is the `text` extra's MiniLM")

GOLDEN = Path(__file__).with_name("shipped_next_latents.npy")
PROMPTS = {"kick drum": "a kick drum thumps on the left", "flute": "a flute plays behind you",
           "rain": "rain falls in front", "hi-hat": "a hi-hat ticks on the right",
           "cello": "a cello plays above you", "siren": "a siren wails on the left",
           "person talking": "a person talks behind you", "man speaking": "a man talks behind you",
           "woman speaking": "a woman speaks ahead", "maracas": "maracas shake on the right",
           "cow": "a cow moos behind you", "bee": "a bee buzzes above you",
           "dog": "a dog barks on the left"}


@pytest.fixture(scope="module")
def shipped() -> Pipeline:
    return Pipeline.from_pretrained("tiny-next")


def sound_profile(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Unit mean log-mel spectrum of a mono signal (the aisfx front end, untrained)."""
    import torchaudio.functional

    from swansphere.metrics.embedding import SAMPLE_RATE, LogMelFrontEnd

    mono = torchaudio.functional.resample(audio.float(), sample_rate, SAMPLE_RATE)
    return F.normalize(LogMelFrontEnd()(mono).mean(0), dim=-1)


def test_it_is_what_its_card_says(shipped):
    config = shipped.config
    assert shipped.video_encoder is None and config.text.type == "minilm"
    assert config.place_hold == 1.0 and config.sources == "separate"
    assert config.exemplar_prompts and len(shipped.exemplars.class_names) >= 100
    assert config.exemplar_anchor == 0.9 and config.exemplar_phases and config.exemplar_chain
    assert shipped.exemplars.chain_clips == 4 and config.exemplar_steps == 2
    assert config.video_places == "salient"
    assert config.place_focus == 0.5 and DEFAULT_MODEL == "tiny-next"
    folder = BUILTIN_MODELS / "tiny-next"
    size = sum((folder / name).stat().st_size
               for name in ("model.safetensors", "exemplars.safetensors"))
    assert size <= 40e6
    assert "Video for places only" in (folder / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize(("azimuth", "elevation"), [(-60.0, 20.0), (150.0, -10.0)])
def test_a_sound_lands_where_its_video_shows_something(shipped, azimuth, elevation):
    """It reads a video for its places alone (video_places = "salient"); measured: 0.5-2.4°
    off for three places and three prompts, a place word in the prompt overruled. With no
    words its quiet, diffuse sound is placed by the focus (place_focus): 0.4-1.7° for four
    places and two seeds, 3.6-4.7° without the focus."""
    frames = np.stack([panorama_with_source(azimuth, elevation, width=256)] * 8)
    for text, bound in (("a flute plays", 6.0), ("maracas shake on the left", 6.0), (None, 3.0)):
        audio = shipped.generate(text, {"frames": frames, "fps": 4.0}, seed=0)
        assert float(angle_between(*direction(audio), azimuth, elevation)) <= bound, text


def test_it_refuses_a_video_that_is_no_panorama_with_one_line(shipped):
    frames = {"frames": np.zeros((4, 32, 40, 3), dtype=np.uint8), "fps": 4.0}
    with pytest.raises(GenerationError, match="2:1 panoramas"):
        shipped.generate("a flute plays", frames, duration=0.5)


def test_each_clip_sounds_like_the_class_its_words_name(shipped):
    bank, rate = shipped.exemplars, shipped.sample_rate
    exemplars = {name: sound_profile(bank.audio[bank.clip_classes.index(
        bank.class_names.index(name))], rate) for name in PROMPTS}
    for seed in (0, 1):
        for name, text in PROMPTS.items():
            profile = sound_profile(shipped.generate(text, duration=2.0, seed=seed)[0], rate)
            similarity = {other: float(profile @ exemplar)
                          for other, exemplar in exemplars.items()}
            assert max(similarity, key=similarity.get) == name, (text, seed, similarity)


def test_a_sound_lands_where_its_words_put_it(shipped):
    for text in ("a flute plays behind you", "a cello plays above you on the right",
                 "rain falls at 10 o'clock"):
        target = prompt_direction(text)
        audio = shipped.generate(text, duration=1.0, seed=0)
        assert float(angle_between(*direction(audio), *target)) <= 10.0, text


def golden_latents(pipeline: Pipeline) -> torch.Tensor:
    """Six patches of one stream: exemplar start, reference, text, LM, LocEnc, LocDiT,
    guidance and sampler all shape them."""
    return stream_latents(pipeline, "a flute plays behind you")


@pytest.mark.parametrize("text", ["a bell rings on the left", "I hear a fiddle behind you",
                                  "a sound up high", "a baby cries far away"])
def test_its_words_are_read_in_one_pass_as_in_two(shipped, text, monkeypatch):
    """A text-only stream reads the caption's MiniLM states and the exemplar bank's query in
    one pass (the weights read once): the bank's own match, and the stream that two passes
    make, up to rounding."""
    _, _, _, matches = shipped._clip_inputs(text, None, 1.0, match_words=True)
    for got, own in zip(matches, shipped.exemplars.prompt_matches([text]), strict=True):
        assert (got and got[0]) == (own and own[0])
        assert got is None or got[1] == pytest.approx(own[1], abs=1e-5)
    one_pass = stream_latents(shipped, text, patches=4)
    monkeypatch.setattr(type(shipped.text_encoder), "embeds_like", lambda self, source: False)
    assert shipped._clip_inputs(text, None, 1.0, match_words=True)[3] is None
    two_passes = stream_latents(shipped, text, patches=4)
    assert float((one_pass - two_passes).norm() / two_passes.norm()) < 1e-4


def test_many_streams_read_their_words_in_one_pass_as_in_two(shipped, monkeypatch):
    """``stream_many`` (and so a prompt of several places) reads every row's caption and the
    distinct queries in one pass too: the streams of two passes, a row without words and a
    repeated prompt included."""
    texts = ["a bell rings on the left", None, "a fiddle plays behind you",
             "a bell rings on the left", "a sound up high"]

    def streams() -> torch.Tensor:
        steps = shipped.stream_many(texts, duration=4 * shipped.patch_seconds, seeds=range(5))
        return torch.stack([torch.stack([chunk.latents for chunk in step]) for step in steps])

    one_pass = streams()
    monkeypatch.setattr(type(shipped.text_encoder), "embeds_like", lambda self, source: False)
    two_passes = streams()
    assert float((one_pass - two_passes).norm() / two_passes.norm()) < 1e-4


def test_two_sounds_at_one_place_are_two_streams_held_there(shipped):
    """"I hear a flute and a cello behind you": each sound starts from its own exemplar and
    is held behind; the clip is the sum of the two streams (seeds 3 and 4), as for two
    places. Taken whole it started from the flute alone and lost the cello."""
    text = "I hear a flute and a cello behind you"
    readings = shipped.read_prompt(text)
    assert [reading.exemplar for reading in readings] == ["flute", "cello"]
    assert all(reading.held and reading.places == ((180.0, 0.0),) for reading in readings)
    mixed = shipped.generate(text, duration=0.4, seed=3)
    parts = [shipped.generate(reading.text, duration=0.4, seed=3 + index)
             for index, reading in enumerate(readings)]
    torch.testing.assert_close(mixed, parts[0] + parts[1], atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("family", ["training", "held_out"])
def test_captions_of_one_sound_a_place_are_never_cut_between_sounds(shipped, family):
    """The content benchmark's captions, one to three sources each with a place of its own
    (their wordings hold "with", "and", commas): the bank finds one sound at each place, so
    they stream exactly as before sounds were cut apart."""
    from swansphere.evaluation.content import content_cases
    from swansphere.spatial.words import source_clauses

    classes = sorted(set(shipped.exemplars.class_names))
    for sources, count in ((1, 100), (2, 50), (3, 20)):
        for case in content_cases(classes, count=count, sources=sources, family=family):
            assert shipped._source_clauses(case.text) == source_clauses(case.text), case.text


def test_it_reproduces_its_recorded_output(shipped):
    assert_reproduces(golden_latents(shipped), GOLDEN)


if __name__ == "__main__":
    np.save(GOLDEN, golden_latents(Pipeline.from_pretrained("tiny-next")).numpy())
    print(f"recorded {GOLDEN}")
