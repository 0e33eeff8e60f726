"""Built-in codecs, registered through the ``swansphere.plugins`` entry point like any plugin.

Import-light: the config classes need attrs only; torch-heavy modules load in the factories.
"""

from __future__ import annotations

from swansphere import Component, hookimpl
from swansphere.codecs.config import FoaParametricConfig, FoaVaeConfig, PatchCodecConfig


def _build_foa_vae(config: FoaVaeConfig):
    from swansphere.codecs.foa_vae import FoaVae

    return FoaVae.from_config(config)


def _build_foa_parametric(config: FoaParametricConfig):
    from swansphere.codecs.parametric import FoaParametricCodec

    return FoaParametricCodec.from_config(config)


def _build_patch(config: PatchCodecConfig):
    from swansphere.codecs.patch import PatchCodec

    return PatchCodec(config)


@hookimpl
def swansphere_register_codecs() -> list[Component]:
    return [
        Component(name="foa-vae", kind="codec", factory=_build_foa_vae,
                  config_class=FoaVaeConfig,
                  description="causal streaming convolutional VAE for AmbiX FOA (tiny, paper)"),
        Component(name="foa-parametric", kind="codec", factory=_build_foa_parametric,
                  config_class=FoaParametricConfig,
                  description="MDCT codec: exact low band, copied-up high band, DirAC-style "
                              "directions per band (112-d at 62.5 Hz)"),
        Component(name="patch", kind="codec", factory=_build_patch,
                  config_class=PatchCodecConfig,
                  description="training-free FOA codec: DCT (or raw) waveform patches per hop"),
    ]
