"""Spatial caption words, ground-truth captions and captions read from the FOA itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.data.captions import (
    LabelledSource,
    SourceDescription,
    caption,
    caption_agreement,
    describe_foa,
    ground_truth_descriptions,
    labelled_sources,
    metadata_caption,
    motion_words,
    separate_known_source,
)
from swansphere.data.render import render_scene
from swansphere.data.scenes import (
    Scene,
    SceneSampler,
    SourceEvent,
    Trajectory,
    scene_metadata,
    unit_vectors,
)
from swansphere.data.synthetic import synthetic_clips
from swansphere.errors import ConfigError
from swansphere.spatial import encode
from swansphere.spatial.words import horizontal_words, position_words

CLIPS = {clip.label: clip for clip in synthetic_clips()}


@pytest.mark.parametrize(("azimuth", "words"), [
    (0, "in front"), (44, "in front on the left"), (90, "on the left"),
    (-90, "on the right"), (180, "behind"), (-179, "behind"), (135, "behind on the left"),
    (-140, "behind on the right"), (-30, "in front on the right"), (400, "in front on the left"),
])
def test_horizontal_sectors(azimuth, words):
    assert horizontal_words(azimuth) == words


def test_position_words_mention_height_and_poles():
    assert position_words(20, 40) == "above and in front"
    assert position_words(-100, -30) == "below and on the right"
    assert position_words(123, 80) == "overhead"
    assert position_words(0, 5) == "in front"


@settings(max_examples=40)
@given(st.floats(-180, 180), st.floats(-60, 60), st.floats(20, 60))
def test_moving_counter_clockwise_in_front_is_moving_left(azimuth, elevation, arc):
    def vector(az, el):
        az, el = np.radians(az), np.radians(el)
        return np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])

    words = motion_words(vector(-arc / 2, 0), vector(arc / 2, 0))
    assert words == "moving left"
    assert motion_words(vector(arc / 2, 0), vector(-arc / 2, 0)) == "moving right"
    assert motion_words(vector(180 - arc / 2, 0), vector(180 + arc / 2, 0)) == "moving right"
    assert motion_words(vector(azimuth, elevation), vector(azimuth, elevation)) == ""


def test_caption_joins_phrases():
    a = SourceDescription(noun="a cow", verb="moos", azimuth=150, elevation=0,
                          motion="moving right")
    b = SourceDescription(noun="a bell", verb="rings", azimuth=0, elevation=0)
    assert caption([a]) == "A cow moos behind on the left, moving right."
    assert caption([a, b]) == ("A cow moos behind on the left, moving right, and a bell rings "
                               "in front.")
    assert caption([b, b, b]).count(",") == 2
    assert caption([], diffuse=True) == "Silence, with background noise all around."


def test_labels_parse_into_caption_words():
    assert LabelledSource.from_label("dog:barks") == LabelledSource(noun="a dog", verb="barks")
    assert LabelledSource.from_label("owl").noun == "an owl"
    assert LabelledSource.from_label("the_sea:roars").noun == "the sea"
    with pytest.raises(ConfigError):
        LabelledSource.from_label(":barks")


def scene_of(*events: SourceEvent, duration: float = 2.0) -> Scene:
    return Scene(seed=0, sample_rate=8000, duration=duration, events=events)


def test_foa_caption_of_a_moving_source_matches_the_truth():
    trajectory = Trajectory(start_azimuth=-170.0, start_elevation=0.0, end_azimuth=-130.0,
                            end_elevation=0.0)
    scene = scene_of(SourceEvent(clip=CLIPS["engine"], trajectory=trajectory, onset=0.0,
                                 offset=2.0, seed=1))
    foa, _ = render_scene(scene)
    metadata = scene_metadata(scene)
    truth = ground_truth_descriptions(metadata)
    found = describe_foa(foa, 8000, labelled_sources(metadata, use_windows=False))
    assert truth[0].words() == found[0].words() == {
        "horizontal": "behind on the right", "vertical": "", "motion": "moving right"}
    assert metadata_caption(metadata) == "An engine rumbles behind on the right, moving right."


def test_activity_windows_separate_overlapping_sources():
    bell = SourceEvent(clip=CLIPS["bell"], trajectory=Trajectory.static(60.0, 30.0),
                       onset=0.0, offset=1.2, seed=1)
    speech = SourceEvent(clip=CLIPS["speech"], trajectory=Trajectory.static(-120.0, 0.0),
                         onset=0.8, offset=2.0, seed=2)
    foa, _ = render_scene(scene_of(bell, speech))
    metadata = scene_metadata(scene_of(bell, speech))
    found = describe_foa(foa, 8000, labelled_sources(metadata))
    assert [d.position for d in found] == ["above and in front on the left",
                                           "behind on the right"]
    assert [d.motion for d in found] == ["", ""]


def test_labels_without_windows_are_matched_by_order_of_appearance():
    first = SourceEvent(clip=CLIPS["whistle"], trajectory=Trajectory.static(90.0, 0.0),
                        onset=0.0, offset=0.9, seed=1)
    second = SourceEvent(clip=CLIPS["rain"], trajectory=Trajectory.static(-90.0, 0.0),
                         onset=1.1, offset=2.0, seed=2)
    foa, _ = render_scene(scene_of(first, second))
    found = describe_foa(foa, 8000, [LabelledSource.from_label("whistle:blows"),
                                     LabelledSource.from_label("rain:falls")])
    assert [d.position for d in found] == ["on the left", "on the right"]
    assert caption(found) == "A whistle blows on the left and rain falls on the right."


def test_silence_still_gives_descriptions():
    found = describe_foa(torch.zeros(4, 8000), 8000, [LabelledSource.from_label("dog")])
    assert len(found) == 1


def test_agreement_counts_each_part():
    truth = [SourceDescription(noun="a", verb="b", azimuth=0, elevation=0),
             SourceDescription(noun="a", verb="b", azimuth=90, elevation=40, motion="moving up")]
    estimate = [SourceDescription(noun="a", verb="b", azimuth=10, elevation=0),
                SourceDescription(noun="a", verb="b", azimuth=-90, elevation=40)]
    result = caption_agreement([(truth, estimate)])
    assert result == {"horizontal": 0.5, "vertical": 1.0, "motion": 0.5, "all": 0.5,
                      "sources": 2}


def test_single_source_scenes_are_captioned_reliably():
    sampler = SceneSampler(duration=1.5, sample_rate=8000, max_sources=1,
                           diffuse_probability=0.0)
    clips = list(CLIPS.values())
    pairs = []
    for index in range(6):
        scene = sampler.sample(clips, seed=11, index=index)
        foa, _ = render_scene(scene)
        metadata = scene_metadata(scene)
        pairs.append((ground_truth_descriptions(metadata),
                      describe_foa(foa, 8000, labelled_sources(metadata))))
    assert caption_agreement(pairs)["horizontal"] >= 5 / 6


def test_encoded_noise_from_a_known_direction():
    noise = torch.from_numpy(np.random.default_rng(0).standard_normal(8000))
    foa = encode(noise, 135.0, -35.0)
    found = describe_foa(foa, 8000, [LabelledSource.from_label("drone:hums")])
    assert found[0].position == "below and behind on the left"


@settings(max_examples=30)
@given(st.tuples(st.floats(-180, 180), st.floats(-60, 60)),
       st.tuples(st.floats(-180, 180), st.floats(-60, 60)), st.floats(0.1, 0.9))
def test_second_plane_wave_is_separated_exactly(known, other, share):
    u = unit_vectors(np.float64(known[0]), np.float64(known[1]))
    v = unit_vectors(np.float64(other[0]), np.float64(other[1]))
    if np.dot(u, v) > 0.99:
        return  # the same direction twice: nothing to separate
    found = separate_known_source(share * u + (1 - share) * v, 1.0, u)
    assert found is not None
    assert np.allclose(found[0], v, atol=1e-6) and found[1] == pytest.approx(1 - share)


def test_a_lone_known_source_leaves_nothing_to_separate():
    u = np.array([1.0, 0.0, 0.0])
    assert separate_known_source(u * 0.5, 0.5, u) is None
