"""pyroomacoustics shoeboxes rendered to AmbiX: direct path, geometry, moving sources."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from swansphere.data.render import render_scene
from swansphere.data.scenes import RoomSpec, Scene, SourceEvent, Trajectory, unit_vectors
from swansphere.data.synthetic import synthetic_clips
from swansphere.spatial import direction, encode

pytest.importorskip("pyroomacoustics")

from swansphere.data.rooms import (
    render_event_in_room,
    room_impulse_responses,
    source_position,
    speed_of_sound,
)

ROOM = RoomSpec(dimensions=(6.0, 5.0, 3.0), listener=(2.5, 2.2, 1.4), absorption=0.4,
                max_order=6)


def one_source_scene(trajectory: Trajectory, *, duration: float, sample_rate: int = 8000,
                     distance: float = 2.0) -> Scene:
    clip = next(c for c in synthetic_clips() if c.label == "rain")
    event = SourceEvent(clip=clip, trajectory=trajectory, onset=0.0, offset=duration,
                        distance=distance, seed=3)
    return Scene(seed=1, sample_rate=sample_rate, duration=duration, events=(event,), room=ROOM)



@pytest.mark.parametrize(("azimuth", "elevation"), [(60, 20), (-120, -10), (180, 35), (0, 0)])
def test_room_direct_path_matches_spatial_encode(azimuth, elevation):
    distance = 1.5
    position = source_position(ROOM, azimuth, elevation, distance)
    response = room_impulse_responses(ROOM, position[None], 16000)[0]
    delay = round(distance / speed_of_sound() * 16000)
    peak = int(np.argmax(np.abs(response[0])))
    assert abs(peak - delay) <= 1
    window = response[:, max(peak - 3, 0):peak + 4]
    gains = window[:, np.argmax(np.abs(window[0]))]
    expected = encode(torch.ones(1, dtype=torch.float64), azimuth, elevation)[:, 0].numpy()
    assert np.allclose(gains / gains[0], expected, atol=0.02)


def test_sources_stay_inside_the_walls():
    for azimuth in range(-180, 180, 30):
        position = source_position(ROOM, azimuth, 50, 20.0)
        assert np.all(position >= 0.3 - 1e-9) and np.all(position <= np.array(
            ROOM.dimensions) - 0.3 + 1e-9)
        direction_vector = position - np.array(ROOM.listener)
        direction_vector /= np.linalg.norm(direction_vector)
        assert np.allclose(direction_vector, unit_vectors(np.float64(azimuth),
                                                          np.float64(50)))


def test_room_scene_keeps_the_source_direction():
    scene = one_source_scene(Trajectory.static(-70.0, 10.0), duration=1.0,
                             sample_rate=16000, distance=1.2)
    foa, _ = render_scene(scene)
    azimuth, elevation = direction(foa)
    assert abs(float(azimuth) + 70.0) < 12 and abs(float(elevation) - 10.0) < 12


def test_block_rendering_of_a_barely_moving_source_matches_the_static_one():
    static = Trajectory.static(40.0, 0.0)
    creeping = Trajectory(start_azimuth=40.0, start_elevation=0.0, end_azimuth=40.001,
                          end_elevation=0.0)
    assert creeping.moving
    scenes = [one_source_scene(t, duration=0.6) for t in (static, creeping)]
    dry = np.random.default_rng(0).standard_normal(scenes[0].num_samples)
    outputs = [render_event_in_room(ROOM, s.events[0], dry, s.sample_rate) for s in scenes]
    # cross-faded blocks sum to the static convolution; the 0.001° path moves images a hair
    error = np.sqrt(np.mean((outputs[0] - outputs[1]) ** 2) / np.mean(outputs[0] ** 2))
    assert error < 1e-3


def test_a_moving_source_computes_responses_only_where_it_sounds(monkeypatch):
    """Silent blocks need no impulse response: two sounding stretches rendered together equal
    the sum of each alone (the renderer is linear, whichever blocks it skips), and the
    responses computed are those of the sounding blocks only."""
    import swansphere.data.rooms as rooms

    sweep = Trajectory(start_azimuth=-60.0, start_elevation=0.0, end_azimuth=60.0,
                       end_elevation=10.0)
    scene = one_source_scene(sweep, duration=1.2)
    rng = np.random.default_rng(4)
    first, second = np.zeros(scene.num_samples), np.zeros(scene.num_samples)
    first[500:2200] = rng.standard_normal(1700)
    second[6500:8000] = rng.standard_normal(1500)
    counted = []

    def counting(room, positions, sample_rate):
        counted.append(len(positions))
        return room_impulse_responses(room, positions, sample_rate)

    monkeypatch.setattr(rooms, "room_impulse_responses", counting)
    event = scene.events[0]
    both = render_event_in_room(ROOM, event, first + second, scene.sample_rate)
    alone = [render_event_in_room(ROOM, event, dry, scene.sample_rate)
             for dry in (first, second)]
    np.testing.assert_allclose(both, alone[0] + alone[1], atol=1e-10)
    hop = round(0.2 * scene.sample_rate / 2)  # blocks of 2 hops, every hop
    sounding = [start for start in range(0, scene.num_samples + hop, hop)
                if (np.pad(first + second, (hop, 2 * hop))[start:start + 2 * hop] != 0).any()]
    assert counted[0] == len(sounding) < scene.num_samples // hop
    silent = render_event_in_room(ROOM, event, np.zeros(scene.num_samples), scene.sample_rate)
    assert silent.shape == (4, scene.num_samples) and not silent.any()


def test_flat_harmonic_responses_equal_pyroomacoustics_own_harmonics():
    """The faster frequency-flat declaration builds the same AmbiX responses as the library's
    spherical-harmonic impulse-response path, to 1e-3 of their peak."""
    import pyroomacoustics as pra
    from pyroomacoustics.directivities import RealSphericalHarmonicsDirectivity
    from pyroomacoustics.directivities.harmonics import get_mn_in_acn_order

    from swansphere.data.rooms import flat_harmonic_directivity

    positions = [source_position(ROOM, azimuth, elevation, 1.7)
                 for azimuth, elevation in ((30, 10), (-100, -20), (170, 40))]

    def responses(directivity):
        shoebox = pra.ShoeBox(list(ROOM.dimensions), fs=16000, max_order=ROOM.max_order,
                              materials=pra.Material(energy_absorption=ROOM.absorption),
                              air_absorption=False)
        for position in positions:
            shoebox.add_source(list(position))
        for m, n in zip(*get_mn_in_acn_order(1), strict=True):
            shoebox.add_microphone(list(ROOM.listener), directivity=directivity(int(m), int(n)))
        shoebox.compute_rir()
        return shoebox.rir

    library, flat = responses(RealSphericalHarmonicsDirectivity), responses(
        flat_harmonic_directivity())
    for channel in range(4):
        for source in range(len(positions)):
            want, got = np.asarray(library[channel][source]), np.asarray(flat[channel][source])
            taps = min(len(want), len(got))
            assert abs(len(want) - len(got)) <= 4
            assert np.abs(want[:taps] - got[:taps]).max() <= 1e-3 * np.abs(want).max()
