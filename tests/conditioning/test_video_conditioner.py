"""The panoramic video conditioner: conformance suites, input handling, null output, weights."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import swansphere
from swansphere.conditioning.frames import efficientnet_available
from swansphere.conditioning.types import ConditioningError, PreparedVideo
from swansphere.protocols import Conditioner
from swansphere.spatial import roll_panorama
from swansphere.testing.streaming import StreamingAdapter, StreamingConformanceSuite

HEIGHT, WIDTH = 16, 32
TINY = {"type": "panorama-video", "dim": 16, "height": HEIGHT, "width": WIDTH,
        "channels": [8, 16], "token_dim": 16, "heads": 2, "sh_order": 2, "crop_size": 16,
        "crop_yaws": 4, "temporal_kernel": 3, "temporal_layers": 2}


def tiny(**fields):
    torch.manual_seed(0)
    return swansphere.create("conditioner", {**TINY, **fields})


def video_adapter(conditioner, *, differentiable: bool = True) -> StreamingAdapter:
    """Frames ``(batch, frames, 3, H, W)`` in, tokens ``(batch, frames, dim)`` out."""

    def frames(batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        return torch.rand(batch, length, 3, HEIGHT, WIDTH, generator=generator)

    def step(chunk, state):
        out, state = conditioner.step(chunk, state)
        return out.tokens, state

    return StreamingAdapter(offline=lambda x: conditioner(x).tokens,
                            init_state=conditioner.init_state, step=step, make_input=frames,
                            input_axis=1, output_axis=1, differentiable=differentiable)


@functools.cache
def trained_free_adapters() -> dict[str, StreamingAdapter]:
    return {"erp-cnn": video_adapter(tiny()),
            "crops-cnn": video_adapter(tiny(frame_encoder="crops-cnn", readout="attention"))}


class TestPanoramaVideoStreams(StreamingConformanceSuite):
    max_examples = 4
    max_blocks = 5
    bounded_state_steps = 10

    def make_adapters(self):
        return trained_free_adapters()


@functools.cache
def efficientnet_conditioner():
    if not efficientnet_available():
        pytest.skip("optional extra swansphere[vision] not installed")
    return tiny(frame_encoder="crops-efficientnet-lite0", crop_size=32, crop_yaws=2)


@pytest.mark.slow
class TestPretrainedCropStreams(StreamingConformanceSuite):
    """The frozen EfficientNet-Lite0 path; no gradient reaches the frames through it."""

    max_examples = 2
    max_blocks = 3
    bounded_state_steps = 6

    def make_adapters(self):
        return {"crops-efficientnet-lite0": video_adapter(efficientnet_conditioner(),
                                                          differentiable=False)}


def test_pretrained_crop_encoder_stays_frozen_and_out_of_the_state_dict():
    conditioner = efficientnet_conditioner()
    assert not any(key.startswith("tokens.pretrained") for key in conditioner.state_dict())
    out = conditioner(conditioner.prepare(torch.rand(2, HEIGHT, WIDTH, 3)))
    out.tokens.sum().backward()
    assert conditioner.tokens.project.weight.grad.abs().sum() > 0
    frozen = conditioner.tokens.pretrained.module
    assert all(p.grad is None and not p.requires_grad for p in frozen.parameters())


def test_conditioner_protocol_and_output_layout():
    conditioner = tiny()
    assert isinstance(conditioner, Conditioner)
    assert conditioner.modality == "video" and conditioner.lookahead == 0
    out = conditioner(conditioner.prepare(torch.rand(6, HEIGHT, WIDTH, 3)))
    assert out.tokens.shape == (1, 6, 16) and out.mask.all()
    torch.testing.assert_close(out.times[0], torch.arange(6, dtype=torch.float64) / 4.0)


def test_prepare_accepts_decoded_frames_in_common_layouts():
    conditioner = tiny()
    rng = np.random.default_rng(0)
    uint8_hwc = rng.integers(0, 256, size=(3, 40, 80, 3), dtype=np.uint8)
    float_chw = torch.rand(2, 3, HEIGHT, WIDTH)
    prepared = conditioner.prepare([uint8_hwc, {"frames": float_chw, "times": [1.0, 1.5]}, None])
    assert prepared.frames.shape == (3, 3, 3, HEIGHT, WIDTH)
    assert prepared.frames.dtype == torch.float32
    assert prepared.frames.min() >= 0.0 and prepared.frames.max() <= 1.0
    assert prepared.mask.tolist() == [[True] * 3, [True, True, False], [True, False, False]]
    assert prepared.present.tolist() == [True, True, False]
    assert prepared.times[1].tolist() == [1.0, 1.5, 1.5]     # padding repeats the last time
    torch.testing.assert_close(prepared.frames[1, :2], float_chw)


@pytest.mark.parametrize(("raw", "message"), [
    (torch.rand(2, HEIGHT, HEIGHT, 3), "2:1"),
    (torch.rand(HEIGHT, WIDTH, 3), "frames"),
    ((torch.rand(2, HEIGHT, WIDTH, 3), [0.0]), "timestamps"),
    ((torch.rand(2, HEIGHT, WIDTH, 3), [0.5, 0.0]), "non-decreasing"),
    ({"frames": torch.rand(1, HEIGHT, WIDTH, 3), "fps": 4}, "keys"),
])
def test_prepare_rejects_bad_video(raw, message):
    with pytest.raises(ConditioningError, match=message):
        tiny().prepare(raw)


def test_absent_video_gets_the_learned_null_token_at_every_frame():
    conditioner = tiny()
    out = conditioner(conditioner.prepare([torch.rand(2, HEIGHT, WIDTH, 3), None]))
    null = conditioner.null(1)
    assert null.tokens.shape == (1, 1, 16) and null.times.tolist() == [[0.0]]
    torch.testing.assert_close(out.tokens[1, 0], null.tokens[0, 0])
    assert out.mask[1].tolist() == [True, False]
    assert not torch.equal(out.tokens[0, 0], null.tokens[0, 0])


def test_frames_are_told_apart_by_direction():
    """The spherical positions make the tokens direction-aware: a yawed scene looks different."""
    conditioner = tiny()
    frame = torch.zeros(1, 1, 3, HEIGHT, WIDTH)
    frame[..., 6:10, 4:8] = 1.0                              # a bright object on the left
    turned = roll_panorama(frame, 180.0)                     # the same object behind
    original, rolled = conditioner(frame).tokens, conditioner(turned).tokens
    assert (original - rolled).abs().max() > 1e-3


def test_stream_refuses_frames_out_of_time_order_and_padding():
    conditioner = tiny()
    prepared = conditioner.prepare((torch.rand(2, HEIGHT, WIDTH, 3), [1.0, 2.0]))
    _, state = conditioner.step(prepared, conditioner.init_state(1))
    with pytest.raises(ConditioningError, match="time order"):
        conditioner.step(conditioner.prepare((torch.rand(1, HEIGHT, WIDTH, 3), [0.5])), state)
    ragged = conditioner.prepare([torch.rand(2, HEIGHT, WIDTH, 3), torch.rand(1, HEIGHT, WIDTH, 3)])
    with pytest.raises(ConditioningError, match="padding"):
        conditioner.step(ragged, conditioner.init_state(2))


def test_streamed_timestamps_continue_the_stream():
    conditioner = tiny()
    state = conditioner.init_state(1)
    first, state = conditioner.step(torch.rand(1, 2, 3, HEIGHT, WIDTH), state)
    second, state = conditioner.step(torch.rand(1, 3, 3, HEIGHT, WIDTH), state)
    assert first.times.tolist() == [[0.0, 0.25]]
    assert second.times.tolist() == [[0.5, 0.75, 1.0]]
    assert state.frames_seen == 5


def test_weights_load_from_an_svac_style_checkpoint(tmp_path):
    conditioner = tiny()
    state = {f"video.{k}": v.contiguous() for k, v in conditioner.state_dict().items()}
    state["audio.encoder.weight"] = torch.zeros(3)
    path = tmp_path / "svac.safetensors"
    save_file(state, str(path))
    torch.manual_seed(99)
    loaded = swansphere.create("conditioner", {**TINY, "weights": str(path)})
    prepared = conditioner.prepare(torch.rand(3, HEIGHT, WIDTH, 3))
    torch.testing.assert_close(loaded(prepared).tokens, conditioner(prepared).tokens)
    with pytest.raises(ConditioningError, match="do not fit"):
        swansphere.create("conditioner", {**TINY, "token_dim": 8, "weights": str(path)})
    with pytest.raises(ConditioningError, match="does not exist"):
        swansphere.create("conditioner", {**TINY, "weights": str(tmp_path / "none.safetensors")})


def test_prepared_video_moves_between_devices():
    prepared = tiny().prepare(torch.rand(1, HEIGHT, WIDTH, 3))
    moved = prepared.to("cpu")
    assert isinstance(moved, PreparedVideo) and torch.equal(moved.frames, prepared.frames)
