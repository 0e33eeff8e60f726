"""Holding streams at places: the shortest rotation between two directions, and the streaming
:class:`PlaceHold` that turns each row's field onto its place (docs/spatial.md)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.errors import ConfigError
from swansphere.spatial import direction, encode
from swansphere.spatial.encoding import unit_vectors
from swansphere.spatial.hold import PlaceHold
from swansphere.spatial.rotation import ambix_matrix, rotation_between, rotation_matrix

RATE = 16000
NOISE = torch.randn(RATE, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
azimuths = st.floats(-180, 180, allow_nan=False)
elevations = st.floats(-89, 89, allow_nan=False)
places = st.tuples(azimuths, elevations)
chunkings = st.lists(st.integers(1, 4000), min_size=1, max_size=12)


def _vector(place):
    return unit_vectors(*torch.deg2rad(torch.tensor(place, dtype=torch.float64)))


def _angle(a, b):
    """Great-circle angle (radians) between two (azimuth, elevation) pairs in degrees."""
    return float(torch.acos((_vector(a) * _vector(b)).sum().clamp(-1, 1)))


def _held(foa, place, chunks, strength=1.0, focus=0.0):
    """``foa`` ``(4, n)`` through a one-row hold at ``place``, fed in chunks of those sizes."""
    hold = PlaceHold.for_places([place], RATE, strength, focus)
    pieces, start = [], 0
    for size in [*chunks, foa.shape[-1]]:
        if start >= foa.shape[-1]:
            break
        pieces.append(hold(foa[None, :, start:start + size])[0])
        start += size
    return torch.cat(pieces, -1)


def _place_of(foa):
    return tuple(float(value) for value in direction(foa))


@settings(max_examples=60, deadline=None)
@given(places, places, st.floats(0.0, 1.0))
def test_rotation_between_turns_the_source_by_that_share_of_the_angle(source, target, share):
    u, t = _vector(source), _vector(target)
    rotation = rotation_between(u, t, share)
    assert torch.allclose(rotation @ rotation.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert float(torch.linalg.det(rotation)) == pytest.approx(1.0, abs=1e-12)
    turned = rotation @ u
    whole = float(torch.acos((u * t).sum().clamp(-1, 1)))
    assert float(torch.acos((u * turned).sum().clamp(-1, 1))) == pytest.approx(
        share * whole, abs=2e-6)
    if share == 1.0:
        assert torch.allclose(turned, t, atol=1e-9)
    elif whole < math.pi - 1e-6:  # on the great circle from u to t: no sideways drift
        assert float(torch.acos((turned * t).sum().clamp(-1, 1))) == pytest.approx(
            (1 - share) * whole, abs=2e-6)


@pytest.mark.parametrize("source", [(0, 0), (90, 0), (30, 40), (0, 90), (0, -90)])
def test_rotation_between_opposite_directions_is_a_half_turn(source):
    u = _vector(source)
    rotation = rotation_between(u, -u)
    assert torch.allclose(rotation @ u, -u, atol=1e-12)
    assert float(torch.linalg.det(rotation)) == pytest.approx(1.0, abs=1e-12)


def test_ambix_matrix_is_the_matrix_of_rotate():
    for yaw, pitch, roll in [(30, 0, 0), (10, 20, 30), (-170, 80, -45)]:
        from swansphere.spatial.rotation import cartesian_rotation

        matrix = ambix_matrix(cartesian_rotation(yaw, pitch, roll))
        assert torch.allclose(matrix, rotation_matrix(yaw, pitch, roll, dtype=torch.float64))


@settings(max_examples=40, deadline=None)
@given(places, places, chunkings)
def test_a_plane_wave_comes_out_where_it_is_held_in_any_chunking(origin, place, chunks):
    foa = encode(NOISE, *origin)
    held = _held(foa, place, chunks)
    assert _angle(_place_of(held), place) < 1e-4
    assert torch.equal(held[0], foa[0])  # W, what the field holds, is untouched
    assert torch.allclose(held[1:].square().sum(0), foa[1:].square().sum(0), atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(places, places, st.floats(0.0, 1.0))
def test_a_partial_hold_turns_that_share_of_the_way(origin, place, share):
    foa = encode(NOISE, *origin)
    whole = _angle(origin, place)
    held = _held(foa, place, [2048], strength=share)
    if whole < math.pi - 1e-3:
        assert _angle(_place_of(held), place) == pytest.approx((1 - share) * whole, abs=1e-4)


def _tone_at(azimuths, frequency=220.0):
    """A plane wave on the horizon, a tone, whose azimuth (degrees) is given per sample."""
    t = torch.arange(azimuths.shape[-1], dtype=torch.float64) / RATE
    tone, azimuth = torch.sin(2 * math.pi * frequency * t), torch.deg2rad(azimuths)
    return torch.stack([tone, tone * torch.sin(azimuth), torch.zeros_like(t),
                        tone * torch.cos(azimuth)])


def test_a_source_that_moves_is_followed_to_its_place():
    """A source that jumps 140 degrees is back at its place within a few memory spans."""
    azimuths = torch.cat([torch.full((3 * RATE,), -60.0), torch.full((6 * RATE,), 80.0)])
    held = _held(_tone_at(azimuths), (150.0, 20.0), [2048] * (9 * RATE // 2048))
    assert _angle(_place_of(held[:, 3 * RATE - RATE // 2:3 * RATE]), (150.0, 20.0)) < 0.01
    assert _angle(_place_of(held[:, -RATE:]), (150.0, 20.0)) < math.radians(5)


def test_the_turn_fades_across_chunks_without_a_jump():
    """A source sweeping 20 degrees a second makes the rotation change at every chunk; the
    held field's consecutive samples differ no more than the input's do (a low tone, whose
    samples change slowly, so that a step between two rotations would show)."""
    foa = _tone_at(-60 + 20 * torch.arange(6 * RATE, dtype=torch.float64) / RATE, 50.0)
    held = _held(foa, (150.0, 20.0), [2048] * (6 * RATE // 2048))
    steps = (held[1:, 1:] - held[1:, :-1]).abs().amax()
    assert float(steps) <= float((foa[:, 1:] - foa[:, :-1]).abs().amax()) * 1.05
    assert _angle(_place_of(held), (150.0, 20.0)) < math.radians(45)  # within its lag


def test_rows_without_a_place_silence_and_a_strength_of_zero_pass_unchanged():
    foa = encode(NOISE, 40.0, 10.0)
    silent = torch.zeros_like(foa)
    hold = PlaceHold.for_places([None, (-90.0, 0.0), (0.0, 0.0)], RATE)
    out = hold(torch.stack([foa, silent, foa]))
    assert torch.equal(out[0], foa)
    assert torch.equal(out[1], silent) and bool(torch.isfinite(out).all())
    assert _angle(_place_of(out[2]), (0.0, 0.0)) < 1e-4
    off = PlaceHold.for_places([(-90.0, 0.0)], RATE, strength=0.0)
    assert torch.equal(off(foa[None])[0], foa)


def test_a_stream_that_starts_silent_is_held_once_it_sounds():
    foa = torch.cat([torch.zeros(4, 4096, dtype=torch.float64), encode(NOISE, 40.0, 10.0)], -1)
    held = _held(foa, (-120.0, -20.0), [2048] * 10)
    assert torch.equal(held[:, :4096], foa[:, :4096])
    assert _angle(_place_of(held), (-120.0, -20.0)) < 1e-4


def test_bad_holds_are_refused():
    with pytest.raises(ConfigError, match="share"):
        PlaceHold.for_places([(0.0, 0.0)], RATE, strength=1.5)
    with pytest.raises(ConfigError, match="focus"):
        PlaceHold.for_places([(0.0, 0.0)], RATE, focus=-0.1)
    hold = PlaceHold.for_places([(0.0, 0.0)], RATE)
    with pytest.raises(ConfigError, match="rows"):
        hold(torch.zeros(2, 4, 16))


def test_a_path_is_travelled_over_its_span_then_held_at_its_end():
    """A still source held along left -> front -> right over 2 s: the chunks around each
    waypoint's time come from near it, and after the span the sound stays at the end."""
    foa = encode(torch.cat([NOISE, NOISE, NOISE]), 30.0, 10.0)  # 3 s
    hold = PlaceHold.for_paths([[(90.0, 0.0), (0.0, 0.0), (-90.0, 0.0)]], RATE, span=2 * RATE)
    held = torch.cat([hold(chunk[None])[0] for chunk in foa.split(1000, -1)], -1)
    assert _angle(_place_of(held[:, :1000]), (90.0, 0.0)) < math.radians(6)
    assert _angle(_place_of(held[:, RATE - 500:RATE + 500]), (0.0, 0.0)) < math.radians(6)
    assert _angle(_place_of(held[:, 2 * RATE:]), (-90.0, 0.0)) < 1e-4
    azimuths = [float(direction(held[:, start:start + 1000])[0])
                for start in range(0, 2 * RATE, 1000)]
    assert all(later < earlier for earlier, later in itertools.pairwise(azimuths))


