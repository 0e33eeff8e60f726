"""video_places = "salient": a stream with video is held, chunk by chunk, where the frames
last showed something (spatial.salience), and a model without a video conditioner takes a
video for that alone (docs/pipeline.md, "Places from the video")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pipeline_helpers import (
    SAMPLE_RATE,
    panorama_with_source,
    synthetic_exemplar_bank,
    tiny_pipeline,
    whole_clip_pipeline,
)

from swansphere.conditioning.video import frames_as_tensor
from swansphere.data.panorama import background
from swansphere.errors import ConfigError, GenerationError
from swansphere.metrics.direction import angle_between
from swansphere.pipeline import Pipeline
from swansphere.spatial import direction, erp_grid, write_panorama_npz
from swansphere.spatial.hold import PlaceHold
from swansphere.spatial.salience import (
    SalientTrack,
    per_sample_directions,
    salient_directions,
    salient_objects,
)

TEXT = "a bell rings"
SECONDS = 0.4
FPS = 10.0
WIDTH = 128


@pytest.fixture(scope="module")
def base() -> Pipeline:
    return tiny_pipeline()


@pytest.fixture(scope="module")
def wordy(base) -> Pipeline:
    """The tiny pipeline without its video conditioner: it makes sound from words only."""
    return base.replace(video=None)


@pytest.fixture(scope="module")
def reader(wordy) -> Pipeline:
    """... and reads a video for where its sound is."""
    return wordy.replace(place_hold=1.0, video_places="salient")


def _moving_video(seed: int = 3) -> dict:
    """Five frames at 10 fps: a source on the left, then front-left, a frame that shows
    nothing, then behind on the right twice (a pipeline that reads 4 frames a second sees
    the first and the fourth)."""
    places = [(90.0, 10.0), (45.0, 10.0), None, (-140.0, -20.0), (-140.0, -20.0)]
    frames = [background(WIDTH, WIDTH // 2, seed) if place is None
              else panorama_with_source(*place, WIDTH, seed) for place in places]
    return {"frames": np.stack(frames), "fps": FPS}


def _held_along_video(chunks, video, pipeline, strength=1.0, focus=0.0):
    """The chunks turned by hand: each by a hold that, before it, follows the last salient
    frame read (at the pipeline's video frame rate) stamped at or before the chunk's end."""
    track = SalientTrack(interval=1 / pipeline.video_frame_rate)
    times = np.arange(len(video["frames"])) / video["fps"]
    track.add(frames_as_tensor(video["frames"]), times)
    hold = PlaceHold.for_places([None], SAMPLE_RATE, strength, focus)
    held, end = [], 0
    for chunk in chunks:
        end += chunk.shape[-1]
        place = track.at(end / SAMPLE_RATE)
        if place is not None:
            hold.follow(place[None], torch.tensor([True]))
        held.append(hold(chunk[None])[0])
    return held


# ---------------------------------------------------------------- salience


@pytest.mark.parametrize(("azimuth", "elevation"), [(0.0, 0.0), (100.0, 20.0), (-150.0, -30.0),
                                                    (45.0, 60.0)])
def test_salient_direction_finds_the_object_in_the_panorama(azimuth, elevation):
    frames = torch.as_tensor(panorama_with_source(azimuth, elevation, seed=3)[None])
    times, vectors = salient_directions(frames.permute(0, 3, 1, 2) / 255.0,
                                        torch.zeros(1, dtype=torch.float64))
    found_azimuth, found_elevation = per_sample_directions(times, vectors, 1, SAMPLE_RATE)
    assert float(angle_between(found_azimuth[0], found_elevation[0], azimuth, elevation)) < 6.0


@pytest.mark.parametrize("colours", [((240, 40, 200), (240, 40, 200)),
                                     ((240, 40, 200), (40, 200, 240))])
def test_two_objects_give_the_direction_of_one_not_the_empty_middle(colours):
    """Two sounding objects 120° apart, alike in saliency: the mean of both would point to the
    front, where nothing is (within 8°: the saliency grid's pixels are 5.6°)."""
    _, vectors = salient_directions(frames_as_tensor(_two_objects(colours)[None]),
                                    torch.zeros(1))
    found = _degrees(vectors[0])
    assert min(float(angle_between(*found, place, 0.0)) for place in (60.0, -60.0)) < 8.0


def _two_objects(colours=((240, 40, 200), (40, 200, 240)), places=(60.0, -60.0)):
    frame = background(WIDTH, WIDTH // 2, 3)
    azimuth, elevation = erp_grid(WIDTH, WIDTH // 2)
    for place, colour in zip(places, colours, strict=True):
        frame[(angle_between(azimuth, elevation, place, 0.0) < 12.0).numpy()] = colour
    return frame


def test_a_frame_is_read_for_each_of_its_objects_and_a_place_picks_the_nearest():
    frames = frames_as_tensor(np.stack([_two_objects()] * 2))
    _, objects = salient_objects(frames, torch.tensor([0.0, 0.1]))
    assert objects.shape == (2, 3, 3) and bool(objects[:, 2].isnan().all())  # two, not three
    found = sorted(_degrees(vector)[0] for vector in objects[0, :2])
    assert found == pytest.approx([-60.0, 60.0], abs=8.0)
    track = SalientTrack()
    track.add(frames, np.array([0.0, 0.1]))
    right = torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64)
    left = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    assert _degrees(track.at(0.1, right))[0] == pytest.approx(-60.0, abs=8.0)
    assert _degrees(track.at(0.1, left))[0] == pytest.approx(60.0, abs=8.0)
    torch.testing.assert_close(track.at(0.1), objects[1, 0])     # no place: the most salient


def test_background_alone_shows_nothing_salient():
    frames = torch.as_tensor(np.stack([background(128, 64, seed) for seed in range(4)]))
    assert salient_directions(frames.permute(0, 3, 1, 2) / 255.0,
                              torch.arange(4, dtype=torch.float64)) is None


def test_a_track_answers_with_the_last_salient_frame_up_to_a_time():
    video = _moving_video()
    track = SalientTrack()
    track.add(frames_as_tensor(video["frames"][:2]), np.array([0.1, 0.2]))
    track.add(frames_as_tensor(video["frames"][2:]), np.array([0.3, 0.4, 0.5]))
    assert track.at(0.05) is None                       # before the first frame
    left, front_left, behind_right = track.at(0.1), track.at(0.2), track.at(0.45)
    assert torch.equal(track.at(0.35), front_left)      # the empty frame at 0.3 keeps it
    assert float(angle_between(*_degrees(left), 90.0, 10.0)) < 6.0
    assert float(angle_between(*_degrees(front_left), 45.0, 10.0)) < 6.0
    assert float(angle_between(*_degrees(behind_right), -140.0, -20.0)) < 6.0
    assert torch.equal(track.at(99.0), behind_right)


def _degrees(vector: torch.Tensor) -> tuple[float, float]:
    x, y, z = vector.tolist()
    return float(np.degrees(np.arctan2(y, x))), float(np.degrees(np.arcsin(z)))


def test_a_track_refuses_frames_out_of_order_or_not_panoramas():
    frames = frames_as_tensor(_moving_video()["frames"][:2])
    track = SalientTrack()
    track.add(frames, np.array([0.5, 0.6]))
    with pytest.raises(GenerationError, match="time order"):
        track.add(frames, np.array([0.2, 0.3]))
    with pytest.raises(GenerationError, match="time order"):
        SalientTrack().add(frames, np.array([0.3, 0.2]))
    with pytest.raises(GenerationError, match="2:1"):
        SalientTrack().add(frames[..., :100], np.array([0.0, 0.1]))
    with pytest.raises(GenerationError, match="one time per frame"):
        SalientTrack().add(frames, np.array([0.0]))
    with pytest.raises(GenerationError, match="finite"):
        SalientTrack().add(frames, np.array([0.0, np.nan]))


def _counting_loader(frames):
    """A frame loader for SalientTrack.add, and the list of the frame indices it made."""
    made = []

    def load(indices):
        made.extend(indices.tolist())
        return frames[torch.as_tensor(indices)]

    return load, made


def test_a_track_reads_frames_an_interval_apart_however_they_arrive():
    """At 30 fps with a quarter-second interval it reads every 8th frame (0.25 s is 7.5
    frames), and only those are ever made; split into any pushes, the same ones."""
    frames = frames_as_tensor(np.stack([panorama_with_source(a, 0.0, WIDTH, 3)
                                        for a in range(-90, 90, 6)]))    # 30 frames
    times = np.arange(30) / 30.0
    load, made = _counting_loader(frames)
    whole = SalientTrack(interval=0.25)
    whole.add(load, times)
    assert made == [0]                                   # its shape checked; nothing read
    whole.at(0.5)
    assert made == [0, 0, 8]                             # read as far as asked
    whole.at(1.0)
    assert sorted(set(made)) == [0, 8, 16, 24]
    pieces = SalientTrack(interval=0.25)
    for first, last in ((0, 5), (5, 6), (6, 17), (17, 30)):
        pieces.add(frames[first:last], times[first:last])
        pieces.at(float(times[first]) + 0.01 * first)      # asked at any times in between
    pieces.at(1.0)
    torch.testing.assert_close(pieces.times, whole.times)
    torch.testing.assert_close(pieces.objects, whole.objects, equal_nan=True)
    with pytest.raises(GenerationError, match="time order"):
        pieces.add(frames[:1], np.array([0.9]))            # skipped frames count as seen


def test_a_long_video_given_whole_is_read_as_far_as_asked_at_any_number_of_times():
    """2,000 frames added at once and asked for 4,000 times, a little further each time
    (a 4 s video at 500 fps, as a ten-minute one is at 128 ms chunks): each ask reads on
    from where the last stopped, with nothing piled up per ask."""
    frames = frames_as_tensor(np.stack([panorama_with_source(60.0, 0.0, 16, 3)] * 2000))
    times = np.arange(2000) / 500.0
    load, made = _counting_loader(frames)
    track = SalientTrack(interval=0.5)
    track.add(load, times)
    for ask in range(4000):
        track.at(ask / 1000.0)
    assert sorted(set(made)) == list(range(0, 2000, 250))
    assert len(track.times) == 8


def test_a_hold_follows_a_place_given_while_it_runs():
    left = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    hold = PlaceHold.for_places([(180.0, 0.0), None], SAMPLE_RATE)
    hold.follow(left, torch.tensor([False, True]))
    assert hold.active.tolist() == [True, True]
    torch.testing.assert_close(hold.target(0), torch.tensor([[-1.0, 0.0, 0.0],
                                                            [0.0, 1.0, 0.0]],
                                                           dtype=torch.float64), atol=1e-12,
                               rtol=0)
    with pytest.raises(ConfigError, match="row mask"):
        hold.follow(left[:1], torch.tensor([True]))


# ---------------------------------------------------------------- the pipeline


def test_a_model_without_video_conditioner_reads_the_video_for_places_alone(wordy, reader):
    video = _moving_video()
    chunks = [chunk.audio for chunk in reader.stream(TEXT, video, duration=SECONDS, seed=2)]
    words = [chunk.audio for chunk in wordy.stream(TEXT, duration=SECONDS, seed=2)]
    expected = _held_along_video(words, video, reader)
    assert len(chunks) == len(expected) > 10
    for chunk, want in zip(chunks, expected, strict=True):
        torch.testing.assert_close(chunk, want, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(torch.cat(chunks, -1), torch.cat(words, -1))


def test_place_focus_gives_the_held_stream_the_direction_of_the_video(wordy, reader):
    """With ``place_focus`` the held chunks take that share of their X, Y, Z from W sent
    from the salient object; at 1 a stream with no words is a point source there."""
    video = _moving_video()
    focused = reader.replace(place_focus=0.6)
    chunks = [chunk.audio for chunk in focused.stream(TEXT, video, duration=SECONDS, seed=2)]
    words = [chunk.audio for chunk in wordy.stream(TEXT, duration=SECONDS, seed=2)]
    for chunk, want in zip(chunks, _held_along_video(words, video, reader, focus=0.6),
                           strict=True):
        torch.testing.assert_close(chunk, want, atol=1e-5, rtol=1e-4)
    point = reader.replace(place_focus=1.0).generate(None, video, seed=2)
    end = point[:, -SAMPLE_RATE // 10:]
    assert float(angle_between(*direction(end), -140.0, -20.0)) < 1.0
    intensity = (end[:1] * end[1:]).sum(-1).norm()
    assert float(intensity / end[0].square().sum()) == pytest.approx(1.0, abs=1e-3)


def test_the_words_still_pick_the_exemplar_the_stream_starts_from(wordy, reader):
    """The backbone of a model that reads the video for places never sees it, so the video
    does not stop the words' exemplar from starting the stream (as a conditioning video
    does: it sets the stream's time)."""
    bank = synthetic_exemplar_bank()
    named = "a siren wails"
    video = _moving_video()
    primed = reader.replace(exemplars=bank, exemplar_prompts=True)
    words = [chunk.audio for chunk in wordy.stream(named, duration=SECONDS, seed=2,
                                                   audio_prompt=bank.prompt(named))]
    chunks = [chunk.audio for chunk in primed.stream(named, video, SECONDS, seed=2)]
    for chunk, want in zip(chunks, _held_along_video(words, video, reader), strict=True):
        torch.testing.assert_close(chunk, want, atol=1e-5, rtol=1e-4)


def test_each_source_follows_the_object_of_the_video_nearest_its_words(reader):
    """Two objects in the video: a stream whose words put its sound on the left follows the
    left one, on the right the right one, and with separate sources each clause its own."""
    video = {"frames": np.stack([_two_objects()] * 5), "fps": FPS}
    texts = ["a bell rings on the left", "a siren wails on the right"]
    steps = list(reader.stream_many(texts, [video, video], duration=SECONDS, seeds=(1, 2)))
    for row, place in enumerate((60.0, -60.0)):
        audio = torch.cat([step[row].audio for step in steps], -1)[..., -SAMPLE_RATE // 10:]
        found = [float(a) for a in direction(audio)]
        # the hold is still turning at 0.4 s; the two objects are 120° apart
        assert float(angle_between(*found, place, 0.0)) < 30.0 < float(
            angle_between(*found, -place, 0.0))
    separate = reader.replace(sources="separate")
    mixed = separate.generate(" and ".join(texts), video, SECONDS, seed=1)
    torch.testing.assert_close(mixed, sum(torch.cat([step[row].audio for step in steps], -1)
                                          for row in (0, 1)), atol=1e-4, rtol=1e-3)


def test_a_video_lasts_its_frames_plus_one_frame_at_the_reading_rate(reader):
    video = _moving_video()
    audio = reader.generate(TEXT, video, seed=0)
    last_frame = (len(video["frames"]) - 1) / FPS
    assert audio.shape[-1] == round((last_frame + 1 / reader.video_frame_rate) * SAMPLE_RATE)
    with pytest.raises(GenerationError, match="no frames"):
        reader.generate(TEXT, {"frames": np.zeros((0, 64, 128, 3), np.uint8), "fps": FPS})


def test_a_chunk_never_depends_on_a_later_frame(reader):
    """Frames stamped after a chunk's end do not change it."""
    video = _moving_video()
    other = {**video, "frames": video["frames"].copy()}
    other["frames"][2:] = panorama_with_source(0.0, 60.0, WIDTH, 3)   # from 0.2 s on
    first = list(reader.stream(TEXT, video, duration=SECONDS, seed=1))
    second = list(reader.stream(TEXT, other, duration=SECONDS, seed=1))
    for one, two in zip(first, second, strict=True):
        if one.end < 0.2 - 1e-9:
            torch.testing.assert_close(one.audio, two.audio)
    assert not torch.allclose(first[-1].audio, second[-1].audio)


def test_live_pushes_file_streams_takes_and_served_streams_agree(reader, tmp_path):
    video = _moving_video()
    offline = reader.generate(TEXT, video, seed=4)
    session = reader.session(TEXT, seed=4)
    chunks = []
    for first in range(0, len(video["frames"]), 2):
        session.push(video["frames"][first:first + 2], fps=FPS)
        chunks += session.pull()
    twin = session.snapshot()
    chunks += session.close()
    torch.testing.assert_close(torch.cat([c.audio for c in chunks], -1), offline)
    twin.push(panorama_with_source(0.0, 60.0, WIDTH, 3)[None], np.array([1.0]))
    mine, its = (s.video_tracks[0].at(1.0) for s in (session, twin))  # each its own track
    assert float(angle_between(*_degrees(its), 0.0, 60.0)) < 6.0 < float(
        angle_between(*_degrees(mine), 0.0, 60.0))

    times = np.arange(len(video["frames"])) / reader.video_frame_rate  # files: read at 4 fps
    write_panorama_npz(tmp_path / "v.npz", video["frames"], times, reader.video_frame_rate)
    from_file = torch.cat([c.audio for c in reader.stream(TEXT, tmp_path / "v.npz", seed=4)],
                          -1)
    torch.testing.assert_close(from_file, reader.generate(TEXT, (video["frames"], times),
                                                          seed=4))

    takes = reader.generate_takes(TEXT, video, duration=SECONDS, seeds=(4, 5)).audio
    torch.testing.assert_close(takes[0], reader.generate(TEXT, video, SECONDS, seed=4),
                               atol=1e-4, rtol=1e-3)
    steps = list(reader.stream_many([TEXT, "a bell rings on the left"], [video, None],
                                    duration=SECONDS, seeds=(4, 5)))
    served = [torch.cat([step[i].audio for step in steps], -1) for i in (0, 1)]
    torch.testing.assert_close(served[0], reader.generate(TEXT, video, SECONDS, seed=4),
                               atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(served[1], reader.generate("a bell rings on the left",
                                                          duration=SECONDS, seed=5),
                               atol=1e-4, rtol=1e-3)


def test_a_model_with_video_conditioner_is_conditioned_and_held(base):
    video = _moving_video()
    model_only = base.replace(place_hold=1.0)
    both = model_only.replace(video_places="salient")
    unheld = [chunk.audio for chunk in model_only.stream(TEXT, video, SECONDS, seed=2)]
    chunks = [chunk.audio for chunk in both.stream(TEXT, video, SECONDS, seed=2)]
    for chunk, want in zip(chunks, _held_along_video(unheld, video, both), strict=True):
        torch.testing.assert_close(chunk, want, atol=1e-5, rtol=1e-4)
    last = torch.cat(chunks, -1)[..., -SAMPLE_RATE // 10:]
    assert float(angle_between(*(float(a) for a in direction(last)), -140.0, -20.0)) < 20.0


def test_a_whole_clip_is_held_as_one_chunk_where_its_last_frame_shows_something():
    whole = whole_clip_pipeline().replace(place_hold=1.0)
    video = _moving_video()
    unheld = whole.generate(TEXT, video, duration=SECONDS, seed=2)
    held = whole.replace(video_places="salient").generate(TEXT, video, duration=SECONDS,
                                                          seed=2)
    [want] = _held_along_video([unheld], video, whole)  # one chunk, past the last frame
    torch.testing.assert_close(held, want)
    assert not torch.allclose(held, unheld)


def test_the_setting_is_checked_saved_and_read(wordy, reader, tmp_path):
    with pytest.raises(GenerationError, match="no video conditioner"):
        wordy.generate(TEXT, _moving_video(), seed=0)
    unheld = reader.replace(place_hold=0.0)  # what training and ODPO sample with
    torch.testing.assert_close(unheld.generate(TEXT, _moving_video(), seed=0),
                               wordy.generate(TEXT, duration=0.65, seed=0))  # 0.4 s + 1/4 s
    with pytest.raises(ConfigError, match="video_places"):
        wordy.replace(video_places="loudest")
    with pytest.raises(ConfigError, match="place_focus"):
        wordy.replace(place_focus=1.5)
    reader.replace(place_focus=0.5).save_pretrained(tmp_path / "model")
    loaded = Pipeline.from_pretrained(tmp_path / "model").config
    assert (loaded.video_places, loaded.place_focus) == ("salient", 0.5)
    [reading] = reader.read_prompt("a bell rings on the left", with_video=True)
    assert reading.follows_video and reading.held
    assert "held where the frames show something" in reading.describe()
    assert reading.video_places_only and not _heard_reading().video_places_only
    assert reader.read_prompt(None, with_video=True)[0].describe() == (
        "no text: no words to make a sound from (this model makes it from words); the video "
        "only places it")


def _heard_reading():
    """How a model that hears its video reads the same prompt."""
    return tiny_pipeline().replace(place_hold=1.0, video_places="salient").read_prompt(
        "a bell rings on the left", with_video=True)[0]
