"""Configuration of the ``causal-dit`` backbone (import-light: attrs only, no torch)."""

from __future__ import annotations

from typing import Literal

import attrs
from attrs import validators as v

from swansphere.nn.configs import TransformerSize

_positive = v.gt(0)
_probability = [v.ge(0.0), v.le(1.0)]


@attrs.frozen(kw_only=True)
class CausalDiTConfig:
    """The causal autoregressive diffusion transformer (Spatial LM + LocEnc + LocDiT).

    Defaults are the ``tiny`` preset. Latent and timing fields must match the codec:
    ``latent_dim`` channels at ``latent_frame_rate`` frames per second, generated
    ``patch_frames`` at a time with ``context_patches`` previous patches as LocDiT context.

    ``attention_window`` is the LM's KV window in patches (a query sees itself and the
    ``window - 1`` patches before it, in training and in streaming alike); 0 removes the window,
    and with it the memory bound on unbounded streams.

    ``time_shift`` warps the training times ``t`` drawn from ``time_distribution`` as the
    samplers' ``shifted`` grid does (``shift·t / (1 + (shift − 1)·t)``, t = 0 noise): below 1
    it trains more at high noise. Latents whose values repeat across a patch (a plane wave's
    direction in every band and frame) let the noisy patch itself reveal them at moderate
    noise, so only the noisiest times teach the conditions; 1 is no shift.

    ``history_noise`` is the largest standard deviation (in latent units) of the Gaussian
    noise added to an item's audio history in training, so that a stream learns to follow
    history as imperfect as its own samples; 0 trains on clean history.

    ``patch_mean_weight`` above 0 gives LocDiT a linear head from ``h_t`` to the patch's mean
    latent, added to its velocity and fitted to each training patch's mean at this weight
    beside the flow loss (the mean reduction; preference optimisation's per-item losses stay
    flow losses): the words reach the sample's mean, hence its spectrum, by one linear map
    (docs/backbone.md). 0 (the default) builds no head.

    ``text_summary`` adds a learned projection of the mean of the text features to every
    ``h_t``, beside the cross-attention: a direct path from what the caption says to LocDiT,
    which a small training budget finds where the cross-attention's, through the LM, stays
    unheard (docs/backbone.md). It rides on the text memory, so it needs
    ``text_cross_attention``.

    ``reference_frames`` above 0 lets LocDiT see that many latent frames of a *reference*, a
    recording of the sound to make (an exemplar of the named class, or an audio prompt), at
    every patch of a stream, beside ``h_t`` and the context: a stream started from a
    recording loses its class within a second or so when only its own recent patches carry
    it (docs/evaluation.md, "Exemplar prefixes and the stream's own history"), while a sound the
    head can see, it copies.
    ``reference_dropout`` hides an item's reference in training (it is also hidden with
    ``h_t``, so the guidance weight ``w2`` pulls towards it), so that the model still
    streams without one. 0 (the default) builds nothing.
    """

    latent_dim: int = attrs.field(default=32, validator=_positive)
    latent_frame_rate: float = attrs.field(default=62.5, validator=_positive)
    patch_frames: int = attrs.field(default=4, validator=_positive)
    context_patches: int = attrs.field(default=2, validator=v.ge(0))
    text_dim: int = attrs.field(default=384, validator=_positive)
    video_dim: int = attrs.field(default=512, validator=_positive)

    lm: TransformerSize = attrs.field(factory=TransformerSize)
    gated_attention: bool = True
    text_cross_attention: bool = True
    text_summary: bool = attrs.field(default=False)
    caption_layers: int = attrs.field(default=2, validator=v.ge(0))
    null_text_tokens: int = attrs.field(default=1, validator=_positive)
    video_adapter_layers: int = attrs.field(default=1, validator=v.ge(0))
    attention_window: int = attrs.field(default=256, validator=v.ge(0))
    locenc: TransformerSize = attrs.field(factory=lambda: TransformerSize(layers=2))
    locdit: TransformerSize = attrs.field(
        factory=lambda: TransformerSize(layers=3, mlp_ratio=2.0))
    rope_base: float = attrs.field(default=10_000.0, validator=_positive)
    norm_eps: float = attrs.field(default=1e-6, validator=_positive)

    h_dropout: float = attrs.field(default=0.15, validator=_probability)
    context_dropout: float = attrs.field(default=0.15, validator=_probability)
    text_dropout: float = attrs.field(default=0.1, validator=_probability)
    video_dropout: float = attrs.field(default=0.1, validator=_probability)
    history_dropout: float = attrs.field(default=0.0, validator=_probability)
    history_noise: float = attrs.field(default=0.0, validator=[v.ge(0.0), v.lt(float("inf"))])
    patch_mean_weight: float = attrs.field(default=0.0,
                                           validator=[v.ge(0.0), v.lt(float("inf"))])
    reference_frames: int = attrs.field(default=0, validator=v.ge(0))
    reference_dropout: float = attrs.field(default=0.3, validator=_probability)
    patch_keep_ratio: float = attrs.field(default=0.6, validator=[v.gt(0.0), v.le(1.0)])
    time_distribution: Literal["uniform", "logit-normal"] = attrs.field(
        default="uniform", validator=v.in_(("uniform", "logit-normal")))
    time_shift: float = attrs.field(default=1.0, validator=[v.gt(0.0), v.lt(float("inf"))])
    attention_backend: Literal["auto", "xformers", "sdpa"] = attrs.field(
        default="auto", validator=v.in_(("auto", "xformers", "sdpa")))

    @text_summary.validator
    def _check_text_summary(self, attribute: attrs.Attribute, value: bool) -> None:
        if value and not self.text_cross_attention:
            raise ValueError("text_summary travels with the caption encoder's text memory: "
                             "it needs text_cross_attention = true")

    @property
    def patch_seconds(self) -> float:
        """Duration of one patch (one autoregressive step) in seconds."""
        return self.patch_frames / self.latent_frame_rate

    @property
    def context_frames(self) -> int:
        return self.context_patches * self.patch_frames