def test_paths_mix_with_still_places_and_rows_without_one():
    foa = encode(NOISE, 30.0, 10.0)
    hold = PlaceHold.for_paths([[(90.0, 0.0), (0.0, 0.0), (-90.0, 0.0)], [(45.0, 20.0)], None],
                               RATE, span=RATE)
    out = hold(torch.stack([foa, foa, foa]))
    assert _angle(_place_of(out[1]), (45.0, 20.0)) < 1e-4
    assert torch.equal(out[2], foa)
    with pytest.raises(ConfigError, match="same number of places"):
        PlaceHold.for_paths([[(0.0, 0.0), (90.0, 0.0)], [(0.0, 0.0)] * 3], RATE, span=RATE)



def _diffuse(seconds=1.0, frequencies=(0.0, 0.0, 0.0, 0.0)):
    """Four independent channels, noise (or low tones of those frequencies, for continuity
    checks): a field with hardly any direction of its own."""
    generator = torch.Generator().manual_seed(1)
    n = round(seconds * RATE)
    t = torch.arange(n, dtype=torch.float64) / RATE
    channels = [torch.sin(2 * math.pi * f * t + float(torch.rand(1, generator=generator)) * 6)
                if f else torch.randn(n, generator=generator, dtype=torch.float64)
                for f in frequencies]
    return torch.stack(channels) * torch.tensor([1.0, 0.6, 0.6, 0.6], dtype=torch.float64)[:, None]


