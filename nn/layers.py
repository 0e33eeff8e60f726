"""Building blocks shared by the Spatial LM, LocEnc and LocDiT.

Qwen3-style blocks: pre-norm RMSNorm, SwiGLU MLPs, grouped-query attention with QK-norm and
rotary position embeddings, an optional sigmoid output gate on attention ("gated attention"),
and AdaLN-Zero modulation for the diffusion transformer.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import AttentionMask, Backend, attention

RotaryTables = tuple[torch.Tensor, torch.Tensor]


class SwiGLU(nn.Module):
    """``down(silu(gate(x)) * up(x))``: the gated MLP of LLaMA/Qwen."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_up = nn.Linear(dim, 2 * hidden, bias=False)  # one matmul for both
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(nn.functional.silu(gate) * up)


def rotary_tables(positions: torch.Tensor, head_dim: int, base: float,
                  dtype: torch.dtype) -> RotaryTables:
    """Cosine and sine tables ``(..., M, 1, head_dim/2)`` for integer ``positions (..., M)``.

    Angles are computed in float64 from int64 positions, so absolute positions far into an
    unbounded stream (a KV cache keeps them) rotate as precisely as position 0: the error of
    ``q·k`` stays that of the model dtype, independent of the stream length.
    """
    half = head_dim // 2
    exponents = torch.arange(half, dtype=torch.float64, device=positions.device) / half
    inv_freq = base ** -exponents
    angles = positions.to(torch.float64).unsqueeze(-1) * inv_freq
    return angles.cos().to(dtype).unsqueeze(-2), angles.sin().to(dtype).unsqueeze(-2)


def apply_rotary(x: torch.Tensor, tables: RotaryTables) -> torch.Tensor:
    """Rotate channel pairs ``(i, i + K/2)`` of ``x (B, M, H, K)`` by the position angles."""
    cos, sin = tables
    first, second = x.chunk(2, dim=-1)
    return torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)


