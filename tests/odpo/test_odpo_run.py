"""The odpo optimizer on a tiny random pipeline, the ``odpo`` training task and the
evaluation script, end to end."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from odpo_helpers import prompt_inputs, tiny_pipeline

import swansphere
from swansphere.config import dumps_toml, loads_toml, structure
from swansphere.errors import ConfigError
from swansphere.pipeline import Pipeline
from swansphere.plugins.odpo.optimizer import NotAttachedError, PreferenceBatch
from swansphere.plugins.odpo.rewards import RewardMix
from swansphere.plugins.odpo.trainer import ODPOTrainConfig, ODPOTrainer
from swansphere.training.tasks import get_task

METRICS = {"reward_mean", "reward_best", "reward_worst", "spatial_mean", "fidelity_mean",
           "pairs", "win_margin", "dpo_loss", "implicit_accuracy", "implicit_margin",
           "implicit_kl", "winner_gap", "loser_gap", "loss", "grad_norm"}


def attached(rewards: RewardMix, **config):
    pipeline = tiny_pipeline()
    odpo = swansphere.create("preference_optimizer", {"type": "odpo", "candidates": 3,
                                                      "beta": 20.0, **config})
    optimizer = torch.optim.SGD(pipeline.backbone.parameters(), lr=1e-3)
    return pipeline, odpo.attach(pipeline, rewards, optimizer)


def paper_like_rewards() -> RewardMix:
    return RewardMix.from_config([{"weight": 0.7, "reward": {"type": "spatial"}},
                                  {"weight": 0.3, "reward": {"type": "fidelity",
                                                             "embedding": "log-mel"}}])


def spatial_score(odpo, inputs) -> float:
    candidates = odpo.sample(inputs, seed=123)
    return float(candidates.scores["spatial"].mean())


def test_online_rounds_run_and_keep_the_reference_frozen():
    pipeline, odpo = attached(paper_like_rewards())
    inputs = prompt_inputs()
    reference = {k: v.clone() for k, v in odpo.reference.state_dict().items()}
    start = {k: v.clone() for k, v in pipeline.backbone.state_dict().items()}
    before = spatial_score(odpo, inputs)
    history = [odpo.step(PreferenceBatch(inputs=inputs, seed=seed)) for seed in range(2)]
    for metrics in history:
        assert set(metrics) >= METRICS and all(math.isfinite(v) for v in metrics.values())
        assert metrics["reward_worst"] <= metrics["reward_mean"] <= metrics["reward_best"]
    first = history[0]
    assert first["dpo_loss"] == pytest.approx(math.log(2), abs=1e-5)  # policy == reference
    assert first["implicit_kl"] == 0.0
    assert first["pairs"] == 2 and first["win_margin"] > 0
    assert any(not torch.equal(v, start[k]) for k, v in pipeline.backbone.state_dict().items())
    assert all(torch.equal(v, reference[k]) for k, v in odpo.reference.state_dict().items())
    after = spatial_score(odpo, inputs)
    assert math.isfinite(after) and -1.0 <= after <= 0.0
    assert after > before - 0.25   # two small steps do not wreck the spatial reward
    latents = odpo.sample(inputs[:1], seed=5).latents[0]
    assert odpo.reference_divergence(latents, None, seed=0) > 0


def test_shards_draw_the_candidates_of_the_whole_round():
    _, odpo = attached(paper_like_rewards())
    inputs = prompt_inputs()
    whole = odpo.sample(inputs, seed=9)
    shard = odpo.sample(inputs[1:], seed=9, offset=1)
    assert torch.equal(whole.latents[1], shard.latents[0])
    assert torch.equal(whole.total[1], shard.total[0])


class Tied:
    name = "tied"

    def __call__(self, audio, sample_rate, inputs):
        return torch.zeros(audio.shape[0])


def test_a_round_without_pairs_logs_the_same_names_and_leaves_the_model():
    pipeline, odpo = attached(RewardMix([(1.0, Tied())]))
    start = {k: v.clone() for k, v in pipeline.backbone.state_dict().items()}
    metrics = odpo.step(PreferenceBatch(inputs=prompt_inputs()[:1], seed=0))
    assert metrics["pairs"] == 0 and metrics["win_margin"] == 0
    assert {"dpo_loss", "implicit_kl", "grad_norm"} <= set(metrics)
    assert all(torch.equal(v, start[k]) for k, v in pipeline.backbone.state_dict().items())


def test_unattached_or_optimizer_free_use_is_refused():
    odpo = swansphere.create("preference_optimizer", {"type": "odpo"})
    with pytest.raises(NotAttachedError):
        odpo.step(PreferenceBatch(inputs=prompt_inputs()))
    pipeline = tiny_pipeline()
    odpo.attach(pipeline, paper_like_rewards())
    candidates = odpo.sample(prompt_inputs()[:1], seed=0)
    with pytest.raises(NotAttachedError, match="optimizer"):
        odpo.update(prompt_inputs()[:1], candidates, seed=0)


def test_config_validation():
    with pytest.raises(ConfigError):
        swansphere.create("preference_optimizer", {"type": "odpo", "candidates": 1})
    with pytest.raises(ConfigError):
        swansphere.create("preference_optimizer", {"type": "odpo", "pairs": "all"})
    with pytest.raises(ConfigError):
        swansphere.create("preference_optimizer", {"type": "odpo", "noise_draws": 0})


def test_noise_draws_score_policy_and_reference_alike():
    _, odpo = attached(paper_like_rewards(), noise_draws=3)
    assert odpo.scorer.noise_draws == odpo.reference_scorer.noise_draws == 3
    metrics = odpo.step(PreferenceBatch(inputs=prompt_inputs(), seed=0))
    assert metrics["dpo_loss"] == pytest.approx(math.log(2), abs=1e-5)  # policy == reference


# ------------------------------------------------------------------------------------ task

JUDGE = {"scenes": 6, "validation_scenes": 4, "steps": 2, "batch_size": 4, "clip_seconds": 0.5,
         "max_sources": 1, "model": {"dim": 16, "text": {"dim": 16, "layers": 1, "heads": 2,
                                                         "vocab_size": 64},
                                     "audio": {"channels": [8], "bands": 8}}}


def task_table(start: Path, output: Path) -> dict:
    return {"task": "odpo", "pipeline": str(start),
            "prompts": {"train_prompts": 3, "validation_prompts": 2, "clip_seconds": 0.04,
                        "max_sources": 2},
            "odpo": {"type": "odpo", "candidates": 2, "beta": 20.0},
            "rewards": [{"weight": 0.4, "reward": {"type": "spatial"}},
                        {"weight": 0.4, "reward": {"type": "semantic"}},
                        {"weight": 0.2, "reward": {"type": "fidelity",
                                                   "embedding": "log-mel"}}],
            "judge": JUDGE,
            "run": {"steps": 2, "batch_size": 2, "output_dir": str(output),
                    "checkpoint_every": 1}}


def test_task_config_round_trips_and_is_registered(tmp_path):
    config = structure(task_table(tmp_path / "start", tmp_path / "run"), ODPOTrainConfig)
    assert loads_toml(dumps_toml(config), ODPOTrainConfig) == config
    assert get_task("odpo").config_class is ODPOTrainConfig
    defaults = structure({"pipeline": "tiny"}, ODPOTrainConfig)
    assert [entry.weight for entry in defaults.rewards] == [0.4, 0.4, 0.2]
    assert loads_toml(dumps_toml(defaults), ODPOTrainConfig) == defaults
    with pytest.raises(ConfigError, match="unknown key"):
        structure({"pipeline": "tiny", "odpo": {"type": "odpo", "betta": 1.0}},
                  ODPOTrainConfig)


VOCABULARY_PROMPTS = {"source": "vocabulary", "sets": ["synthetic"], "captions": "natural",
                      "sustained_probability": 0.5, "clip_seconds": 0.5}


def test_vocabulary_prompts_are_the_scenes_of_each_split():
    """Training prompts are the vocabulary's training-split scenes, validation prompts its
    held-out scenes (other clips, the held-out captions), each with its own FOA as reference."""
    from swansphere.plugins.odpo.trainer import ODPOPromptsConfig, scene_prompts
    from swansphere.training.pipeline import split_dataset

    config = structure(VOCABULARY_PROMPTS, ODPOPromptsConfig)
    for validation in (False, True):
        prompts = scene_prompts(config, 8000, count=4, seed=11, validation=validation)
        scenes = split_dataset(8000, 0.5, 11, 1, 1, 0.0, 0.0, (
            ("synthetic",), True, 0.0, 0.5, "natural", validation))
        for index, prompt in enumerate(prompts):
            item = scenes[index]
            assert prompt.text == item["caption"]
            assert torch.equal(prompt.reference, item["foa"])
            assert prompt.direction is not None and prompt.duration == 0.5
    held_out = scene_prompts(config, 8000, count=4, seed=11, validation=True)
    training = scene_prompts(config, 8000, count=4, seed=11)
    assert [p.text for p in held_out] != [p.text for p in training]


def test_vocabulary_only_prompt_options_need_the_vocabulary():
    from swansphere.plugins.odpo.trainer import ODPOPromptsConfig

    for option in ({"captions": "natural"}, {"sustained_probability": 0.5},
                   {"room_probability": 0.2}):
        with pytest.raises(ConfigError, match=r"prompts\.source"):
            structure(option, ODPOPromptsConfig)


@pytest.fixture(scope="module")
def odpo_run(tmp_path_factory):
    """Two ODPO steps from a saved tiny pipeline, judge trained on the way. The pipeline
    streams each place of a prompt separately, holds places and anchors primed streams; ODPO
    still learns from its joint, unheld, unanchored takes."""
    folder = tmp_path_factory.mktemp("odpo")
    tiny_pipeline().replace(sources="separate", place_hold=1.0,
                            exemplar_anchor=0.5).save_pretrained(
        folder / "start")
    config = structure(task_table(folder / "start", folder / "run"), ODPOTrainConfig)
    return folder, ODPOTrainer.train(config, progress=False)


def test_task_trains_exports_and_resumes(odpo_run):
    folder, summary = odpo_run
    run = folder / "run"
    assert summary["odpo_dir"] == str(run / "pipeline")
    tuned = Pipeline.from_pretrained(run / "pipeline")
    assert tuned.config.sources == "separate"  # saved as it came
    assert tuned.config.place_hold == 1.0 and tuned.config.exemplar_anchor == 0.5
    start = Pipeline.from_pretrained(folder / "start")
    assert any(not torch.equal(a, b) for a, b in zip(tuned.backbone.state_dict().values(),
                                                     start.backbone.state_dict().values(),
                                                     strict=True))
    assert (run / "text-audio" / "config.toml").is_file()
    assert set(summary["judge"]) >= {"retrieval_r1", "direction_accuracy"}
    validation = summary["validation"]
    assert validation["val_reference_kl"] > 0 and math.isfinite(validation["val_angular_error"])
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert logged[0]["split"] == "validation" and logged[0]["val_reference_kl"] == 0.0
    config = structure(task_table(folder / "start", run), ODPOTrainConfig)
    resumed = ODPOTrainer.train(config, resume=run / "checkpoints" / "step-00000001",
                                progress=False)
    assert resumed["resumed_from"] == 1
    again = Pipeline.from_pretrained(run / "pipeline")
    assert all(torch.equal(a, b) for a, b in zip(again.backbone.state_dict().values(),
                                                 tuned.backbone.state_dict().values(),
                                                 strict=True))


def test_candidates_are_the_backbones_own_takes(odpo_run):
    """The policy samples one joint stream per prompt, its places not held and its patches not
    anchored: the rewards see where the backbone put each sound and what it made, and the
    latents it learns from are what was heard."""
    folder, _ = odpo_run
    config = structure(task_table(folder / "start", folder / "again"), ODPOTrainConfig)
    trainer = ODPOTrainer(config, progress=False)
    assert trainer.pipeline.config.place_hold == 1.0
    assert trainer.policy.config.sources == "joint"
    assert trainer.policy.config.place_hold == 0.0
    assert trainer.pipeline.config.exemplar_anchor == 0.5
    assert trainer.policy.config.exemplar_anchor == 0.0
    assert trainer.policy.backbone is trainer.pipeline.backbone


def import_odpo_eval():
    benchmarks = str(Path(__file__).resolve().parents[2] / "benchmarks")
    sys.path.insert(0, benchmarks)
    try:
        import odpo_eval
    finally:
        sys.path.remove(benchmarks)
    return odpo_eval


def test_evaluation_script_compares_start_and_odpo(odpo_run, tmp_path):
    folder, _ = odpo_run
    odpo_eval = import_odpo_eval()
    report_path = tmp_path / "odpo_eval.json"
    assert odpo_eval.main([str(folder / "run"), "--prompts", "2", "--no-fd", "--json",
                           str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    start, tuned = report["results"]["start"], report["results"]["odpo"]
    assert start["reference_kl"] == 0.0 < tuned["reference_kl"]
    for figures in (start, tuned):
        assert {"angular_mean", "energy_map_correlation_mean", "within_30deg",
                "reward_spatial", "reward_semantic", "reward_fidelity"} <= set(figures)
    assert "odpo − start" in report["table"]
    for name, key, _ in odpo_eval.PAIRED:
        paired = report["paired_change"][name]
        assert paired["low"] <= paired["mean"] <= paired["high"]
        changes = [b - a for a, b in zip(start[key], tuned[key], strict=True)
                   if not (math.isnan(a) or math.isnan(b))]
        assert paired["clips"] == len(changes)
        if changes:
            assert paired["mean"] == pytest.approx(sum(changes) / len(changes))
    assert odpo_eval.paired_change([0.5, math.nan, 0.2], [0.3, 0.1, 0.2]) == {
        "clips": 2, "clusters": 2, "mean": pytest.approx(-0.1), "low": pytest.approx(-0.2),
        "high": pytest.approx(0.0)}


@settings(max_examples=10, deadline=None)
@given(changes=st.lists(st.floats(-1, 1), min_size=2, max_size=12),
       samples=st.integers(2, 5))
def test_paired_interval_resamples_prompts_not_clips(changes, samples):
    """Clips of one prompt that change alike carry one prompt's worth of evidence: the
    cluster bootstrap of P prompts × S identical clips is exactly the bootstrap of the P
    prompt values, however large S is."""
    odpo_eval = import_odpo_eval()
    start = [0.0] * (len(changes) * samples)
    tuned = [change for change in changes for _ in range(samples)]
    prompts = [index for index in range(len(changes)) for _ in range(samples)]
    clustered = odpo_eval.paired_change(start, tuned, clusters=prompts, resamples=2000)
    per_prompt = odpo_eval.paired_change([0.0] * len(changes), changes, resamples=2000)
    assert clustered["clusters"] == len(changes) and clustered["clips"] == len(tuned)
    for key in ("mean", "low", "high"):
        assert clustered[key] == pytest.approx(per_prompt[key], abs=1e-12)


def test_paired_interval_weighs_clips_and_skips_unscored_ones():
    odpo_eval = import_odpo_eval()
    # prompt 0: changes 0.3, 0.1 (and one unscored clip); prompt 1: change 0.6
    start = [0.0, 0.0, math.nan, 0.0]
    tuned = [0.3, 0.1, 0.5, 0.6]
    result = odpo_eval.paired_change(start, tuned, clusters=[0, 0, 0, 1], resamples=4000)
    assert result["clips"] == 3 and result["clusters"] == 2
    assert result["mean"] == pytest.approx(1.0 / 3)
    # draws are {0,0}: mean 0.2, {1,1}: 0.6, {0,1}: 1/3 (the clip mean of the draw)
    assert result["low"] == pytest.approx(0.2) and result["high"] == pytest.approx(0.6)


def test_a_backbone_that_follows_a_reference_is_taken(tmp_path):
    """Its candidates are scored with the reference they followed
    (tests/odpo/test_odpo_prompted.py)."""
    start = tiny_pipeline().replace(backbone={"reference_frames": 4})
    start.save_pretrained(tmp_path / "start")
    config = structure(task_table(tmp_path / "start", tmp_path / "run"), ODPOTrainConfig)
    trainer = ODPOTrainer(config, progress=False)
    assert trainer.pipeline.backbone.reference_frames == 4
