"""The content evaluation: cases, references, drop-outs and the figures of a real run."""

from __future__ import annotations

import math

import pytest
import torch

from swansphere.evaluation.content import (
    FRAME_SECONDS,
    content_cases,
    dropout_share,
    summarise,
)
from swansphere.spatial.words import prompt_directions

RATE = 16000


def test_cases_name_their_classes_and_targets_are_what_the_words_say():
    classes = ["bell", "whistling", "engine"]
    cases = content_cases(classes, count=6, sources=2, family="held_out", seed=3)
    assert len(cases) == 6
    assert {case.classes[0] for case in cases} == set(classes)  # every class asked for
    for case in cases:
        assert len(set(case.classes)) == 2 and case.family == "held_out"
        assert list(case.directions) == prompt_directions(case.text)
    assert cases == content_cases(classes, count=6, sources=2, family="held_out", seed=3)


def test_dropout_share_counts_silent_frames_where_the_reference_sounds():
    frame = round(FRAME_SECONDS * RATE)
    reference = torch.randn(40 * frame, generator=torch.Generator().manual_seed(0))
    reference[30 * frame:] = 0.0                     # the reference sounds in 30 frames
    generated = torch.randn(40 * frame, generator=torch.Generator().manual_seed(1))
    generated[10 * frame:16 * frame] = 0.0           # 6 of them dropped
    generated[32 * frame:] = 0.0                     # silence where the reference is silent
    assert dropout_share(generated, reference, RATE) == pytest.approx(6 / 30)
    assert dropout_share(reference, reference, RATE) == 0.0
    assert dropout_share(torch.zeros_like(reference), reference, RATE) == 1.0  # all silent
    assert math.isnan(dropout_share(reference, torch.zeros_like(reference), RATE))


def test_summary_means_by_source_count_with_chance():
    rows = [{"sources": 1, "rank": 1, "angular": 0.1, "map_correlation": 0.9, "level_db": -20,
             "reference_level_db": -20, "dropout_share": 0.0},
            {"sources": 1, "rank": 7, "angular": 0.3, "map_correlation": 0.7, "level_db": -30,
             "reference_level_db": -20, "dropout_share": math.nan},
            {"sources": 2, "beam_ranks": [1, 3], "map_correlation": 0.5, "level_db": -25,
             "reference_level_db": -20, "dropout_share": 0.5}]
    summary = summarise(rows, classes=10)
    assert summary["top1"] == 0.5 and summary["top5"] == 0.5 and summary["chance_top5"] == 0.5
    assert summary["angular"] == pytest.approx(0.2)
    assert summary["beam_top1"] == 0.5 and summary["beam_top5"] == 1.0
    assert summary["map_correlation_two"] == 0.5 and summary["level_db"] == -25
    assert summary["dropout_share"] == 0.25  # the undefined clip is left out


@pytest.mark.slow
def test_the_benchmark_runs_on_the_shipped_model_with_the_synthetic_set(tmp_path):
    pytest.importorskip("aisfx")
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "content_eval.py"
    out = tmp_path / "content.json"
    subprocess.run([sys.executable, str(script), "--sets", "synthetic", "--cases", "2",
                    "--pairs", "1", "--duration", "1", "--json", str(out)], check=True,
                   capture_output=True)
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert summary["classes"] == 10 and summary["single_clips"] == 2
    assert summary["two_source_clips"] == 1 and 0 <= summary["top5"] <= 1
    assert summary["ceiling"]["classes"] == 10 and summary["fd"] >= 0
    assert all(case["text"] for case in report["cases"])