class Attention(nn.Module):
    """Multi-head attention with grouped KV heads, QK-norm, RoPE and an optional output gate.

    Used for self-attention (keys from the same tokens, possibly extended by a KV cache) and
    cross-attention (``kv_dim`` differs, no RoPE on either side). The gate is the elementwise
    ``sigmoid(W x)`` applied to the attention output before the output projection (Qiu et al.,
    "Gated Attention for LLMs"); it lets a head output nothing, which removes attention sinks.
    """

    def __init__(self, dim: int, heads: int, kv_heads: int, *, kv_dim: int | None = None,
                 gated: bool = False, eps: float = 1e-6) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        inner, kv_inner = heads * self.head_dim, kv_heads * self.head_dim
        kv_dim = dim if kv_dim is None else kv_dim
        self.q_proj = nn.Linear(dim, inner, bias=False)
        self.kv_proj = nn.Linear(kv_dim, 2 * kv_inner, bias=False)  # keys and values at once
        self.o_proj = nn.Linear(inner, dim, bias=False)
        self.q_norm = nn.RMSNorm(self.head_dim, eps=eps)
        self.k_norm = nn.RMSNorm(self.head_dim, eps=eps)
        self.gate = nn.Linear(dim, inner) if gated else None

    def keys_values(self, source: torch.Tensor,
                    rotary: RotaryTables | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized, rotated keys and values ``(B, N, kv_heads, head_dim)`` of ``source``."""
        shape = (*source.shape[:2], 2 * self.kv_heads, self.head_dim)
        keys, values = self.kv_proj(source).view(shape).chunk(2, dim=2)
        keys = self.k_norm(keys)
        if rotary is not None:
            keys = apply_rotary(keys, rotary)
        return keys, values

    def forward(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: AttentionMask | torch.Tensor | None = None,
                rotary: RotaryTables | None = None,
                backend: Backend = "auto") -> torch.Tensor:
        query = self.q_norm(self.q_proj(x).view(*x.shape[:2], self.heads, self.head_dim))
        if rotary is not None:
            query = apply_rotary(query, rotary)
        out = attention(query, keys, values, mask, backend=backend).flatten(2)
        if self.gate is not None:
            out = out * torch.sigmoid(self.gate(x))
        return self.o_proj(out)


class EncoderBlock(nn.Module):
    """Pre-norm bidirectional transformer block (caption encoder, LocEnc)."""

    def __init__(self, dim: int, heads: int, kv_heads: int, mlp_hidden: int, *,
                 gated: bool = False, eps: float = 1e-6) -> None:
        super().__init__()
        self.attn_norm = nn.RMSNorm(dim, eps=eps)
        self.attn = Attention(dim, heads, kv_heads, gated=gated, eps=eps)
        self.mlp_norm = nn.RMSNorm(dim, eps=eps)
        self.mlp = SwiGLU(dim, mlp_hidden)

    def forward(self, x: torch.Tensor, rotary: RotaryTables, mask: AttentionMask | None,
                backend: Backend = "auto") -> torch.Tensor:
        normed = self.attn_norm(x)
        keys, values = self.attn.keys_values(normed, rotary)
        x = x + self.attn(normed, keys, values, mask, rotary, backend)
        return x + self.mlp(self.mlp_norm(x))


class TimestepEmbedding(nn.Module):
    """Sinusoidal features of the flow time ``t ∈ [0, 1]`` followed by an MLP."""

    def __init__(self, dim: int, frequencies: int = 256, max_period: float = 10_000.0) -> None:
        super().__init__()
        half = frequencies // 2
        exponents = torch.arange(half, dtype=torch.float32) / half
        self.register_buffer("frequencies", max_period ** -exponents, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(frequencies, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = 1000.0 * t.float().unsqueeze(-1) * self.frequencies
        features = torch.cat((angles.cos(), angles.sin()), dim=-1)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


class ZeroLinear(nn.Linear):
    """A linear layer that starts at zero (AdaLN-Zero modulation, the DiT output layer)."""

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class AdaLNZero(nn.Module):
    """``n`` (shift, scale, gate) triples from a conditioning vector, zero at initialisation.

    With zero gates every DiT block starts as the identity, the DiT recipe that makes deep
    conditional transformers train stably.
    """

    def __init__(self, dim: int, chunks: int) -> None:
        super().__init__()
        self.chunks = chunks
        self.linear = ZeroLinear(dim, chunks * dim)

    def forward(self, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.linear(nn.functional.silu(condition)).unsqueeze(1).chunk(self.chunks, -1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class DiTBlock(nn.Module):
    """Bidirectional transformer block with AdaLN-Zero modulation from ``condition (B, D)``."""

    def __init__(self, dim: int, heads: int, kv_heads: int, mlp_hidden: int, *,
                 eps: float = 1e-6) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.attn = Attention(dim, heads, kv_heads, eps=eps)
        self.mlp_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.mlp = SwiGLU(dim, mlp_hidden)
        self.modulation = AdaLNZero(dim, 6)

    def forward(self, x: torch.Tensor, condition: torch.Tensor, rotary: RotaryTables,
                backend: Backend = "auto") -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(condition)
        normed = modulate(self.attn_norm(x), shift1, scale1)
        keys, values = self.attn.keys_values(normed, rotary)
        x = x + gate1 * self.attn(normed, keys, values, None, rotary, backend)
        return x + gate2 * self.mlp(modulate(self.mlp_norm(x), shift2, scale2))


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Truncated-normal linear and embedding weights, zero biases; :class:`ZeroLinear` layers
    stay zero."""
    for sub in module.modules():
        if isinstance(sub, ZeroLinear):
            sub.reset_parameters()
        elif isinstance(sub, nn.Linear):
            nn.init.trunc_normal_(sub.weight, std=std, a=-3 * std, b=3 * std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.Embedding):
            nn.init.trunc_normal_(sub.weight, std=std, a=-3 * std, b=3 * std)
