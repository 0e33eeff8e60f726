"""The one conditioning path: prepare / select / encode agree with encoding items one by one."""

from __future__ import annotations

import attrs
import pytest
import torch
from pipeline_helpers import TINY, assert_valid_tokens_agree, panorama_frames, tiny_pipeline

from swansphere.conditioning.text import minilm_available
from swansphere.conditions import ConditionEncoder
from swansphere.config import structure
from swansphere.errors import GenerationError
from swansphere.pipeline import Pipeline, PipelineConfig

FPS = 25.0
CAPTIONS = ["a bell rings on the left", None, "rain falls above you, far away"]


@pytest.fixture(scope="module")
def pipeline():
    return tiny_pipeline()


def _videos(count: int) -> list:
    return [(panorama_frames(3 + k), torch.arange(3 + k, dtype=torch.float64) / FPS)
            for k in range(count)]


def _fields(conditions) -> dict[str, torch.Tensor]:
    return {name: value for name, value in attrs.asdict(conditions, recurse=False).items()
            if value is not None}


def _assert_same(first, second) -> None:
    one, two = _fields(first), _fields(second)
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(one[name], two[name], msg=name)


def test_a_selected_batch_encodes_like_those_items_prepared_alone(pipeline):
    conditioning = pipeline.conditioning
    videos = _videos(3)
    with torch.no_grad():
        pooled = conditioning.prepare(CAPTIONS, videos)
        selected = conditioning.encode(pooled.select([2, 0]))
        alone = conditioning.encode(conditioning.prepare([CAPTIONS[2], CAPTIONS[0]],
                                                         [videos[2], videos[0]]))
    assert_valid_tokens_agree(selected, alone)


def test_a_precomputed_pool_selects_and_encodes_like_items_prepared_alone():
    """MiniLM's states computed once for a pool (a training set) stay with their rows."""
    if not minilm_available():
        pytest.skip("optional extra swansphere[text] not installed")
    torch.manual_seed(0)
    pipeline = Pipeline.from_config(structure(
        {**TINY, "text": {"type": "minilm", "dim": 32}}, PipelineConfig))
    conditioning, videos = pipeline.conditioning, _videos(3)
    with torch.no_grad():
        pooled = conditioning.precompute(conditioning.prepare(CAPTIONS, videos))
        assert pooled.text.states is not None
        selected = conditioning.encode(pooled.select([2, 0]))
        alone = conditioning.encode(conditioning.prepare([CAPTIONS[2], CAPTIONS[0]],
                                                         [videos[2], videos[0]]))
    assert_valid_tokens_agree(selected, alone)


def test_precompute_leaves_conditioners_without_a_frozen_part_alone(pipeline):
    prepared = pipeline.conditioning.prepare(CAPTIONS, _videos(3))
    precomputed = pipeline.conditioning.precompute(prepared)
    assert precomputed.text is prepared.text and precomputed.video is prepared.video


def test_pipeline_conditions_repeat_one_encoding_over_rows(pipeline):
    single = pipeline.conditions("a dog barks behind you")
    rows = pipeline.conditions("a dog barks behind you", rows=3)
    for name, value in _fields(rows).items():
        assert value.shape[0] == 3
        for row in range(3):
            torch.testing.assert_close(value[row], _fields(single)[name][0])


def test_the_pipeline_and_a_batch_of_one_give_the_same_conditions(pipeline):
    videos = _videos(1)
    with torch.no_grad():
        batch = pipeline.conditioning(["a siren to the right"], videos)
    _assert_same(pipeline.conditions("a siren to the right", videos[0]), batch)


def test_absent_modalities_are_left_to_the_backbone(pipeline):
    prepared = pipeline.conditioning.prepare([None, None], None)
    assert (prepared.text, prepared.video, prepared.batch_size) == (None, None, 2)
    assert pipeline.conditioning.encode(prepared) is None  # the backbone's "unconditional"


def test_unequal_batches_and_missing_conditioners_are_refused(pipeline):
    with pytest.raises(GenerationError, match="2 captions but 1 videos"):
        pipeline.conditioning.prepare(["a", "b"], _videos(1))
    text_only = ConditionEncoder(pipeline.backbone, text=pipeline.text_encoder)
    with pytest.raises(GenerationError, match="no video conditioner"):
        text_only.prepare(["a bell"], _videos(1))
    video_only = ConditionEncoder(pipeline.backbone, video=pipeline.video_encoder)
    with pytest.raises(GenerationError, match="no text conditioner"):
        video_only.prepare(["a bell"])
    with pytest.raises(GenerationError, match="non-empty string"):
        pipeline.conditions("   ")


def test_rows_without_a_modality_are_masked_off_as_if_it_were_absent(pipeline):
    videos = _videos(2)
    with torch.no_grad():
        conditions = pipeline.conditioning.encode(
            pipeline.conditioning.prepare(["a bell on the left", None], [None, videos[1]]))
    assert conditions.text_mask[0].any() and not conditions.text_mask[1].any()
    assert not conditions.video_mask[0].any() and conditions.video_mask[1].any()
