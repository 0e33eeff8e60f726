"""Text conditioners: tokenizers, the dependency-free transformer and the packaged MiniLM."""

from __future__ import annotations

import zlib

import attrs
import pytest
import torch
from safetensors.torch import save_file

import swansphere
from swansphere.conditioning import text as text_module
from swansphere.conditioning.config import TextTransformerConfig
from swansphere.conditioning.text import TextTransformerConditioner, default_text_conditioner
from swansphere.conditioning.tokenizers import (
    BOS,
    EOS,
    ByteTokenizer,
    WordHashTokenizer,
    pad_batch,
)
from swansphere.conditioning.types import ConditioningError
from swansphere.errors import ConfigError, ResourceNotFoundError
from swansphere.protocols import Conditioner

TINY = {"type": "text-transformer", "dim": 32, "layers": 1, "heads": 2, "max_length": 16}


def tiny(**fields) -> TextTransformerConditioner:
    torch.manual_seed(0)
    return swansphere.create("conditioner", {**TINY, **fields})


# ------------------------------------------------------------------------------ tokenizers


def test_word_hash_tokenizer_is_stable_and_case_insensitive():
    tokenizer = WordHashTokenizer(vocab_size=1000)
    ids = tokenizer.encode("A dog barks, a DOG barks.")
    assert len(ids) == 8                                    # 6 words, "," and "."
    assert ids[1] == ids[5] and ids[0] == ids[4]            # "dog", "a" repeat
    assert ids[1] == zlib.crc32(b"dog") % 997 + 3           # CRC-32: same in every process
    assert all(3 <= i < 1000 for i in ids)


def test_byte_tokenizer_covers_any_text():
    ids = ByteTokenizer().encode("é!")
    assert ids == [0xC3 + 3, 0xA9 + 3, ord("!") + 3]


def test_pad_batch_wraps_cuts_and_masks():
    ids, mask = pad_batch([[5, 6, 7, 8, 9], [5]], max_length=4)
    assert ids.tolist() == [[BOS, 5, 6, EOS], [BOS, 5, EOS, 0]]
    assert mask.tolist() == [[True] * 4, [True, True, True, False]]


# ------------------------------------------------------------------------------ text-transformer


def test_registered_text_transformer_follows_the_protocol():
    conditioner = tiny()
    assert isinstance(conditioner, Conditioner)
    assert conditioner.modality == "text" and conditioner.dim == 32
    out = conditioner(conditioner.prepare(["a bell rings on the left", "rain"]))
    assert out.tokens.shape[0] == 2 and out.tokens.shape[2] == 32
    assert out.mask.dtype == torch.bool and out.times is None
    assert out.mask[0].sum() > out.mask[1].sum()


def test_absent_caption_gets_the_learned_null_tokens():
    conditioner = tiny(null_tokens=2)
    out = conditioner(conditioner.prepare(["a siren wails", None]))
    null = conditioner.null(1)
    assert null.tokens.shape == (1, 2, 32) and null.mask.all()
    torch.testing.assert_close(out.tokens[1, :2], null.tokens[0])
    assert out.mask[1].tolist() == [True, True] + [False] * (out.mask.shape[1] - 2)
    assert not torch.equal(out.tokens[0, :2], null.tokens[0])


def test_tokens_do_not_depend_on_batch_padding_or_neighbours():
    conditioner = tiny()
    alone = conditioner(conditioner.prepare("steam hisses"))
    batched = conditioner(conditioner.prepare(["steam hisses", "a long caption " * 4]))
    length = alone.tokens.shape[1]
    torch.testing.assert_close(batched.tokens[0, :length], alone.tokens[0], atol=1e-5, rtol=1e-4)
    assert not batched.tokens[0, length:].any()             # padding carries nothing


def test_text_transformer_trains_end_to_end():
    conditioner = tiny()
    out = conditioner(conditioner.prepare(["a clock ticks"]))
    out.tokens.sum().backward()
    assert conditioner.embedding.weight.grad.abs().sum() > 0
    assert conditioner.encoder.layers[0].self_attn.in_proj_weight.grad.abs().sum() > 0


def test_weights_round_trip_through_safetensors(tmp_path):
    conditioner = tiny(tokenizer="bytes")
    path = tmp_path / "text.safetensors"
    save_file({k: v.contiguous() for k, v in conditioner.state_dict().items()}, str(path))
    torch.manual_seed(123)                                   # different init, same weights
    loaded = swansphere.create("conditioner", {**TINY, "tokenizer": "bytes",
                                               "weights": str(path)})
    prepared = conditioner.prepare(["a bird chirps above"])
    torch.testing.assert_close(loaded(prepared).tokens, conditioner(prepared).tokens)
    with pytest.raises(ConditioningError, match="do not fit"):
        swansphere.create("conditioner", {**TINY, "dim": 16, "tokenizer": "bytes",
                                          "weights": str(path)})


def test_canonical_places_give_a_paraphrase_the_tokens_of_the_captioners_words():
    canonical = tiny(places="canonical")
    paraphrase = canonical.prepare(["A bell rings at your back", None, "rain to the front-left"])
    written = canonical.prepare(["a bell rings behind", None, "rain in front on the left"])
    assert torch.equal(paraphrase.ids, written.ids) and torch.equal(paraphrase.mask, written.mask)
    assert paraphrase.present.tolist() == [True, False, True]
    as_written = tiny().prepare(["A bell rings at your back"])  # the default changes nothing
    assert not torch.equal(as_written.ids, tiny().prepare(["a bell rings behind"]).ids)


