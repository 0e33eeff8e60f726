"""Both built-in codecs pass every streaming conformance suite (small configs, CPU)."""

from __future__ import annotations

import torch

import swansphere
from swansphere.testing.streaming import CodecConformanceSuite

SMALL_VAE = {"type": "foa-vae", "preset": "tiny", "sample_rate": 8000, "strides": [2, 4],
             "channels": [4, 8, 8], "latent_dim": 6, "dilations": [1, 3], "kernel_size": 3,
             "skip_coefficients": 1}


def randomised(codec):
    """Every weight random: the start-up init zeroes whole branches, which would hide them."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in codec.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
    return codec


class TestFoaVaeConforms(CodecConformanceSuite):
    max_examples = 6
    max_blocks = 6

    def make_codec(self):
        return randomised(swansphere.create("codec", SMALL_VAE))


class TestFoaVaeUnevenStridesConforms(CodecConformanceSuite):
    """Odd strides and a stage wider than the next: the padding arithmetic must still hold."""

    max_examples = 4
    max_blocks = 4

    def make_codec(self):
        return randomised(swansphere.create("codec", {
            **SMALL_VAE, "strides": [3, 2, 1], "channels": [6, 4, 5, 3], "dilations": [2],
            "skip_coefficients": 0}))


class TestPatchCodecConforms(CodecConformanceSuite):
    max_examples = 8

    def make_codec(self):
        return swansphere.create("codec", {"type": "patch", "hop_length": 8})


class TestLowPassPatchCodecConforms(CodecConformanceSuite):
    max_examples = 4

    def make_codec(self):
        return swansphere.create("codec", {"type": "patch", "hop_length": 6, "coefficients": 2})


class TestIdentityPatchCodecConforms(CodecConformanceSuite):
    max_examples = 4

    def make_codec(self):
        return swansphere.create("codec", {"type": "patch", "hop_length": 5,
                                           "transform": "identity"})
