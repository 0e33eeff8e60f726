"""Scene sampling, free-field and room rendering, diffuse backgrounds and panoramas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.data.clips import SoundClip
from swansphere.data.panorama import (
    PanoramaRenderer,
    background,
    label_style,
)
from swansphere.data.render import diffuse_background, render_scene
from swansphere.data.scenes import (
    RoomSpec,
    Scene,
    SceneSampler,
    SourceEvent,
    Trajectory,
    scene_metadata,
    unit_vectors,
)
from swansphere.data.synthetic import synthetic_clips
from swansphere.errors import ConfigError
from swansphere.spatial import (
    direction_to_erp,
    encode,
    read_panorama_video,
    roll_panorama,
    write_panorama_npz,
)

CLIPS = synthetic_clips()
angles = st.tuples(st.floats(-179, 179), st.floats(-80, 80))


def one_source_scene(trajectory: Trajectory, *, room: RoomSpec | None = None,
                     duration: float = 0.5, sample_rate: int = 8000, label: str = "rain",
                     distance: float = 2.0) -> Scene:
    clip = next(c for c in CLIPS if c.label == label)
    event = SourceEvent(clip=clip, trajectory=trajectory, onset=0.0, offset=duration,
                        distance=distance, seed=3)
    return Scene(seed=1, sample_rate=sample_rate, duration=duration, events=(event,), room=room)


@settings(max_examples=30)
@given(angles, angles)
def test_trajectory_ends_and_stays_on_the_sphere(start, end):
    trajectory = Trajectory(start_azimuth=start[0], start_elevation=start[1],
                            end_azimuth=end[0], end_elevation=end[1])
    vectors = trajectory.vectors(np.linspace(0, 1, 7))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.allclose(vectors[0], unit_vectors(np.float64(start[0]), np.float64(start[1])))
    assert np.allclose(vectors[-1], unit_vectors(np.float64(end[0]), np.float64(end[1])),
                       atol=1e-6)
    steps = np.degrees(np.arccos(np.clip(np.sum(vectors[1:] * vectors[:-1], axis=1), -1, 1)))
    assert np.allclose(steps, trajectory.arc_degrees / 6, atol=1e-4)  # constant speed


def test_sampler_is_deterministic_and_respects_its_ranges():
    sampler = SceneSampler(duration=3.0, max_sources=3, moving_probability=0.5)
    scenes = [sampler.sample(CLIPS, seed=4, index=i) for i in range(20)]
    assert scene_metadata(scenes[7]) == scene_metadata(sampler.sample(CLIPS, seed=4, index=7))
    assert scene_metadata(scenes[7]) != scene_metadata(sampler.sample(CLIPS, seed=5, index=7))
    counts = {len(scene.events) for scene in scenes}
    assert counts <= {1, 2, 3} and len(counts) > 1
    for scene in scenes:
        for event in scene.events:
            assert 0 <= event.onset < event.offset <= 3.0 + 1e-9
            assert event.offset - event.onset >= 0.8 - 1e-3
            assert -40.0 - 1e-6 <= event.trajectory.start_elevation <= 60.0 + 1e-6
            if event.trajectory.moving:
                assert 30.0 - 1e-6 <= event.trajectory.arc_degrees <= 120.0 + 1e-6
    assert any(e.trajectory.moving for s in scenes for e in s.events)
    json.dumps(scene_metadata(scenes[0]))  # JSON-ready


def recording(seconds: float, label: str = "bark") -> SoundClip:
    """A recorded-like clip: ``seconds`` of steady noise, then silence however long the
    window it is rendered for."""
    def render(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
        out = np.zeros(num_samples)
        sounding = min(round(seconds * sample_rate), num_samples)
        out[:sounding] = 0.1 * np.random.default_rng(0).standard_normal(sounding)
        return out

    return SoundClip(clip_id=f"test/{label}", label=label, noun=f"a {label}", verb="sounds",
                     licence="CC0-1.0", package="test", render=render, duration=seconds)


def test_sustained_events_sound_from_the_first_sample_to_the_last():
    sampler = SceneSampler(duration=3.0, max_sources=3, sustained_probability=1.0)
    events = [e for i in range(10) for e in sampler.sample(CLIPS, seed=4, index=i).events]
    assert all(e.onset == 0.0 and e.offset == 3.0 and e.repeat for e in events)
    mixed = SceneSampler(duration=3.0, max_sources=3, sustained_probability=0.5)
    kinds = {e.repeat for i in range(20) for e in mixed.sample(CLIPS, seed=4, index=i).events}
    assert kinds == {True, False}


def test_without_sustained_events_scenes_are_drawn_as_before():
    """A recipe that leaves ``sustained_probability`` at 0 keeps its scenes: the windows
    and seeds below were drawn before sustained events existed."""
    sampler = SceneSampler(duration=3.0)
    drawn = [(e.onset, e.offset, e.seed, e.repeat)
             for index in range(3) for e in sampler.sample(CLIPS, seed=2, index=index).events]
    assert drawn == [(1.1989, 2.2011, 1411826649, False), (0.3076, 2.58, 715083808, False),
                     (0.9586, 2.883, 742944872, False), (0.0656, 2.7465, 1523714831, False),
                     (0.8482, 2.4853, 1266443930, False), (1.3837, 2.9708, 922310324, False)]


@pytest.mark.parametrize("probability", [-0.1, 1.5])
def test_sustained_probability_is_a_probability(probability):
    with pytest.raises(ValueError, match="sustained_probability"):
        SceneSampler(sustained_probability=probability)


def test_a_repeated_recording_fills_its_window_and_a_plain_one_does_not():
    sample_rate, clip = 8000, recording(0.3)

    def frame_levels(repeat: bool) -> np.ndarray:
        event = SourceEvent(clip=clip, trajectory=Trajectory.static(30.0, 0.0), onset=0.0,
                            offset=2.0, seed=3, repeat=repeat)
        scene = Scene(seed=1, sample_rate=sample_rate, duration=2.0, events=(event,))
        omni = render_scene(scene)[0][0].double()
        frames = omni.reshape(-1, sample_rate // 20)  # 50 ms
        return 10 * torch.log10(frames.square().mean(-1) + 1e-20).numpy()

    repeated, plain = frame_levels(True), frame_levels(False)
    assert repeated.min() > repeated.max() - 6.0
    assert plain[:5].min() > plain.max() - 6.0 and plain[8:].max() < -100.0


def test_sampler_rejects_bad_settings():
    with pytest.raises(ConfigError):
        SceneSampler(min_sources=2, max_sources=1)
    with pytest.raises(ConfigError, match="empty"):
        SceneSampler().sample([], seed=0)


@settings(max_examples=10)
@given(angles)
def test_free_field_static_source_is_a_plane_wave_from_its_direction(position):
    scene = one_source_scene(Trajectory.static(*position))
    foa, gain = render_scene(scene)
    signal = foa[0]
    expected = encode(signal.double(), position[0], position[1]).float()
    assert torch.allclose(foa, expected, atol=1e-6)
    assert gain == 1.0


def test_diffuse_background_is_isotropic():
    field = diffuse_background(np.random.default_rng(0), 16000, 8000)
    power = field.pow(2).mean(dim=1)
    assert torch.isclose(power[0], torch.tensor(1.0, dtype=torch.float64), rtol=0.05)
    assert torch.allclose(power[1:], power[0] / 3, rtol=0.1)
    intensity = (field[0] * field[1:]).mean(dim=1)
    assert intensity.norm() < 0.05 * power[0]


def test_rendering_keeps_peaks_below_the_limit():
    sampler = SceneSampler(duration=0.5, sample_rate=8000, min_sources=3, max_sources=3,
                           diffuse_probability=1.0)
    for index in range(3):
        foa, gain = render_scene(sampler.sample(CLIPS, seed=0, index=index))
        assert foa.abs().max() <= 0.9 + 1e-6 and 0 < gain <= 1.0
        assert torch.isfinite(foa).all()


# ---------------------------------------------------------------- panoramas

def test_glyph_is_drawn_where_the_source_is():
    renderer = PanoramaRenderer(width=128, height=64, fps=4)
    scene = one_source_scene(Trajectory.static(100.0, 20.0), duration=0.5)
    frames, times = renderer.render(scene)
    assert frames.shape == (2, 64, 128, 3) and frames.dtype == np.uint8
    assert np.allclose(times, [0.0, 0.25])
    x, y = (float(v) for v in direction_to_erp(100.0, 20.0, 128, 64))
    colour, _ = label_style("rain")
    drawn = np.all(frames[0] == colour, axis=-1)
    rows, columns = np.nonzero(drawn)
    assert drawn.any()
    assert abs(columns.mean() - x) < 2 and abs(rows.mean() - y) < 2
    empty = background(128, 64, scene.seed)
    assert not np.all(empty == colour, axis=-1).any()


def test_inactive_sources_are_not_drawn():
    renderer = PanoramaRenderer(width=64, height=32, fps=4)
    scene = one_source_scene(Trajectory.static(0.0, 0.0), duration=1.0)
    event = SourceEvent(clip=scene.events[0].clip, trajectory=scene.events[0].trajectory,
                        onset=0.5, offset=1.0)
    frames, _ = renderer.render(Scene(seed=1, sample_rate=8000, duration=1.0, events=(event,)))
    base = background(64, 32, 1)
    assert np.array_equal(frames[0], base) and not np.array_equal(frames[3], base)


@pytest.mark.parametrize("columns", [5, 32, 97])
def test_yawing_the_world_equals_rolling_the_panorama(columns):
    renderer = PanoramaRenderer(width=128, height=64, fps=2)
    yaw = columns * 360.0 / 128
    moving = Trajectory(start_azimuth=30.0, start_elevation=10.0, end_azimuth=150.0,
                        end_elevation=40.0)
    scene = one_source_scene(moving, duration=1.0, label="bell")
    frames, _ = renderer.render(scene)
    turned, _ = renderer.render(scene, yaw=yaw)
    assert np.array_equal(roll_panorama(frames, yaw, axis=-2), turned)


def test_video_round_trip(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (3, 8, 16, 3), dtype=np.uint8)
    path = write_panorama_npz(tmp_path / "video.npz", frames, np.arange(3) / 4, 4.0)
    loaded, times, fps = read_panorama_video(path)
    assert np.array_equal(loaded, frames) and fps == 4.0 and np.allclose(times, [0, .25, .5])


def test_sprites_are_pasted_when_pillow_reads_them(tmp_path):
    image = pytest.importorskip("PIL.Image")
    sprite = np.zeros((16, 16, 4), dtype=np.uint8)
    sprite[..., 0], sprite[..., 3] = 255, 255
    path = tmp_path / "red.png"
    image.fromarray(sprite).save(path)
    clip = next(c for c in CLIPS if c.label == "bell")
    import attrs

    event = SourceEvent(clip=attrs.evolve(clip, picture=path),
                        trajectory=Trajectory.static(-90.0, 0.0), onset=0.0, offset=0.5)
    frames, _ = PanoramaRenderer(64, 32, 2).render(
        Scene(seed=0, sample_rate=8000, duration=0.5, events=(event,)))
    x, y = (round(float(v)) for v in direction_to_erp(-90.0, 0.0, 64, 32))
    assert tuple(frames[0, y, x]) == (255, 0, 0)


def test_glyph_shapes_differ_between_labels():
    styles = {label_style(clip.label)[1] for clip in CLIPS}
    colours = {tuple(label_style(clip.label)[0]) for clip in CLIPS}
    assert len(styles) > 2 and len(colours) == len(CLIPS)
    assert math.isclose(float(np.max(label_style("x")[0])), 242, abs_tol=1)
