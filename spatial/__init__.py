"""AmbiX (ACN order W, Y, Z, X; SN3D) first-order ambisonics toolkit.

Encode, rotate and convert FOA, analyse directions (whole clips, tracks, the paper's angular
errors), map energy onto equirectangular panoramas, render binaural audio from SOFA HRTFs and
read/write validated float32 WAV files. Audio is ``(..., 4, samples)``; angles are degrees at
this API (azimuth counter-clockwise from the front, left +90°; elevation up positive). See
``docs/conventions.md`` and ``docs/spatial.md``.

Names load on first use (PEP 562), so ``swansphere.spatial.cli`` and the ``swansphere``
command start without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swansphere.lazy import lazy_exports

if TYPE_CHECKING:
    from .analysis import (
        DirectionTrack,
        angular_errors,
        direction,
        direction_track,
        intensity_vector,
    )
    from .audio_io import read_foa, write_foa, write_wav
    from .beams import beam_weights, energy_map
    from .encoding import encode, plane_wave_gains
    from .erp import direction_to_erp, erp_grid, erp_to_direction, roll_panorama
    from .foa import CHANNELS, validate_foa
    from .formats import ambix_to_fuma, fuma_to_ambix, n3d_to_sn3d, sn3d_to_n3d
    from .hold import PlaceHold
    from .hrtf import BinauralDecoder, HrtfSet, binaural, binaural_decoder, find_sofa, load_sofa
    from .mp4 import (
        AmbisonicAudio,
        SpatialMetadata,
        SphericalVideo,
        TrackMetadata,
        VideoFileError,
        VideoFormatError,
        inject_spatial_metadata,
        read_spatial_metadata,
        write_360_mp4,
    )
    from .rotation import (
        ambix_matrix,
        cartesian_rotation,
        rotate,
        rotation_between,
        rotation_matrix,
    )
    from .salience import SalientTrack, salient_directions
    from .signals import source_signal
    from .video_io import read_panorama_video, write_panorama_npz

_EXPORTS = {
    "analysis": ("DirectionTrack", "angular_errors", "direction", "direction_track",
                 "intensity_vector"),
    "audio_io": ("read_foa", "write_foa", "write_wav"),
    "beams": ("beam_weights", "energy_map"),
    "encoding": ("encode", "plane_wave_gains"),
    "erp": ("direction_to_erp", "erp_grid", "erp_to_direction", "roll_panorama"),
    "foa": ("CHANNELS", "validate_foa"),
    "formats": ("ambix_to_fuma", "fuma_to_ambix", "n3d_to_sn3d", "sn3d_to_n3d"),
    "hold": ("PlaceHold",),
    "hrtf": ("BinauralDecoder", "HrtfSet", "binaural", "binaural_decoder", "find_sofa",
             "load_sofa"),
    "mp4": ("AmbisonicAudio", "SpatialMetadata", "SphericalVideo", "TrackMetadata",
            "VideoFileError", "VideoFormatError", "inject_spatial_metadata",
            "read_spatial_metadata", "write_360_mp4"),
    "rotation": ("ambix_matrix", "cartesian_rotation", "rotate", "rotation_between",
                 "rotation_matrix"),
    "salience": ("SalientTrack", "salient_directions"),
    "signals": ("source_signal",),
    "video_io": ("read_panorama_video", "write_panorama_npz"),
}

__all__ = [
    "CHANNELS",
    "AmbisonicAudio",
    "BinauralDecoder",
    "DirectionTrack",
    "HrtfSet",
    "PlaceHold",
    "SalientTrack",
    "SpatialMetadata",
    "SphericalVideo",
    "TrackMetadata",
    "VideoFileError",
    "VideoFormatError",
    "ambix_matrix",
    "ambix_to_fuma",
    "angular_errors",
    "beam_weights",
    "binaural",
    "binaural_decoder",
    "cartesian_rotation",
    "direction",
    "direction_to_erp",
    "direction_track",
    "encode",
    "energy_map",
    "erp_grid",
    "erp_to_direction",
    "find_sofa",
    "fuma_to_ambix",
    "inject_spatial_metadata",
    "intensity_vector",
    "load_sofa",
    "n3d_to_sn3d",
    "plane_wave_gains",
    "read_foa",
    "read_panorama_video",
    "read_spatial_metadata",
    "roll_panorama",
    "rotate",
    "rotation_between",
    "rotation_matrix",
    "salient_directions",
    "sn3d_to_n3d",
    "source_signal",
    "validate_foa",
    "write_360_mp4",
    "write_foa",
    "write_panorama_npz",
    "write_wav",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
