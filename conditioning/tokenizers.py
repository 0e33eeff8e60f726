"""Dependency-free deterministic tokenizers for the built-in text encoder.

Both map a caption to integer ids with no vocabulary file, so a model trained here loads
anywhere: ``bytes`` uses the UTF-8 bytes (any language, long sequences); ``words`` hashes
lower-cased words into a fixed number of buckets with CRC-32 (short sequences, one id per word,
stable across processes and platforms, unlike Python's salted ``hash``). Id 0 is padding,
1 and 2 open and close every sequence.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import torch

PAD, BOS, EOS = 0, 1, 2
_SPECIAL = 3
_WORD = re.compile(r"[^\W_]+|[^\w\s]", re.UNICODE)


class ByteTokenizer:
    """UTF-8 bytes shifted past the special ids: ``vocab_size`` is 259."""

    vocab_size = 256 + _SPECIAL

    def encode(self, text: str) -> list[int]:
        return [byte + _SPECIAL for byte in text.encode("utf-8")]


class WordHashTokenizer:
    """Lower-cased words and punctuation marks hashed into ``vocab_size - 3`` buckets."""

    def __init__(self, vocab_size: int = 4096) -> None:
        if vocab_size <= _SPECIAL:
            raise ValueError(f"vocab_size must exceed {_SPECIAL}, got {vocab_size}")
        self.vocab_size = vocab_size

    def encode(self, text: str) -> list[int]:
        buckets = self.vocab_size - _SPECIAL
        return [zlib.crc32(word.encode("utf-8")) % buckets + _SPECIAL
                for word in _WORD.findall(text.lower())]


def make_tokenizer(name: str, vocab_size: int) -> ByteTokenizer | WordHashTokenizer:
    """The tokenizer called ``name`` ("bytes" or "words")."""
    if name == "bytes":
        return ByteTokenizer()
    if name == "words":
        return WordHashTokenizer(vocab_size)
    raise ValueError(f"unknown tokenizer {name!r}; use 'bytes' or 'words'")


def pad_batch(sequences: Sequence[Sequence[int]],
              max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Wrap each sequence in BOS/EOS, cut to ``max_length`` (keeping EOS), pad with 0.

    Returns ``ids`` ``(batch, length)`` long and ``mask`` ``(batch, length)`` bool, where
    ``length`` is the longest wrapped sequence (at least 2: BOS, EOS).
    """
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2 (BOS and EOS), got {max_length}")
    wrapped = [[BOS, *list(seq)[:max_length - 2], EOS] for seq in sequences]
    length = max((len(seq) for seq in wrapped), default=2)
    ids = torch.full((len(wrapped), length), PAD, dtype=torch.long)
    for row, seq in enumerate(wrapped):
        ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
    return ids, ids != PAD
