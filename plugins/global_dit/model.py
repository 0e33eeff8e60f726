"""The whole-clip diffusion transformer: the non-causal baseline of the streaming model.

Every latent token of the clip is denoised together::

    x_t   = t·x1 + (1 − t)·noise                    (all tokens, one flow time per clip)
    token = FrameProj(x_t patch) + video_t          (video_t: latest frame by the token's end)
    v     = DiT(tokens | t, text)                    (bidirectional; text by cross-attention)

so the first audio exists only once the whole clip has been sampled. The building blocks are
the causal model's (attention, SwiGLU, AdaLN-Zero, caption encoder, video adapter,
conditions), so a size-matched pair differs only in *what each token may see*.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from swansphere.conditioning.alignment import (
    causal_frame_index,
    gather_aligned,
    patch_end_times,
)
from swansphere.nn.adapters import CaptionEncoder, TextMemory, VideoAdapter, packed_positions
from swansphere.nn.attention import AttentionMask, Backend, packed_mask
from swansphere.nn.conditions import BackboneInputError, Conditions, make_conditions
from swansphere.nn.flow import LatentGrid, batch_times, normal, uniform
from swansphere.nn.layers import (
    AdaLNZero,
    Attention,
    DiTBlock,
    RotaryTables,
    TimestepEmbedding,
    ZeroLinear,
    init_weights,
    modulate,
    rotary_tables,
)
from swansphere.samplers.guidance import Condition, classifier_free_guidance

from .config import GlobalDiTConfig

ALL = int(Condition.ALL)


def adaln_chunks(modulation: AdaLNZero, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """AdaLN-Zero (shift, scale, gate) chunks for a per-row ``(B, 1, D)`` or per-token
    ``(B, M, D)`` condition (packed batches carry one flow time per token)."""
    return modulation.linear(F.silu(condition)).chunk(modulation.chunks, -1)


class GlobalDiTBlock(DiTBlock):
    """A :class:`DiTBlock` with a key mask (packed ragged batches) and gated text
    cross-attention between self-attention and the MLP."""

    def __init__(self, width: int, heads: int, kv_heads: int, mlp_hidden: int, *,
                 eps: float) -> None:
        super().__init__(width, heads, kv_heads, mlp_hidden, eps=eps)
        self.cross_norm = nn.RMSNorm(width, eps=eps)
        self.cross = Attention(width, heads, kv_heads, gated=True, eps=eps)

    def forward(self, x: torch.Tensor, condition: torch.Tensor, rotary: RotaryTables,
                self_mask: AttentionMask | None, text: tuple[torch.Tensor, torch.Tensor],
                cross_mask: AttentionMask, backend: Backend = "auto") -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = adaln_chunks(self.modulation, condition)
        normed = modulate(self.attn_norm(x), shift1, scale1)
        keys, values = self.attn.keys_values(normed, rotary)
        x = x + gate1 * self.attn(normed, keys, values, self_mask, rotary, backend)
        flat = self.cross_norm(x).reshape(1, -1, x.shape[-1])  # packed: one row per token
        x = x + self.cross(flat, *text, cross_mask, None, backend).view_as(x)
        return x + gate2 * self.mlp(modulate(self.mlp_norm(x), shift2, scale2))


@attrs.frozen(kw_only=True, eq=False)
class EncodedConditions:
    """Conditions turned into what every denoising step reuses: the text's cross-attention
    keys/values per layer and the per-token video embeddings ``(B, tokens, width)``."""

    text: TextMemory
    video: torch.Tensor


class GlobalDiT(LatentGrid, nn.Module):
    """The ``global-dit`` whole-clip backbone: a same-size counterpart of ``causal-dit``.

    It trains through the same interface (:meth:`make_conditions`, :meth:`loss`) and samples
    whole clips (:meth:`generate`), the :class:`swansphere.protocols.WholeClipBackbone`
    protocol; a pipeline built on it generates a clip at once.
    """

    make_conditions = staticmethod(make_conditions)

    def __init__(self, config: GlobalDiTConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GlobalDiTConfig()
        size, eps, width = config.dit, config.norm_eps, config.dit.width
        caption_size = attrs.evolve(size, layers=config.caption_layers)
        self.caption = CaptionEncoder(config.text_dim, caption_size,
                                      null_tokens=config.null_text_tokens, eps=eps,
                                      rope_base=config.rope_base)
        self.video = VideoAdapter(config.video_dim, width, config.video_adapter_layers,
                                  size.mlp_hidden, eps)
        self.frame_proj = nn.Linear(self.token_dim, width)
        self.time_embed = TimestepEmbedding(width)
        self.blocks = nn.ModuleList(
            GlobalDiTBlock(width, size.heads, size.kv_heads, size.mlp_hidden, eps=eps)
            for _ in range(size.layers))
        self.final_norm = nn.LayerNorm(width, elementwise_affine=False, eps=eps)
        self.final_modulation = AdaLNZero(width, 2)
        self.out = ZeroLinear(width, self.token_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_weights(self)
        for token in (self.video.null, self.caption.null):
            nn.init.trunc_normal_(token, std=0.02, a=-0.06, b=0.06)

    # ------------------------------------------------------------------ metadata

    @property
    def token_dim(self) -> int:
        return self.config.patch_frames * self.config.latent_dim

    @property
    def _dtype(self) -> torch.dtype:
        return self.frame_proj.weight.dtype

    @property
    def _device(self) -> torch.device:
        return self.frame_proj.weight.device

    @property
    def _backend(self) -> Backend:
        return self.config.attention_backend

    # ------------------------------------------------------------------ tokens

    def _tokens(self, latents: torch.Tensor, *, whole: bool = False) -> torch.Tensor:
        """``(B, frames, D)`` -> tokens ``(B, T, patch_frames·D)``; a trailing remainder is
        dropped (training crops) unless ``whole`` demands an exact multiple."""
        frames = self.patch_frames
        if latents.dim() != 3 or latents.shape[2] != self.latent_dim:
            raise BackboneInputError(f"latents must have shape (batch, frames, "
                                     f"{self.latent_dim}), got {tuple(latents.shape)}")
        count = latents.shape[1] // frames
        if count == 0 or (whole and latents.shape[1] % frames):
            raise BackboneInputError(f"latents need a whole number (at least one) of "
                                     f"{frames}-frame tokens, got {latents.shape[1]} frames")
        batch = latents.shape[0]
        kept = latents[:, :count * frames].to(self._device, self._dtype)
        return kept.reshape(batch, count, self.token_dim)

    def _frames(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens.reshape(tokens.shape[0], -1, self.latent_dim)

    # ------------------------------------------------------------------ conditions

    def encode_conditions(self, conditions: Conditions | None, batch_size: int, tokens: int,
                          text_drop: torch.Tensor | None = None,
                          video_drop: torch.Tensor | None = None) -> EncodedConditions:
        """Encode text and video once for ``tokens`` tokens per item; ``*_drop`` ``(B,)``
        replace an item's text or video by the learned null embeddings."""
        return EncodedConditions(text=self._text_memory(conditions, batch_size, text_drop),
                                 video=self._video_tokens(conditions, batch_size, tokens,
                                                          video_drop))

    def _text_memory(self, conditions: Conditions | None, batch_size: int,
                     drop: torch.Tensor | None) -> TextMemory:
        if conditions is None or conditions.text is None:
            encoded, lengths = self.caption.null_text(batch_size)
        else:
            text, mask = conditions.text_tokens(batch_size, self.config.text_dim)
            mask = mask.to(self._device)
            if drop is not None:
                mask = mask & ~drop.to(self._device).unsqueeze(-1)
            encoded, lengths = self.caption(text.to(self._device, self._dtype), mask,
                                            self._backend)
        pairs = [block.cross.keys_values(encoded) for block in self.blocks]
        return TextMemory(keys=tuple(k for k, _ in pairs), values=tuple(v for _, v in pairs),
                          lengths=tuple(lengths))

    def _video_tokens(self, conditions: Conditions | None, batch_size: int, tokens: int,
                      drop: torch.Tensor | None) -> torch.Tensor:
        """Per-token video embeddings: each token gets the latest frame by its end time (the
        causal model's alignment, so both models are given the same frame per token)."""
        null = self.video.null.to(self._dtype)
        if conditions is None or conditions.video is None:
            return null.expand(batch_size, tokens, -1)
        features, times, valid = conditions.video_frames(batch_size, self.config.video_dim)
        valid = valid.to(self._device)
        if drop is not None:
            valid = valid & ~drop.to(self._device).unsqueeze(-1)
        ends = patch_end_times(0, tokens, self.patch_frames, self.frame_rate,
                               device=self._device)
        index = causal_frame_index(times.to(self._device), ends, valid)
        projected = self.video(features.to(self._device, self._dtype))
        return gather_aligned(projected, index, null)

    # ------------------------------------------------------------------ the network

    def _denoise(self, x: torch.Tensor, t: torch.Tensor, encoded: EncodedConditions,
                 counts: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity tokens of noisy tokens ``x (B, T, token_dim)`` at flow times ``t (B,)``.

        ``counts`` (tokens per item) packs a ragged batch into one block-diagonal sequence;
        tokens past an item's count get zero velocity and see nothing.
        """
        batch, count = x.shape[:2]
        hidden = self.frame_proj(x) + encoded.video.to(x.dtype)
        condition = self.time_embed(t).to(x.dtype)
        if counts is None:
            seqlens = [count] * batch
            positions = torch.arange(count)
            self_mask, condition = None, condition.unsqueeze(1)
        else:
            valid = torch.arange(count) < counts.to(x.device)[:, None]
            seqlens = counts.tolist()
            hidden = hidden[valid].unsqueeze(0)
            positions = packed_positions(seqlens, x.device)
            self_mask = packed_mask(seqlens)
            condition = condition.repeat_interleave(counts.to(x.device), 0).unsqueeze(0)
        rotary = rotary_tables(positions, self.config.dit.head_dim, self.config.rope_base,
                               x.dtype)
        text = encoded.text
        cross_mask = packed_mask(seqlens, text.lengths)
        for index, block in enumerate(self.blocks):
            hidden = block(hidden, condition, rotary, self_mask,
                           (text.keys[index], text.values[index]), cross_mask, self._backend)
        shift, scale = adaln_chunks(self.final_modulation, condition)
        out = self.out(modulate(self.final_norm(hidden), shift, scale))
        if counts is None:
            return out
        return x.new_zeros(batch, count, self.token_dim).index_put((valid,), out[0])

    # ------------------------------------------------------------------ training

    def loss(self, latents: torch.Tensor, conditions: Conditions | None = None,
             generator: torch.Generator | None = None,
             lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Rectified-flow loss over every (valid) token of the clip.

        ``x_t = t·x1 + (1 - t)·noise`` with one ``t`` per clip, target ``x1 - noise``. Text and
        video are each dropped per item (learned null embeddings) for guidance, as in
        ``causal-dit``. ``lengths`` (latent frames per item) packs a ragged batch.
        """
        config, batch = self.config, latents.shape[0]
        device = self._device
        text_drop = uniform((batch,), generator, device) < config.text_dropout
        video_drop = uniform((batch,), generator, device) < config.video_dropout
        target = self._tokens(latents)
        count = target.shape[1]
        counts = None if lengths is None else self._unit_counts(lengths, batch, count)
        times = self._sample_times(batch, generator, device)
        noise = normal(target.shape, generator, device).to(target.dtype)
        t = times.to(target.dtype)[:, None, None]
        noisy = t * target + (1 - t) * noise
        encoded = self.encode_conditions(conditions, batch, count, text_drop, video_drop)
        error = (self._denoise(noisy, times, encoded, counts).float()
                 - (target - noise).float()).square()
        if counts is None:
            return error.mean()
        valid = torch.arange(count) < counts.to(device)[:, None]
        return error[valid].mean()

    def _sample_times(self, count: int, generator: torch.Generator | None,
                      device: torch.device) -> torch.Tensor:
        if self.config.time_distribution == "logit-normal":
            return torch.sigmoid(normal((count,), generator, device))
        return uniform((count,), generator, device)

    # ------------------------------------------------------------------ sampling

    def velocity(self, x: torch.Tensor, t: torch.Tensor | float,
                 conditions: Conditions | None = None) -> torch.Tensor:
        """Velocity of noisy latents ``x (B, frames, latent_dim)`` (whole tokens) at ``t``
        (a scalar or ``(B,)``), conditioned on ``conditions`` (``None``: unconditional)."""
        tokens = self._tokens(x, whole=True)
        batch, count = tokens.shape[:2]
        encoded = self.encode_conditions(conditions, batch, count)
        return self._frames(self._denoise(tokens, batch_times(t, batch, tokens), encoded))

    def guided_model(self, conditions: Conditions | None = None, batch_size: int = 1
                     ) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        """A guided model ``model(x, t, condition)`` for :mod:`swansphere.samplers.guidance`.

        ``x`` stacks guidance branches along the batch (row ``r`` is item ``r % B``). An
        ``ALL`` row sees the text and the video; ``NONE`` and ``FIRST`` rows see neither: the
        causal model's first condition is its audio context, which a whole-clip model does not
        have. The paper's guidance therefore reduces to classifier-free guidance with scale
        ``w2`` on text and video, the weight the causal model gives its LM output.
        Conditions are encoded once per branch layout and reused at every step.
        """
        encoded: dict[tuple[int, ...], EncodedConditions] = {}

        def model(x: torch.Tensor, t: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
            tokens = self._tokens(x, whole=True)
            rows, count = tokens.shape[:2]
            layout = (count, *condition.tolist())
            if layout not in encoded:
                sees = condition.to(self._device) >= ALL
                repeated = repeat_conditions(conditions, rows // batch_size)
                encoded[layout] = self.encode_conditions(repeated, rows, count, ~sees, ~sees)
            velocity = self._denoise(tokens, batch_times(t, rows, tokens), encoded[layout])
            return self._frames(velocity)

        return model

    def generate(self, frames: int, conditions: Conditions | None = None, *, sampler: Any,
                 generator: torch.Generator | None = None, steps: int | None = None,
                 w1: float = 1.4, w2: float = 3.0, batch_size: int = 1) -> torch.Tensor:
        """Sample a whole clip: latents ``(batch_size, frames, latent_dim)``, in inference mode.

        Noise is drawn for whole tokens (``frames`` rounded up) and the result cropped.
        Guidance takes the paper's weights; for this model they reduce to classifier-free
        guidance of scale ``w2`` (see :meth:`guided_model`), evaluated as two branches rather
        than three, so the baseline pays for no redundant branch. ``w1`` weights the audio
        context a whole-clip model does not have and is accepted for symmetry only.
        """
        del w1
        if not isinstance(frames, int) or frames < 1:
            raise BackboneInputError(f"frames must be a positive integer, got {frames!r}")
        tokens = -(-frames // self.patch_frames)
        shape = (batch_size, tokens * self.patch_frames, self.latent_dim)
        if generator is None:
            noise = torch.randn(shape, device=self._device)
        else:
            noise = torch.randn(shape, generator=generator, device=generator.device)
        with torch.inference_mode():
            velocity = classifier_free_guidance(self.guided_model(conditions, batch_size), w2)
            sample = sampler.sample(velocity, noise.to(self._device, self._dtype), steps,
                                    generator=generator)
        return sample[:, :frames]


def repeat_conditions(conditions: Conditions | None, repeats: int) -> Conditions | None:
    """``conditions`` for ``repeats`` stacked copies of the batch (guidance branches)."""
    if conditions is None or repeats == 1:
        return conditions

    def tile(tensor: torch.Tensor | None, per_item: bool = True) -> torch.Tensor | None:
        if tensor is None or not per_item:
            return tensor
        return tensor.repeat(repeats, *([1] * (tensor.dim() - 1)))

    times = conditions.video_times
    return Conditions(text=tile(conditions.text), text_mask=tile(conditions.text_mask),
                      video=tile(conditions.video), video_mask=tile(conditions.video_mask),
                      video_times=tile(times, times is not None and times.dim() == 2))


def count_parameters(config: GlobalDiTConfig) -> int:
    """Parameters of a ``global-dit`` configuration, counted on the meta device."""
    with torch.device("meta"):
        model = GlobalDiT(config)
    return sum(p.numel() for p in model.parameters())


def same_size_config(causal: Any, *, patch_frames: int = 1,
                     layers: int | None = None) -> GlobalDiTConfig:
    """The ``global-dit`` configuration that matches a ``causal-dit`` one in size.

    Same latents, condition widths, caption encoder and video adapter depth, and the LM's
    width, heads and MLP ratio; ``patch_frames`` latent frames per token (1: every frame is a
    token; the causal ``patch_frames``: the LM's grid). The depth is the one whose parameter
    count is closest to the causal model's (or ``layers`` if given). ``causal`` is a
    :class:`~swansphere.plugins.causal_dit.CausalDiTConfig` or a preset name.
    """
    from swansphere.plugins.causal_dit.presets import count_parameters as causal_parameters
    from swansphere.plugins.causal_dit.presets import preset

    if isinstance(causal, str):
        causal = preset(causal)
    base = GlobalDiTConfig(
        latent_dim=causal.latent_dim, latent_frame_rate=causal.latent_frame_rate,
        patch_frames=patch_frames, text_dim=causal.text_dim, video_dim=causal.video_dim,
        dit=attrs.evolve(causal.lm, layers=0), caption_layers=causal.caption_layers,
        null_text_tokens=causal.null_text_tokens,
        video_adapter_layers=causal.video_adapter_layers, rope_base=causal.rope_base,
        norm_eps=causal.norm_eps, text_dropout=causal.text_dropout,
        video_dropout=causal.video_dropout, time_distribution=causal.time_distribution,
        attention_backend=causal.attention_backend)
    if layers is None:
        fixed = count_parameters(base)
        per_layer = count_parameters(attrs.evolve(base, dit=attrs.evolve(base.dit, layers=1)))
        target = causal_parameters(causal)["total"]
        layers = max(1, round((target - fixed) / (per_layer - fixed)))
    return attrs.evolve(base, dit=attrs.evolve(base.dit, layers=layers))


def size_report(causal: Any, *, patch_frames: int = 1) -> dict[str, Any]:
    """Parameter counts of a ``causal-dit`` configuration and of its same-size baseline."""
    from swansphere.plugins.causal_dit.presets import count_parameters as causal_parameters

    matched = same_size_config(causal, patch_frames=patch_frames)
    causal_total = causal_parameters(causal)["total"]
    global_total = count_parameters(matched)
    return {"causal_parameters": causal_total, "global_parameters": global_total,
            "global_layers": matched.dit.layers, "ratio": global_total / causal_total}
