"""The panoramic video conditioner: timestamped ERP frames -> one direction-aware token each.

Per frame, a token extractor (:mod:`.frames`) gives a set of tokens, each looking at a known
direction; a spherical positional encoding (real spherical harmonics of that direction,
:mod:`.spherical`) is added, a small transformer mixes the tokens and a readout turns them
into one vector per frame: by default a linear map of the whole token grid, which keeps where
each thing is (an attention pool is the alternative). Over time, causal temporal convolutions
aggregate the frames: the output for a frame depends on that frame and the
``temporal_kernel - 1`` before it, never on later ones. Streaming keeps exactly that history
as explicit state (docs/architecture.md), so any partition of a stream into chunks gives the offline
output.

The conditioner's output space is where SVAC aligns video with FOA audio; ``weights`` may point
at an SVAC checkpoint (its ``video.`` weights are taken) so the trained encoder plugs straight
into the backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from swansphere.spatial.erp import is_panorama

from .config import PanoramaVideoConfig
from .frames import CropTokens, ErpCnnTokens
from .layers import AttentionPool, NullTokens, load_weights, transformer_encoder
from .spherical import harmonics_count, spherical_harmonics
from .types import ConditioningError, ConditionTokens, PreparedVideo


@attrs.frozen(kw_only=True)
class VideoStreamState:
    """Streaming state: per temporal layer the last ``kernel - 1`` inputs, the number of frames
    seen and each item's latest timestamp (``(batch,)`` float64, None before any frame)."""

    history: tuple[torch.Tensor, ...]
    frames_seen: int = 0
    last_times: torch.Tensor | None = None