@settings(max_examples=30, deadline=None)
@given(places, chunkings, st.floats(0.0, 1.0))
def test_focus_takes_that_share_of_the_directions_from_w_sent_from_the_place(place, chunks,
                                                                              share):
    field = _diffuse()
    turned = _held(field, place, chunks)
    focused = _held(field, place, chunks, focus=share)
    point = encode(field[0], *place)
    assert torch.equal(focused[0], field[0])
    assert torch.allclose(focused[1:], (1 - share) * turned[1:] + share * point[1:], atol=1e-9)
    if share == 1.0:
        assert _angle(_place_of(focused), place) < 1e-6


@settings(max_examples=20, deadline=None)
@given(places, places, st.floats(0.0, 1.0))
def test_focus_leaves_a_plane_wave_held_at_its_place_as_it_is(origin, place, share):
    foa = encode(NOISE, *origin)
    assert torch.allclose(_held(foa, place, [3000], focus=share), _held(foa, place, [3000]),
                          atol=1e-9)


def test_a_focused_row_given_places_while_streaming_never_jumps():
    """Low tones in every channel; the row gets a place after three chunks and the opposite
    one three chunks later. The focused output steps between samples no more than twice
    the input does: the focus fades in and the place glides (a jump would be ~0.5)."""
    field = _diffuse(2.0, (40.0, 55.0, 35.0, 45.0))
    hold = PlaceHold.for_places([None], RATE, focus=0.8)
    pieces = []
    for index, chunk in enumerate(field.split(2048, -1)):
        if index in (3, 6):
            place = _vector((60.0, 10.0) if index == 3 else (-120.0, -10.0))
            hold.follow(place[None], torch.tensor([True]))
        pieces.append(hold(chunk[None])[0])
    held = torch.cat(pieces, -1)
    steps = (held[:, 1:] - held[:, :-1]).abs().amax()
    assert float(steps) <= 2 * float((field[:, 1:] - field[:, :-1]).abs().amax())
    assert torch.equal(held[:, :3 * 2048], field[:, :3 * 2048])
    assert _angle(_place_of(held[:, -4096:]), (-120.0, -10.0)) < math.radians(10)