def test_bad_configs_and_inputs_are_clear_errors():
    with pytest.raises(ConfigError):
        swansphere.create("conditioner", {**TINY, "places": "normalised"})
    with pytest.raises(ConfigError):
        swansphere.create("conditioner", {**TINY, "tokenizer": "sentencepiece"})
    with pytest.raises(ConfigError, match="unknown key"):
        swansphere.create("conditioner", {**TINY, "depth": 3})
    with pytest.raises(ConditioningError, match="string"):
        tiny().prepare(["fine", 3])


def test_default_text_conditioner_falls_back_without_the_extra(monkeypatch):
    monkeypatch.setattr(text_module, "minilm_available", lambda: False)
    assert default_text_conditioner(64) == {"type": "text-transformer", "dim": 64}
    with pytest.raises(ResourceNotFoundError, match=r"swansphere\[text\]"):
        swansphere.create("conditioner", {"type": "minilm"})


def test_config_round_trips_through_toml(tmp_path):
    config = TextTransformerConfig(dim=48, tokenizer="bytes", weights="w.safetensors",
                                   places="canonical")
    swansphere.config.dump_toml(config, tmp_path / "text.toml")
    assert swansphere.config.load_toml(tmp_path / "text.toml", TextTransformerConfig) == config


# ------------------------------------------------------------------------------ MiniLM (extra)


@pytest.fixture(scope="module")
def minilm():
    if not text_module.minilm_available():
        pytest.skip("optional extra swansphere[text] not installed")
    torch.manual_seed(0)
    return swansphere.create("conditioner", {"type": "minilm", "dim": 24})


def test_minilm_gives_token_states_through_a_trainable_projection(minilm):
    out = minilm(minilm.prepare(["a dog barks on the left", None]))
    assert out.tokens.shape[0] == 2 and out.tokens.shape[2] == 24
    assert out.mask[0].sum() > 3                             # word pieces, not one pooled vector
    torch.testing.assert_close(out.tokens[1, 0], minilm.null(1).tokens[0, 0])
    assert set(minilm.state_dict()) == {"null_output.tokens", "projection.weight",
                                        "projection.bias", "norm.weight", "norm.bias"}
    trainable = sum(p.numel() for p in minilm.parameters() if p.requires_grad)
    assert trainable == 384 * 24 + 24 + 24 + 2 * 24
    words = out.tokens[0][out.mask[0]]                       # normalised: unit scale per token
    torch.testing.assert_close(words.std(-1, unbiased=False), torch.ones(len(words)),
                               atol=1e-3, rtol=0)


def test_minilm_can_read_canonical_places_too():
    if not text_module.minilm_available():
        pytest.skip("optional extra swansphere[text] not installed")
    canonical = swansphere.create("conditioner", {"type": "minilm", "dim": 24,
                                                  "places": "canonical"})
    paraphrase = canonical.prepare(["a dog barks right above your head"])
    assert torch.equal(paraphrase.ids, canonical.prepare(["a dog barks above"]).ids)


def test_minilm_precomputed_states_give_the_same_tokens(minilm, monkeypatch):
    monkeypatch.setattr(text_module, "_PRECOMPUTE_ROWS", 2)  # five captions in three slices
    prepared = minilm.prepare(["a dog barks", None, "a violin plays behind you", "rain",
                               "a chap talking far away on my left"])
    precomputed = minilm.precompute(prepared)
    assert precomputed.states.shape[:2] == prepared.ids.shape
    with torch.no_grad():
        once, every_time = minilm(precomputed), minilm(prepared)
        blank = minilm(attrs.evolve(precomputed, states=torch.zeros_like(precomputed.states)))
    torch.testing.assert_close(once.tokens, every_time.tokens)
    assert torch.equal(once.mask, every_time.mask)
    assert not torch.allclose(blank.tokens, every_time.tokens)  # forward reads the states


def test_one_minilm_pass_gives_the_states_and_the_sentence_embeddings(minilm):
    """``precompute_with`` reads a caption and another phrase in one pass (an exemplar bank's
    query, shorter or longer than the captions): each what its own pass gives."""
    from swansphere.conditioning.exemplars import pooled_sentences

    prepared = minilm.prepare(["a bell rings on the left", None, "rain"])
    phrases = ["a bell", "a very long phrase about a chap talking quietly far away behind me"]
    with torch.no_grad():
        states, sentences = minilm.precompute_with(prepared, phrases)
        ids, mask = minilm.tokenizer.batch(phrases, 64)
        alone = pooled_sentences(minilm.encoder(ids, mask), mask)
    torch.testing.assert_close(states.states, minilm.precompute(prepared).states,
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sentences, alone, atol=1e-5, rtol=1e-5)
    assert sentences.shape == (2, 384) and not torch.allclose(sentences[0], sentences[1])
    source = minilm.encoder.module.source
    assert minilm.embeds_like(source) and not minilm.embeds_like(source.parent / "other")
    minilm.double()
    try:
        assert not minilm.embeds_like(source)  # rounds otherwise than the bank's float32
    finally:
        minilm.float()


def test_minilm_states_carry_meaning(minilm):
    prepared = minilm.prepare(["a dog barks", "a puppy barks", "the stock market fell"])
    states = minilm.encoder(prepared.ids, prepared.mask)
    mask = prepared.mask.unsqueeze(-1).float()
    pooled = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1)
    assert pooled[0] @ pooled[1] > pooled[0] @ pooled[2] + 0.2


def test_minilm_frozen_encoder_follows_the_module(minilm):
    minilm.double()
    try:
        out = minilm(minilm.prepare(["rain patters"]))
        assert out.tokens.dtype == torch.float64
        assert next(minilm.encoder.module.parameters()).dtype == torch.float64
    finally:
        minilm.float()
