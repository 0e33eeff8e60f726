"""Latent codecs: FOA waveform ``(batch, 4, samples)`` <-> latents ``(batch, frames, dim)``.

Built-ins (registered in :mod:`swansphere.plugins.codecs`, built with
``swansphere.create("codec", {"type": ...})``):

- ``foa-vae`` (:class:`swansphere.codecs.foa_vae.FoaVae`): causal streaming convolutional VAE;
- ``patch`` (:class:`swansphere.codecs.patch.PatchCodec`): training-free DCT patches.

This package stays import-light; the torch modules live in the submodules.
"""
