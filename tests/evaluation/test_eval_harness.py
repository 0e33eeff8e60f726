"""``swansphere eval`` and its harness on simulated scenes (the data simulator's own layout)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from swansphere.cli import main
from swansphere.data.scenes import SceneSampler
from swansphere.data.simulate import write_scene
from swansphere.data.synthetic import synthetic_clips
from swansphere.evaluation.harness import (
    EvalSettings,
    clip_target,
    evaluate,
    find_clips,
    format_markdown,
)
from swansphere.metrics.direction import angle_between
from swansphere.metrics.frechet import frechet_distance
from swansphere.spatial import direction, encode, read_foa, rotate, write_foa

SCENES = 4
SAMPLER = SceneSampler(duration=0.5, min_sources=1, max_sources=1, moving_probability=0.0,
                       diffuse_probability=0.0, elevation_range=(-30.0, 30.0))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reference")
    catalogue = synthetic_clips()
    for index in range(SCENES):
        write_scene(folder / f"scene-{index:06d}", SAMPLER.sample(catalogue, 11, index), None)
    return folder


def _derive(reference: Path, out: Path, change) -> Path:
    """Write ``change(index, foa)`` of every reference clip under the same relative name."""
    for index, path in enumerate(sorted(reference.glob("scene-*/foa.wav"))):
        foa, rate = read_foa(path)
        target = out / path.relative_to(reference)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_foa(target, change(index, foa), rate)
    return out


def _eval(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["eval", "--no-progress", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _report(path: Path) -> dict:
    def refuse(constant: str):
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_copies_of_the_reference_score_perfectly(capsys, reference, tmp_path):
    generated = _derive(reference, tmp_path / "gen", lambda i, foa: foa)
    code, out, err = _eval(capsys, "--generated", str(generated), "--reference", str(reference),
                           "--no-fd", "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    assert "| Δangular (rad) | 0.000 | 0.000 | 4 |" in out
    metrics = _report(tmp_path / "r.json")["metrics"]
    assert metrics["energy_map_correlation"]["correlation_mean"] == pytest.approx(1.0)
    accuracy = metrics["direction_accuracy"]
    assert accuracy["targets_from_scene"] == SCENES
    assert accuracy["within_cone"] == accuracy["same_sector"] == 1.0
    assert accuracy["error_deg_mean"] < 1.0


def test_a_turned_sound_field_scores_its_angles(capsys, reference, tmp_path):
    generated = _derive(reference, tmp_path / "gen", lambda i, foa: rotate(foa, yaw=90))
    code, _, err = _eval(capsys, "--generated", str(generated), "--reference", str(reference),
                         "--no-fd", "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    report = _report(tmp_path / "r.json")
    for row in report["per_clip"]:
        azimuth, elevation = (float(a) for a in direction(read_foa(row["reference"])[0]))
        expected = angle_between(azimuth, elevation, azimuth + 90, elevation).item()
        assert math.degrees(row["delta_angular"]) == pytest.approx(expected, abs=0.1)
        assert row["delta_theta"] == pytest.approx(math.pi / 2, abs=1e-3)
        assert row["delta_phi"] == pytest.approx(0.0, abs=1e-3)
        assert row["within_cone"] is False and row["same_sector"] is False
    assert report["metrics"]["direction_accuracy"]["within_cone"] == 0.0


def test_silent_outputs_are_counted_by_the_chosen_policy(capsys, reference, tmp_path):
    def change(index: int, foa: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(foa) if index == 2 else rotate(foa, yaw=20 * index)

    generated = _derive(reference, tmp_path / "gen", change)
    reports = {}
    for policy in ("exclude", "worst"):
        json_path = tmp_path / f"{policy}.json"
        code, out, err = _eval(capsys, "--generated", str(generated), "--reference",
                               str(reference), "--no-fd", "--silent", policy, "--json",
                               str(json_path))
        assert code == 0, err
        assert f"generated without direction: 1 ({policy})" in out
        reports[policy] = _report(json_path)["metrics"]
    excluded, worst = reports["exclude"]["direction_errors"], reports["worst"][
        "direction_errors"]
    assert excluded["scored"] == 3 and worst["scored"] == 4
    assert worst["angular_mean"] == pytest.approx((3 * excluded["angular_mean"] + math.pi) / 4)
    accuracy = reports["exclude"]["direction_accuracy"]
    assert accuracy["generated_without_direction"] == 1
    assert accuracy["within_cone"] <= 0.75  # the silent clip is a miss
    assert reports["exclude"]["energy_map_correlation"]["flat_maps"] == 1


def test_prompts_alone_score_direction_accuracy(capsys, tmp_path):
    noise = 0.1 * torch.randn(4000, generator=torch.Generator().manual_seed(0))
    for name, azimuth, prompt in (("left", 90, "a dog barks on the left"),
                                  ("wrong", 0, "a bell rings behind you"),
                                  ("free", 45, "a cat purrs")):
        write_foa(tmp_path / f"{name}.wav", encode(noise, azimuth, 0.0), 8000)
        (tmp_path / f"{name}.json").write_text(json.dumps({"prompt": prompt}))
    code, out, err = _eval(capsys, "--generated", str(tmp_path), "--json",
                           str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"))
    assert code == 0, err
    assert "Δθ" not in out and "| direction within 30° of target | 50.0 % | – | 2 |" in out
    assert (tmp_path / "r.md").read_text() in out
    rows = {row["key"]: row for row in _report(tmp_path / "r.json")["per_clip"]}
    assert rows["left"]["target"]["source"] == "prompt" and rows["left"]["within_cone"]
    assert rows["wrong"]["target_error_deg"] == pytest.approx(180, abs=1e-3)
    assert rows["free"]["target"] is None


class _LevelEmbedding:
    """A stand-in embedding: two 'blocks' of simple level features per clip."""

    def embed_foa(self, foa: torch.Tensor, sample_rate: int) -> torch.Tensor:
        w = foa[0].double()
        features = torch.stack([w.square().mean().sqrt(), w.abs().max(), w.diff().abs().mean()])
        return torch.stack([features, 2 * features])


def test_the_harness_fits_the_fd_on_all_blocks(reference, tmp_path):
    generated = _derive(reference, tmp_path / "gen", lambda i, foa: 0.5 * foa)
    clips = find_clips(generated, reference)
    report = evaluate(clips, EvalSettings(), embedding=_LevelEmbedding(), progress=False)
    stub = _LevelEmbedding()
    first = torch.cat([stub.embed_foa(read_foa(c.generated)[0], 0) for c in clips.clips])
    second = torch.cat([stub.embed_foa(read_foa(c.reference)[0], 0) for c in clips.clips])
    fd = report["metrics"]["fd"]
    assert fd["value"] == pytest.approx(frechet_distance(first, second))
    assert fd["generated_blocks"] == fd["reference_blocks"] == 2 * SCENES
    assert "| FD (aisfx X-Sequential-CE, W channel) |" in format_markdown(report)


def test_too_few_blocks_leave_the_fd_out_with_a_note(reference, tmp_path):
    class OneBlock(_LevelEmbedding):
        def embed_foa(self, foa, sample_rate):
            return super().embed_foa(foa, sample_rate)[:1]

    single = tmp_path / "one"
    shutil.copytree(reference / "scene-000000", single / "scene-000000")
    report = evaluate(find_clips(single, single), embedding=OneBlock(), progress=False)
    assert report["metrics"]["fd"]["value"] is None
    assert "at least 2 embeddings" in format_markdown(report)


def test_the_real_embedding_is_blind_to_rotation(capsys, reference, tmp_path, monkeypatch,
                                                 aisfx_cache):
    monkeypatch.setenv("SWANSPHERE_CACHE", str(aisfx_cache))
    generated = _derive(reference, tmp_path / "gen", lambda i, foa: rotate(foa, yaw=60))
    code, _, err = _eval(capsys, "--generated", str(generated), "--reference", str(reference),
                         "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    fd = _report(tmp_path / "r.json")["metrics"]["fd"]
    assert fd["generated_blocks"] == SCENES  # one block per 0.5 s clip
    assert fd["value"] == pytest.approx(0.0, abs=1e-6)  # yaw leaves W, and so FD, unchanged


def test_scene_metadata_with_several_sources_falls_back_to_the_prompt():
    assert clip_target({"sources": [{}, {}], "caption": "A dog barks behind."}).azimuth == 180
    assert clip_target({"text": "nothing placed"}) is None


@pytest.mark.parametrize("problem", ["missing", "unmatched", "rates", "nothing", "json"])
def test_bad_input_is_one_line_error(capsys, reference, tmp_path, problem):
    generated = tmp_path / "gen"
    argv = ["--generated", str(generated), "--reference", str(reference), "--no-fd"]
    if problem != "missing":
        (generated / "scene-000000").mkdir(parents=True)
    if problem == "unmatched":
        write_foa(generated / "other.wav", torch.zeros(4, 10), 16000)
    elif problem in ("rates", "json"):
        foa, _ = read_foa(reference / "scene-000000" / "foa.wav")
        write_foa(generated / "scene-000000" / "foa.wav", foa,
                  8000 if problem == "rates" else 16000)
        if problem == "json":
            (tmp_path / "meta" / "scene-000000").mkdir(parents=True)
            (tmp_path / "meta" / "scene-000000" / "metadata.json").write_text("{broken")
            argv += ["--metadata", str(tmp_path / "meta")]
    elif problem == "nothing":
        write_foa(generated / "a.wav", torch.ones(4, 10), 16000)
        argv = ["--generated", str(generated)]
    code, _, err = _eval(capsys, *argv)
    assert code == 2
    assert err.startswith("swansphere: error:") and err.count("\n") == 1
    expected = {"missing": "no such folder", "unmatched": "no generated clip has a reference",
                "rates": "8000 Hz", "nothing": "nothing to evaluate", "json": "not readable JSON"}
    assert expected[problem] in err


def test_without_aisfx_the_fd_is_refused_with_the_install_line(capsys, reference, tmp_path,
                                                                monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    code, _, err = _eval(capsys, "--generated", str(reference), "--reference", str(reference))
    assert code == 2 and err.count("\n") == 1
    assert "pip install --no-deps aisfx==0.1.2" in err and "--no-fd" in err
