"""Configs of the SVAC model and its loss: frozen attrs classes, free of torch."""

from __future__ import annotations

import attrs

from swansphere.conditioning.config import PanoramaVideoConfig
from swansphere.nn.configs import FOAAudioEncoderConfig


@attrs.frozen(kw_only=True)
class SVACModelConfig:
    """The two encoders SVAC aligns; both end in a shared ``video.dim``-wide space.

    Attributes:
        video: the panoramic video conditioner (``panorama-video``) being trained.
        audio: the FOA encoder it is aligned with.
        temperature: InfoNCE temperature τ (0.07 in the paper).
    """

    video: PanoramaVideoConfig = attrs.field(factory=PanoramaVideoConfig)
    audio: FOAAudioEncoderConfig = attrs.field(factory=FOAAudioEncoderConfig)
    temperature: float = attrs.field(default=0.07, validator=attrs.validators.gt(0))


@attrs.frozen(kw_only=True)
class SVACLossConfig:
    """Which hard negatives join the in-batch (semantic) negatives.

    Attributes:
        time_negatives: copies of the clip's own audio, circularly shifted in time.
        rotation_negatives: copies of its FOA turned by a yaw (plus tilt) of at least
            ``min_rotation_degrees``.
        roll_negatives: copies of its panorama rolled by such a yaw (``roll_panorama``).
        min_shift_seconds: smallest time shift of a time negative.
        min_rotation_degrees: smallest yaw of a rotated or rolled negative.
        max_tilt_degrees: rotated FOA negatives also pitch and roll by up to this (3-D).
        augment_yaw: turn each training pair by one random yaw, FOA and panorama alike.

    The defaults follow the paper: one negative of each kind, the FOA turned in 3-D. All three
    counts at 0 is the semantic-only ablation.
    """

    time_negatives: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    rotation_negatives: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    roll_negatives: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    min_shift_seconds: float = attrs.field(default=0.5, validator=attrs.validators.gt(0))
    min_rotation_degrees: float = attrs.field(default=45.0, validator=[
        attrs.validators.gt(0), attrs.validators.le(180)])
    max_tilt_degrees: float = attrs.field(default=30.0, validator=[
        attrs.validators.ge(0), attrs.validators.le(90)])
    augment_yaw: bool = True