class CausalTemporalBlock(nn.Module):
    """Residual causal convolution over frames: ``x_t + W * gelu(conv(norm(x_{t-k+1..t})))``."""

    def __init__(self, dim: int, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv1d(dim, dim, kernel)
        self.out = nn.Linear(dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def initial_history(self, batch_size: int, like: torch.Tensor) -> torch.Tensor:
        return like.new_zeros(batch_size, self.kernel - 1, self.out.out_features)

    def forward(self, x: torch.Tensor,
                history: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(batch, frames, dim)`` after ``history`` -> (output, new history)."""
        if x.shape[1] == 0:
            return x, history
        window = torch.cat([history, x], dim=1)
        mixed = self.conv(self.norm(window).transpose(1, 2)).transpose(1, 2)
        keep = window[:, window.shape[1] - (self.kernel - 1):]
        return x + self.out(F.gelu(mixed)), keep


def frames_as_tensor(frames: Any) -> torch.Tensor:
    """Decoded frames ``(T, H, W, 3)`` uint8/float or ``(T, 3, H, W)`` -> float ``(T, 3, H, W)``."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) \
        else torch.as_tensor(frames)
    if tensor.ndim != 4 or 3 not in (tensor.shape[1], tensor.shape[-1]):
        raise ConditioningError(f"video frames must be (frames, H, W, 3) or (frames, 3, H, W); "
                                f"got shape {tuple(tensor.shape)}")
    if tensor.shape[1] != 3:
        tensor = tensor.permute(0, 3, 1, 2)
    if tensor.dtype == torch.uint8:
        return tensor.float() / 255.0
    if not tensor.is_floating_point():
        raise ConditioningError(f"video frames must be uint8 or float in [0, 1]; got "
                                f"{tensor.dtype}")
    return tensor.float()


def split_video_item(item: Any) -> tuple[Any, Any]:
    """``(frames, times)`` of one raw video item: a ``(frames, times)`` tuple, a dict with
    ``frames`` and optional ``times``, or bare frames (``times`` None)."""
    if isinstance(item, dict):
        unknown = set(item) - {"frames", "times"}
        if unknown or "frames" not in item:
            raise ConditioningError(f"a video item is a dict with 'frames' and optional "
                                    f"'times'; got keys {sorted(item)}")
        return item["frames"], item.get("times")
    if isinstance(item, tuple):
        if len(item) != 2:
            raise ConditioningError("a video item tuple must be (frames, times)")
        return item
    return item, None


def _video_items(raw: Any) -> list[Any]:
    if isinstance(raw, list):
        return raw
    if isinstance(raw, torch.Tensor | np.ndarray) and raw.ndim == 5:
        return list(raw)
    return [raw]


class PanoramaVideoConditioner(nn.Module):
    """Equirectangular frames with timestamps -> ``(batch, frames, dim)`` causal tokens."""

    modality = "video"
    lookahead = 0

    def __init__(self, config: PanoramaVideoConfig) -> None:
        super().__init__()
        if config.token_dim % config.heads:
            raise ConditioningError(f"token_dim {config.token_dim} must be divisible by heads "
                                    f"{config.heads}")
        self.config = config
        self.tokens = self._token_extractor(config)
        directions = spherical_harmonics(self.tokens.azimuth, self.tokens.elevation,
                                         config.sh_order)
        self.register_buffer("directions", directions.float(), persistent=False)
        self.position = nn.Linear(harmonics_count(config.sh_order), config.token_dim)
        self.mixer = (transformer_encoder(config.token_dim, config.heads, config.mixer_layers)
                      if config.mixer_layers else nn.Identity())
        self.readout = _readout(config, directions.shape[0])
        self.temporal = nn.ModuleList(CausalTemporalBlock(config.dim, config.temporal_kernel)
                                      for _ in range(config.temporal_layers))
        self.null_output = NullTokens(1, config.dim)
        if config.weights:
            load_weights(self, config.weights, prefix="video.")

    @property
    def _anchor(self) -> torch.Tensor:
        """A parameter whose device and dtype the frames and states follow."""
        return self.position.weight

    @staticmethod
    def _token_extractor(config: PanoramaVideoConfig) -> nn.Module:
        if config.frame_encoder == "erp-cnn":
            return ErpCnnTokens(config.height, config.width, config.channels, config.token_dim)
        return CropTokens(config.height, config.width, config.channels, config.token_dim,
                          backbone=config.frame_encoder.removeprefix("crops-"),
                          size=config.crop_size, fov=config.crop_fov, yaws=config.crop_yaws,
                          elevations=config.crop_elevations)

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def frame_rate(self) -> float:
        return self.config.frame_rate

    # ------------------------------------------------------------------ data-loader side

    def prepare(self, raw: Any) -> PreparedVideo:
        """Raw video -> :class:`PreparedVideo` (CPU): resized float frames, times, masks.

        ``raw`` is one item or a list of items (a batch); a 5-D array is a batch of equally
        long videos. An item is ``None`` (no video), frames ``(T, H, W, 3)`` uint8/float or
        ``(T, 3, H, W)``, a ``(frames, times)`` tuple or a ``{"frames", "times"}`` dict;
        times are seconds (default ``k / frame_rate``). Frames must be 2:1 panoramas.
        """
        items = [self._prepare_item(item) for item in _video_items(raw)]
        if not items:
            raise ConditioningError("no video items to prepare")
        return _pad_videos(items)

    def _prepare_item(self, item: Any) -> tuple[torch.Tensor, torch.Tensor, bool]:
        frames, times = split_video_item(item)
        size = (self.config.height, self.config.width)
        if frames is None:
            return torch.zeros(1, 3, *size), torch.zeros(1, dtype=torch.float64), False
        frames = frames_as_tensor(frames)
        height, width = frames.shape[-2:]
        if not is_panorama(width, height):
            raise ConditioningError(f"video frames of {width}x{height} are not a 2:1 "
                                    "equirectangular panorama")
        if frames.shape[-2:] != size and frames.shape[0]:
            frames = F.interpolate(frames, size=size, mode="bilinear", antialias=True,
                                   align_corners=False).clamp(0.0, 1.0)
        return frames, self._times(times, frames.shape[0]), True

    def _times(self, times: Any, count: int, start: int = 0) -> torch.Tensor:
        if times is None:
            return torch.arange(start, start + count, dtype=torch.float64) / self.frame_rate
        times = torch.as_tensor(times, dtype=torch.float64).flatten()
        if times.shape[0] != count:
            raise ConditioningError(f"{count} frames but {times.shape[0]} timestamps")
        if not torch.isfinite(times).all() or (times.diff() < 0).any():
            raise ConditioningError("frame timestamps must be finite and non-decreasing")
        return times

    # ------------------------------------------------------------------ model side

    def null(self, batch_size: int) -> ConditionTokens:
        """The learned "no video" token, one per item at time 0."""
        tokens, mask = self.null_output(batch_size)
        times = torch.zeros(mask.shape, dtype=torch.float64, device=tokens.device)
        return ConditionTokens(tokens=tokens, mask=mask, times=times)

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Per-frame features before temporal aggregation: ``(B, T, 3, H, W)`` -> ``(B, T, dim)``.

        Each frame is encoded on its own, so this part is trivially causal.
        """
        batch, count = frames.shape[:2]
        if count == 0:
            return frames.new_zeros(batch, 0, self.dim)
        tokens = self.tokens(frames.flatten(0, 1))
        tokens = self.mixer(tokens + self.position(self.directions).to(tokens.dtype))
        return self.readout(tokens).view(batch, count, self.dim)

    def _aggregate(self, features: torch.Tensor,
                   history: Sequence[torch.Tensor]) -> tuple[torch.Tensor, tuple]:
        new_history = []
        for block, past in zip(self.temporal, history, strict=True):
            features, past = block(features, past)
            new_history.append(past)
        return features, tuple(new_history)

    def _initial_history(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        like = self._anchor
        return tuple(block.initial_history(batch_size, like) for block in self.temporal)

    def _output(self, features: torch.Tensor, prepared: PreparedVideo) -> ConditionTokens:
        present = prepared.present.to(features.device)[:, None, None]
        null = self.null_output.tokens[0].to(features.dtype)
        tokens = torch.where(present, features, null)
        mask = prepared.mask.to(features.device)
        tokens = tokens * mask.unsqueeze(-1).to(tokens.dtype)
        return ConditionTokens(tokens=tokens, mask=mask, times=prepared.times.to(features.device))

    def forward(self, prepared: PreparedVideo | torch.Tensor) -> ConditionTokens:
        """Offline: all frames at once (the output at frame t still sees only frames <= t)."""
        prepared = self._as_prepared(prepared, 0)
        frames = prepared.frames.to(self._anchor.device)
        features, _ = self._aggregate(self.encode_frames(frames),
                                      self._initial_history(prepared.batch_size))
        return self._output(features, prepared)

    # ------------------------------------------------------------------ streaming

    def init_state(self, batch_size: int) -> VideoStreamState:
        """A fresh stream: zero history (the same implicit padding as offline)."""
        return VideoStreamState(history=self._initial_history(batch_size))

    def step(self, chunk: PreparedVideo | torch.Tensor,
             state: VideoStreamState) -> tuple[ConditionTokens, VideoStreamState]:
        """Encode the frames that just arrived (any number, also none).

        ``chunk`` is a :class:`PreparedVideo` (frames with their timestamps; its padding mask
        must be all True) or a frames tensor ``(B, T, 3, H, W)`` timed at ``frame_rate``
        after the frames seen so far.
        """
        prepared = self._as_prepared(chunk, state.frames_seen)
        if not bool(prepared.mask.all()):
            raise ConditioningError("streamed video chunks cannot hold padding; send each "
                                    "stream's frames as they arrive")
        self._check_order(prepared.times, state.last_times)
        frames = prepared.frames.to(self._anchor.device)
        features, history = self._aggregate(self.encode_frames(frames), state.history)
        last = state.last_times if prepared.num_frames == 0 else prepared.times[:, -1].clone()
        new_state = VideoStreamState(history=history,
                                     frames_seen=state.frames_seen + prepared.num_frames,
                                     last_times=last)
        return self._output(features, prepared), new_state

    @staticmethod
    def _check_order(times: torch.Tensor, last_times: torch.Tensor | None) -> None:
        if last_times is not None and times.numel() and bool((times[:, 0] < last_times).any()):
            raise ConditioningError("a streamed frame is older than one already received; "
                                    "frames must arrive in time order")

    def _as_prepared(self, value: PreparedVideo | torch.Tensor, start: int) -> PreparedVideo:
        if isinstance(value, PreparedVideo):
            return value
        if not isinstance(value, torch.Tensor) or value.ndim != 5:
            raise ConditioningError("give a PreparedVideo (from prepare) or a frames tensor "
                                    "(batch, frames, 3, height, width)")
        expected = (3, self.config.height, self.config.width)
        if tuple(value.shape[2:]) != expected:
            raise ConditioningError(f"frames tensor must be (batch, frames, {expected[0]}, "
                                    f"{expected[1]}, {expected[2]}); got {tuple(value.shape)}; "
                                    "use prepare() to resize")
        batch, count = value.shape[:2]
        times = self._times(None, count, start).expand(batch, -1)
        return PreparedVideo(frames=value, times=times,
                             mask=torch.ones(batch, count, dtype=torch.bool),
                             present=torch.ones(batch, dtype=torch.bool))


class GridReadout(nn.Module):
    """One linear map of all tokens in place: each direction has its own weights, so the frame
    vector says where things are from the first step (the paper's SVAC projector keeps the
    spatial grid the same way)."""

    def __init__(self, tokens: int, token_dim: int, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(token_dim)
        self.project = nn.Linear(tokens * token_dim, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.project(self.norm(tokens).flatten(1))


class PooledReadout(nn.Module):
    """Attention pooling to one vector (direction enters through the positional features)."""

    def __init__(self, token_dim: int, heads: int, dim: int) -> None:
        super().__init__()
        self.pool = AttentionPool(token_dim, heads)
        self.project = nn.Linear(token_dim, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.project(self.pool(tokens))


def _readout(config: PanoramaVideoConfig, tokens: int) -> nn.Module:
    if config.readout == "grid":
        return GridReadout(tokens, config.token_dim, config.dim)
    return PooledReadout(config.token_dim, config.heads, config.dim)


def _pad_videos(items: list[tuple[torch.Tensor, torch.Tensor, bool]]) -> PreparedVideo:
    """Stack ragged videos: pad frames with zeros and times with each item's last time."""
    length = max(frames.shape[0] for frames, _, _ in items)
    shape = items[0][0].shape[1:]
    frames = torch.zeros(len(items), length, *shape)
    times = torch.zeros(len(items), length, dtype=torch.float64)
    mask = torch.zeros(len(items), length, dtype=torch.bool)
    for row, (item_frames, item_times, _) in enumerate(items):
        count = item_frames.shape[0]
        frames[row, :count] = item_frames
        times[row, :count] = item_times
        if count:
            times[row, count:] = item_times[-1]
        mask[row, :count] = True
    present = torch.tensor([present for _, _, present in items], dtype=torch.bool)
    return PreparedVideo(frames=frames, times=times, mask=mask, present=present)
