"""LocDiT: the local diffusion transformer that turns ``h_t`` into the velocity of patch ``t``."""

from __future__ import annotations

import torch
from torch import nn

from swansphere.nn.attention import Backend
from swansphere.nn.layers import (
    AdaLNZero,
    DiTBlock,
    TimestepEmbedding,
    ZeroLinear,
    modulate,
    rotary_tables,
)

from .config import TransformerSize

H_TOKEN, CONTEXT_TOKEN, CURRENT_TOKEN = 0, 1, 2
"""Segment ids: the LM token, clean context frames, noisy frames of the current patch."""


class LocDiT(nn.Module):
    """Bidirectional DiT over ``[h_t ; context frames ; noisy current frames ; reference]``.

    A segment ("is-context") embedding tells the parts apart; AdaLN-Zero modulation is
    conditioned on the flow time plus ``h_t``. Dropped conditions (classifier-free guidance)
    and context frames that do not exist yet (the first patches of a stream) are replaced by
    learned null tokens, never by zeros, so silence and "unknown" stay distinguishable.

    With ``reference_frames`` the tokens end with that many frames of a reference recording
    (or, where an item has none, learned null tokens). They come last, so that a model trained
    without them keeps every other token's position and can be fine-tuned to use them.
    """

    def __init__(self, latent_dim: int, h_dim: int, size: TransformerSize, *,
                 context_frames: int, patch_frames: int, eps: float, rope_base: float,
                 patch_mean: bool = False, reference_frames: int = 0) -> None:
        super().__init__()
        width = size.width
        self.size, self.rope_base = size, rope_base
        self.context_frames, self.patch_frames = context_frames, patch_frames
        self.reference_frames = reference_frames
        self.frame_proj = nn.Linear(latent_dim, width)
        self.h_proj = nn.Linear(h_dim, width)
        self.null_h = nn.Parameter(torch.zeros(width))
        self.null_context = nn.Parameter(torch.zeros(width))
        self.segment = nn.Embedding(3, width)
        self.time_embed = TimestepEmbedding(width)
        self.cond_proj = nn.Linear(width, width)
        self.blocks = nn.ModuleList(
            DiTBlock(width, size.heads, size.kv_heads, size.mlp_hidden, eps=eps)
            for _ in range(size.layers))
        self.final_norm = nn.LayerNorm(width, elementwise_affine=False, eps=eps)
        self.final_modulation = AdaLNZero(width, 2)
        self.out = ZeroLinear(width, latent_dim)
        self.mean_head = ZeroLinear(width, latent_dim) if patch_mean else None
        if reference_frames:
            self.reference_segment = nn.Parameter(torch.zeros(width))
            self.null_reference = nn.Parameter(torch.zeros(reference_frames, width))
        segments = [H_TOKEN] + [CONTEXT_TOKEN] * context_frames + [CURRENT_TOKEN] * patch_frames
        self.register_buffer("segments", torch.tensor(segments), persistent=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor, h: torch.Tensor, h_keep: torch.Tensor,
                context: torch.Tensor, context_valid: torch.Tensor,
                backend: Backend = "auto", reference: torch.Tensor | None = None,
                reference_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity ``(N, patch_frames, latent_dim)`` of the noisy patch ``x`` at times ``t``.

        Args:
            x: ``(N, patch_frames, latent_dim)`` noisy current patch.
            t: ``(N,)`` flow times in [0, 1].
            h: ``(N, h_dim)`` LM outputs; ``h_keep (N,)`` False replaces them by the null token.
            context: ``(N, context_frames, latent_dim)`` clean previous frames;
                ``context_valid (N, context_frames)`` False replaces a frame by the null token.
            reference: ``(N, reference_frames, latent_dim)`` frames of the sound to make;
                ``reference_keep (N,)`` False (or no ``reference``) gives the null tokens.
        """
        h_token = self._h_token(h, h_keep, x.dtype)
        context_tokens = torch.where(context_valid.unsqueeze(-1), self.frame_proj(context),
                                     self.null_context.to(x.dtype))
        tokens = torch.cat((h_token.unsqueeze(1), context_tokens, self.frame_proj(x)), dim=1)
        tokens = tokens + self.segment(self.segments)
        if self.reference_frames:
            tokens = torch.cat((tokens, self._reference_tokens(reference, reference_keep, x)), 1)
        condition = self.time_embed(t).to(x.dtype) + self.cond_proj(h_token)
        positions = torch.arange(tokens.shape[1], device=x.device)
        rotary = rotary_tables(positions, self.size.head_dim, self.rope_base, x.dtype)
        for block in self.blocks:
            tokens = block(tokens, condition, rotary, backend)
        shift, scale = self.final_modulation(condition)
        current = tokens[:, 1 + self.context_frames:1 + self.context_frames + self.patch_frames]
        velocity = self.out(modulate(self.final_norm(current), shift, scale))
        if self.mean_head is None:
            return velocity
        return velocity + self.mean_head(h_token).unsqueeze(1)

    def patch_mean(self, h: torch.Tensor, h_keep: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim)``: the mean latent of the patch that ``h`` (or, where ``h_keep`` is
        False, the null token) predicts, which :meth:`forward` adds to every frame's velocity.

        Integrated over the flow from noise to data, a constant velocity term shifts the
        sample by itself, so this head, fitted to each patch's mean, gives the sample the mean
        that its conditions call for (what the caption says a sound is), however little the
        transformer has learnt yet. Needs ``patch_mean=True``.
        """
        if self.mean_head is None:
            raise RuntimeError("this LocDiT has no patch-mean head (patch_mean=False)")
        return self.mean_head(self._h_token(h, h_keep, h.dtype))

    def _reference_tokens(self, reference: torch.Tensor | None,
                          keep: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        null = self.null_reference.to(like.dtype).expand(like.shape[0], -1, -1)
        if reference is None:
            return null
        tokens = self.frame_proj(reference.to(like.dtype)) + self.reference_segment.to(like.dtype)
        if keep is None:
            return tokens
        return torch.where(keep.view(-1, 1, 1), tokens, null)

    def _h_token(self, h: torch.Tensor, h_keep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return torch.where(h_keep.unsqueeze(-1), self.h_proj(h), self.null_h.to(dtype))
