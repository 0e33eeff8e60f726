"""Pipeline training: both stages, exact resume after a crash, export, the ``train`` command."""

from __future__ import annotations

import copy
import json
import math
import warnings

import attrs
import pytest
import torch
from pipeline_helpers import TINY, assert_valid_tokens_agree

from swansphere.cli import main
from swansphere.conditioning.text import minilm_available
from swansphere.config import apply_overrides, dump_toml, structure
from swansphere.errors import ConfigError
from swansphere.pipeline import LatentRange, Pipeline
from swansphere.training import pipeline as pipeline_module
from swansphere.training.checkpoint import list_checkpoints
from swansphere.training.common import cpu_bfloat16_is_emulated
from swansphere.training.loop import MetricsLog
from swansphere.training.pipeline import (
    PipelineTrainConfig,
    PipelineTrainer,
    render_pool,
    sound_caption,
)

DATA = {"train_scenes": 4, "validation_scenes": 2, "clip_seconds": 0.5, "render_width": 32}


def config_table(output_dir, stage: str = "foa", **extra) -> dict:
    return {"task": "pipeline", "stage": stage, "pipeline": copy.deepcopy(TINY), "data": DATA,
            "optimizer": {"warmup_steps": 1, "learning_rate": 1e-3},
            "run": {"steps": 4, "batch_size": 2, "checkpoint_every": 2, "validate_every": 2,
                    "output_dir": str(output_dir)}, **extra}


def trainer(output_dir, stage: str = "foa", **extra) -> PipelineTrainer:
    config = structure(config_table(output_dir, stage, **extra), PipelineTrainConfig)
    return PipelineTrainer(config, progress=False)


def weights(trainer_: PipelineTrainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer_.pipeline.state_dict().items()}


def test_stage_one_scenes_are_pseudo_foa_with_captions_that_name_no_direction():
    config = structure(config_table("unused", "pseudo-foa"), PipelineTrainConfig)
    pool = render_pool(config.data, "pseudo-foa", 8000, 4.0, validation=False, progress=False)
    assert pool.frames is None and len(pool.captions) == DATA["train_scenes"]
    for foa, caption in zip(pool.foa, pool.captions, strict=True):
        assert (foa.abs().sum(-1) > 0).sum() == 2  # W and one axis channel
        assert not any(word in caption for word in ("left", "right", "front", "behind"))
    assert sound_caption([{"noun": "a dog", "verb": "barks"},
                          {"noun": "a bell", "verb": "rings"}]) == "A dog barks and a bell rings."


def test_stage_two_scenes_have_spatial_captions_and_panoramas():
    config = structure(config_table("unused"), PipelineTrainConfig)
    pool = render_pool(config.data, "foa", 8000, 4.0, validation=False, progress=False)
    assert pool.frames.shape[:2] == (DATA["train_scenes"], 2)  # 0.5 s at 4 fps
    assert pool.frames.dtype == torch.uint8 and pool.times.tolist() == [0.0, 0.25]
    assert all(any(word in caption for word in ("left", "right", "front", "behind", "above",
                                                "below", "overhead"))
               for caption in pool.captions)


def test_a_cut_render_resumes_after_its_last_finished_part(tmp_path, monkeypatch):
    table = config_table("unused")
    table["data"] = {**DATA, "train_scenes": 5, "cache_dir": str(tmp_path / "cache")}
    data = structure(table, PipelineTrainConfig).data
    monkeypatch.setattr(pipeline_module, "RENDER_PART_SCENES", 2)
    render, rendered = pipeline_module.render_scene, []

    def cut_at_scene_3(job):
        if job[1] == 3:
            raise KeyboardInterrupt  # the session's time limit
        rendered.append(job[1])
        return render(job)

    monkeypatch.setattr(pipeline_module, "render_scene", cut_at_scene_3)
    with pytest.raises(KeyboardInterrupt):
        render_pool(data, "foa", 8000, 4.0, validation=False, progress=False)
    assert rendered == [0, 1, 2]
    monkeypatch.setattr(pipeline_module, "render_scene",
                        lambda job: rendered.append(job[1]) or render(job))
    rendered.clear()
    pool = render_pool(data, "foa", 8000, 4.0, validation=False, progress=False)
    assert rendered == [2, 3, 4]                              # scenes 0 and 1 came from a part
    whole = render_pool(attrs.evolve(data, cache_dir=None), "foa", 8000, 4.0,
                        validation=False, progress=False)
    assert torch.equal(pool.foa, whole.foa) and torch.equal(pool.frames, whole.frames)
    assert pool.captions == whole.captions and torch.equal(pool.times, whole.times)
    assert [path.name.count(".part-") for path in (tmp_path / "cache").iterdir()] == [0]
    rendered.clear()
    render_pool(data, "foa", 8000, 4.0, validation=False, progress=False)
    assert rendered == []                                     # the whole split is cached


def test_validation_scenes_differ_from_training_scenes():
    config = structure(config_table("unused"), PipelineTrainConfig)
    train = render_pool(config.data, "foa", 8000, 4.0, validation=False, progress=False)
    held_out = render_pool(config.data, "foa", 8000, 4.0, validation=True, progress=False)
    assert not torch.equal(train.foa[:2], held_out.foa)


def test_curriculum_runs_stage_one_then_stage_two_and_exports_a_loadable_pipeline(tmp_path):
    first = trainer(tmp_path / "stage1", "pseudo-foa")
    summary = first.run()
    assert summary["latent_scale"] != 1.0  # normalised to the training latents
    stage1 = summary["pipeline_dir"]

    second = trainer(tmp_path / "stage2", "foa", init=stage1,
                     validation={"generated_scenes": 1})
    assert second.pipeline.config.latent_scale == summary["latent_scale"]
    assert torch.equal(second.pipeline.state_dict()["backbone.start"],
                       Pipeline.from_pretrained(stage1).state_dict()["backbone.start"])
    result = second.run()
    assert 0.0 <= result["validation"]["val_angular_error"] <= torch.pi
    loaded = Pipeline.from_pretrained(result["pipeline_dir"])
    assert loaded.config.latent_scale == result["latent_scale"]
    audio = loaded.generate("a bell rings on the left", duration=0.1, seed=1)
    assert audio.shape == (4, 800) and torch.isfinite(audio).all()
    # the last checkpoint is a model folder too, holding the exported weights
    from_checkpoint = Pipeline.from_pretrained(list_checkpoints(tmp_path / "stage2")[-1][1])
    assert from_checkpoint.config == loaded.config
    assert all(torch.equal(value, loaded.state_dict()[key])
               for key, value in from_checkpoint.state_dict().items())


def test_only_the_backbone_and_text_conditioner_train_by_default(tmp_path):
    run = trainer(tmp_path)
    assert set(run.trainable) == {"backbone", "text"}
    frozen_video = {k: v.clone() for k, v in run.pipeline.video_encoder.state_dict().items()}
    run.train_step(0)
    assert all(torch.equal(v, run.pipeline.video_encoder.state_dict()[k])
               for k, v in frozen_video.items())
    assert not any(p.requires_grad for p in run.pipeline.video_encoder.parameters())


def test_resume_after_a_crash_reaches_the_uninterrupted_weights(tmp_path, crash_run):
    full = trainer(tmp_path / "full")
    full.run()

    crashing = trainer(tmp_path / "crash")
    crash_run(crashing, 3)
    assert [step for step, _ in list_checkpoints(tmp_path / "crash")] == [2]

    resumed = trainer(tmp_path / "crash")
    summary = resumed.run(resume=tmp_path / "crash")
    assert summary["resumed_from"] == 2
    expected, got = weights(full), weights(resumed)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert resumed.pipeline.config.latent_scale == full.pipeline.config.latent_scale
    train_steps = [e["step"] for e in MetricsLog(tmp_path / "crash").read()
                   if e["split"] == "train"]
    assert train_steps == [1, 2, 3, 4]


def test_saved_pipelines_hold_every_weight_and_no_weight_paths(tmp_path):
    run = trainer(tmp_path)
    svac_like = tmp_path / "video.safetensors"
    from safetensors.torch import save_file

    save_file(run.pipeline.video_encoder.state_dict(), str(svac_like))
    table = config_table(tmp_path / "run")
    table["pipeline"]["video"]["weights"] = str(svac_like)
    run = PipelineTrainer(structure(table, PipelineTrainConfig), progress=False)
    saved = run.pipeline.save_pretrained(tmp_path / "saved", dtype=torch.float16)
    assert "weights" not in (saved / "pipeline.toml").read_text()
    svac_like.unlink()
    loaded = Pipeline.from_pretrained(saved)
    original = run.pipeline.state_dict()
    for key, value in loaded.state_dict().items():
        assert value.dtype == original[key].dtype
        assert torch.allclose(value, original[key], atol=1e-3, rtol=1e-3)


def test_a_batch_is_conditioned_on_its_own_scenes(tmp_path):
    """The trainer prepares a split's captions and video once (MiniLM's states too); each
    batch must still get the conditions of its own scenes, as the pipeline encodes them."""
    if not minilm_available():
        pytest.skip("optional extra swansphere[text] not installed")
    table = config_table(tmp_path)
    table["pipeline"]["text"] = {"type": "minilm", "dim": 32}
    trainer_ = PipelineTrainer(structure(table, PipelineTrainConfig), progress=False)
    data, index = trainer_.training_set(), torch.tensor([3, 1])
    scenes = data.scenes
    videos = [(scenes.frames[i].numpy(), scenes.times.numpy()) for i in index.tolist()]
    with torch.no_grad():
        batch = trainer_.conditions(data, index)
        alone = trainer_.pipeline.conditioning([data.captions[i] for i in index.tolist()],
                                               videos)
    assert_valid_tokens_agree(batch, alone)


def test_the_model_keeps_its_training_latents_range(tmp_path):
    trainer_ = trainer(tmp_path)
    data = trainer_.training_set()
    assert trainer_.pipeline.config.latent_range == LatentRange.of(data.latents)
    trainer_.training_set(validation=True)                  # the training split's, kept
    assert trainer_.pipeline.config.latent_range == LatentRange.of(data.latents)
    trainer_.write_model(tmp_path / "model")
    assert Pipeline.from_pretrained(tmp_path / "model").config.latent_range == \
        LatentRange.of(data.latents)


def test_init_must_be_a_pipeline_directory(tmp_path):
    with pytest.raises(ConfigError, match="not a pipeline directory"):
        trainer(tmp_path, init=str(tmp_path))


def test_pseudo_foa_stage_cannot_train_the_video_conditioner(tmp_path):
    with pytest.raises(ConfigError, match="no video"):
        trainer(tmp_path, "pseudo-foa", train_video=True)


def test_train_command_trains_the_pipeline_task(tmp_path, capsys):
    config = tmp_path / "train.toml"
    table = config_table(tmp_path / "run", run={"steps": 1, "batch_size": 2,
                                                "output_dir": str(tmp_path / "run")})
    structured = structure(table, PipelineTrainConfig)
    dump_toml(structured, config)
    assert main(["train", str(config), "--no-progress", "--json", "--set", "data.workers=2",
                 "--set", "stage=pseudo-foa"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["task"] == "pipeline" and summary["steps"] == 1
    assert (tmp_path / "run" / "pipeline" / "pipeline.toml").is_file()
    recorded = (tmp_path / "run" / "train.toml").read_text()
    assert "workers = 2" in recorded and 'stage = "pseudo-foa"' in recorded


@pytest.mark.parametrize(("override", "expected"), [
    ("run.steps=3", {"run": {"steps": 3}}),
    ("a.b.c=[1, 2]", {"a": {"b": {"c": [1, 2]}}}),
    ("data.cache_dir=runs/cache", {"data": {"cache_dir": "runs/cache"}}),
    ('stage="foa"', {"stage": "foa"}),
])
def test_overrides_set_dotted_keys_with_toml_values(override, expected):
    table: dict = {}
    apply_overrides(table, [override])
    assert table == expected


def test_bad_overrides_are_one_line_errors(tmp_path, capsys):
    config = tmp_path / "train.toml"
    dump_toml(structure(config_table(tmp_path / "run"), PipelineTrainConfig), config)
    assert main(["train", str(config), "--set", "steps"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["train", str(config), "--set", "data.nonsense=1"]) == 2
    assert "nonsense" in capsys.readouterr().err


VOCABULARY = {**DATA, "source": "vocabulary", "sets": ["synthetic"], "captions": "natural",
              "max_sources": 2}


def test_vocabulary_scenes_train_on_training_clips_and_validate_on_held_out_ones():
    """Training scenes use the training clips of each class and natural captions of the
    training family; validation scenes the held-out clips and the held-out family."""
    from swansphere.data.captions import metadata_natural_caption
    from swansphere.data.scenes import scene_metadata
    from swansphere.training.pipeline import VALIDATION_SEED_OFFSET, split_dataset

    config = structure(config_table("unused", data=VOCABULARY), PipelineTrainConfig)
    pools = {split: render_pool(config.data, "foa", 8000, 4.0, validation=split,
                                progress=False) for split in (False, True)}
    datasets = {}
    for split, family in ((False, "training"), (True, "held_out")):
        seed = config.data.seed + (VALIDATION_SEED_OFFSET if split else 0)
        datasets[split] = dataset = split_dataset(8000, 0.5, seed, 1, 2, 0.3, 0.3, (
            ("synthetic",), True, 0.0, 0.0, "natural", split))
        for index, caption in enumerate(pools[split].captions):
            expected = metadata_natural_caption(scene_metadata(dataset.scene(index)),
                                                [seed, index], family=family).text
            assert caption == expected
    train_ids = {clip.clip_id for clip in datasets[False].clips}
    held_ids = {clip.clip_id for clip in datasets[True].clips}
    assert train_ids and held_ids and not train_ids & held_ids
    assert {clip.label for clip in datasets[False].clips} == {
        clip.label for clip in datasets[True].clips}


def test_a_vocabulary_split_is_cached_per_clip_set(tmp_path, monkeypatch):
    """Scenes rendered from other clips (a sound set installed or removed since) are not read
    back as this split's: the clips are part of the cache key."""
    table = config_table("unused", data={**VOCABULARY, "cache_dir": str(tmp_path / "cache")})
    data = structure(table, PipelineTrainConfig).data
    render_pool(data, "foa", 8000, 4.0, validation=False, progress=False)
    every_clip = pipeline_module.vocabulary_split(("synthetic",), True, False)
    render_pool(data, "foa", 8000, 4.0, validation=False, progress=False)
    assert len(list((tmp_path / "cache").iterdir())) == 1
    monkeypatch.setattr(pipeline_module, "vocabulary_split",
                        lambda *key: every_clip[:-1])
    render_pool(data, "foa", 8000, 4.0, validation=False, progress=False)
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_sustained_events_render_their_own_split_and_need_the_vocabulary(tmp_path):
    table = config_table("unused", data={**VOCABULARY, "cache_dir": str(tmp_path / "cache")})
    data = structure(table, PipelineTrainConfig).data
    plain = render_pool(data, "foa", 8000, 4.0, validation=False, progress=False)
    sustained = render_pool(attrs.evolve(data, sustained_probability=1.0), "foa", 8000, 4.0,
                            validation=False, progress=False)
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert not torch.equal(plain.foa, sustained.foa)
    with pytest.raises(ConfigError, match=r"sustained_probability needs data\.source"):
        structure(config_table("unused", data={**DATA, "sustained_probability": 0.5}),
                  PipelineTrainConfig)


def test_a_vocabulary_split_with_too_few_classes_is_refused():
    data = structure(config_table("unused", data={**VOCABULARY, "min_classes": 11}),
                     PipelineTrainConfig).data
    with pytest.raises(ConfigError, match=r"min_classes = 11.* 10 classes.*install-sound-sets"):
        render_pool(data, "foa", 8000, 4.0, validation=False, progress=False)
    data = attrs.evolve(data, min_classes=10)
    assert len(render_pool(data, "foa", 8000, 4.0, validation=False, progress=False).captions) == 4


def test_natural_captions_need_the_vocabulary_source():
    with pytest.raises(ConfigError, match=r"needs data\.source"):
        structure(config_table("unused", data={**DATA, "captions": "natural"}),
                  PipelineTrainConfig)


def test_a_pipeline_trains_on_vocabulary_scenes(tmp_path):
    run = trainer(tmp_path, data=VOCABULARY)
    summary = run.run()
    assert summary["steps"] == 4 and Pipeline.from_pretrained(summary["pipeline_dir"])


def test_a_new_component_type_starts_its_table_afresh_in_any_order():
    table = {"sampler": {"type": "euler", "steps": 20, "grid": "cosine"}}
    apply_overrides(table, ["sampler.steps=8", "sampler.type=heun"])
    assert table == {"sampler": {"type": "heun", "steps": 8}}
    apply_overrides(table, ["sampler.type=heun", "sampler.steps=4"])
    assert table == {"sampler": {"type": "heun", "steps": 4}}


def linear_output_dtypes(trainer_: PipelineTrainer, step: int) -> set[torch.dtype]:
    """The dtypes the backbone's linear layers produce during one training step."""
    seen: set[torch.dtype] = set()
    hooks = [module.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
             for module in trainer_.pipeline.backbone.modules()
             if isinstance(module, torch.nn.Linear)]
    try:
        trainer_.train_step(step)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


@pytest.mark.parametrize("precision, computes_in", [("float32", torch.float32),
                                                     ("bfloat16", torch.bfloat16)])
def test_run_precision_sets_the_dtype_of_the_forward_pass(tmp_path, precision, computes_in):
    run = trainer(tmp_path, run={**config_table(tmp_path)["run"], "precision": precision})
    assert linear_output_dtypes(run, 0) == {computes_in}
    parameters = list(run.pipeline.backbone.parameters())
    assert all(p.dtype == torch.float32 for p in parameters)
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in parameters)


def test_bfloat16_steps_follow_the_float32_steps(tmp_path):
    losses = {}  # after two updates: the zero-initialised output makes the first loss exact
    for precision in ("float32", "bfloat16"):
        run = trainer(tmp_path, run={**config_table(tmp_path)["run"], "precision": precision})
        losses[precision] = [run.train_step(step)["loss"] for step in range(3)][-1]
    assert losses["bfloat16"] == pytest.approx(losses["float32"], rel=0.05)
    assert losses["bfloat16"] != losses["float32"]


def test_cpu_flags_say_whether_bfloat16_is_emulated(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    for flags, emulated in [("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni", True),
                            ("flags\t\t: fpu avx512f avx512_bf16", False),
                            ("flags\t\t: fpu amx_tile amx_bf16", False),
                            ("Features\t: fp asimd bf16 i8mm", False)]:
        cpuinfo.write_text(f"processor\t: 0\n{flags}\n")
        assert cpu_bfloat16_is_emulated(cpuinfo) is emulated, flags
    assert cpu_bfloat16_is_emulated(tmp_path / "absent") is False


@pytest.mark.parametrize("precision, emulated, warns", [("bfloat16", True, True),
                                                        ("bfloat16", False, False),
                                                        ("float32", True, False)])
def test_bfloat16_where_the_cpu_emulates_it_warns_at_start(tmp_path, monkeypatch, precision,
                                                          emulated, warns):
    monkeypatch.setattr("swansphere.training.common.cpu_bfloat16_is_emulated",
                        lambda: emulated)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, run={**config_table(tmp_path)["run"], "precision": precision})
    said = [str(w.message) for w in caught if "bfloat16 instructions" in str(w.message)]
    assert len(said) == warns
    assert all('set run.precision = "float32"' in message for message in said)


def test_an_unknown_precision_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"run: precision must be one of \['bfloat16', "
                                          r"'float32'\], got 'float16'"):
        structure(config_table(tmp_path, run={"precision": "float16"}), PipelineTrainConfig)


# ---------------------------------------------------------------- exemplar prefixes

PREFIXED = {**VOCABULARY, "exemplar_prefix": 1.0, "exemplar_seconds": 0.128,
            "exemplar_per_class": 2}


@pytest.mark.parametrize("scenes", [{"max_sources": 1, "moving_probability": 0.0},
                                    {"max_sources": 2}])
def test_each_one_class_scene_gets_its_class_exemplar_where_its_caption_puts_it(scenes):
    """Train as a stream is primed: the prefix is the exemplar of the scene's own class (read
    from the scene sampler, not from the words), placed where the caption says, encoded as
    ``LiveSession.prime`` encodes a prompt; scenes of two classes get none."""
    from swansphere.spatial import encode
    from swansphere.spatial.words import prompt_direction
    from swansphere.training.pipeline import scene_dataset_key, split_dataset

    run = trainer("unused", data={**PREFIXED, "train_scenes": 6, **scenes})
    data = run.training_set()
    bank = run.pipeline.exemplars
    assert run.pipeline.config.exemplar_prompts and bank.audio.shape[1] == 1024
    dataset = split_dataset(*scene_dataset_key(run.config.data, 8000, validation=False))
    for index, caption in enumerate(data.captions):
        labels = {event.clip.label for event in dataset.scene(index).events}
        assert bool(data.prefixed[index]) == (len(labels) == 1)
        if len(labels) > 1:
            continue
        [label] = labels
        choices = [i for i, c in enumerate(bank.clip_classes) if bank.class_names[c] == label]
        place = prompt_direction(caption) or (0.0, 0.0)
        prompt = encode(bank.audio[choices[index % len(choices)]], *place)
        torch.testing.assert_close(data.prefixes[index],
                                   run.pipeline.prompt_latents(prompt[None])[0])
    placed = [prompt_direction(caption) is not None for caption in data.captions]
    if scenes["max_sources"] == 1:  # still sources, one each: every scene, most of them placed
        assert data.prefixed.all() and sum(placed) >= 3
    else:
        assert 0 < int(data.prefixed.sum()) < len(data)
    assert run.training_set(validation=True).prefixes is None


def test_a_share_of_scenes_take_their_exemplar_from_their_own_recording():
    """``exemplar_own``: those one-class scenes' exemplar is the loudest window of the
    scene's own (first) recording, placed where the caption says; the others keep the
    bank's clip of their class; the draw is the seed's, and 0 changes nothing."""
    from swansphere.conditioning.exemplars import placed
    from swansphere.data.exemplars import clip_window
    from swansphere.training.pipeline import scene_recordings

    scenes = {"max_sources": 1, "moving_probability": 0.0, "train_scenes": 8}
    banked = trainer("unused", data={**PREFIXED, **scenes}).training_set()
    run = trainer("unused", data={**PREFIXED, **scenes, "exemplar_own": 0.5})
    data = run.training_set()
    recordings = scene_recordings(run.config.data, 8000, validation=False)
    own = [not torch.equal(a, b) for a, b in zip(data.prefixes, banked.prefixes, strict=True)]
    assert 0 < sum(own) < len(own)
    for index, caption in enumerate(data.captions):
        if own[index]:
            prompt = placed(clip_window(recordings[index], 8000, 0.128), caption)
            torch.testing.assert_close(data.prefixes[index],
                                       run.pipeline.prompt_latents(prompt[None])[0])
    again = trainer("unused", data={**PREFIXED, **scenes, "exemplar_own": 0.5}).training_set()
    assert torch.equal(again.prefixes, data.prefixes)
    none = trainer("unused", data={**PREFIXED, **scenes, "exemplar_own": 0.0}).training_set()
    assert torch.equal(none.prefixes, banked.prefixes)
    with pytest.raises(ConfigError, match=r"exemplar_own needs data\.source"):
        structure(config_table("unused", data={**DATA, "exemplar_own": 0.5}),
                  PipelineTrainConfig)


def test_a_prefixed_item_gives_its_exemplar_patches_and_keeps_its_length(monkeypatch):
    run = trainer("unused", data={**PREFIXED, "exemplar_prefix": 0.5, "train_scenes": 8})
    data = run.training_set()
    calls = []
    monkeypatch.setattr(run.pipeline.backbone, "loss",
                        lambda latents, _conditions, **kw: calls.append((latents, kw)))
    run._step_data = data
    index = torch.arange(len(data)).repeat(4)
    run.batch_loss(index, torch.Generator().manual_seed(0))
    [(latents, kw)] = calls
    given = kw["given_patches"]
    patches = data.prefixes.shape[1] // run.pipeline.backbone.patch_frames
    assert set(given.tolist()) == {0, patches}
    assert not given[~data.prefixed[index]].any()  # two classes: never a prefix
    assert 0 < int((given > 0).sum()) < int(data.prefixed[index].sum())  # half of the rest
    frames = data.prefixes.shape[1]
    for row, item in enumerate(index.tolist()):
        scene = data.latents[item]
        if given[row]:
            torch.testing.assert_close(latents[row, :frames], data.prefixes[item])
            torch.testing.assert_close(latents[row, frames:], scene[:-frames])
        else:
            assert torch.equal(latents[row], scene)


def test_a_prefix_trained_pipeline_ships_its_bank_and_starts_streams_from_it(tmp_path):
    summary = trainer(tmp_path, data=PREFIXED).run()
    loaded = Pipeline.from_pretrained(summary["pipeline_dir"])
    assert loaded.config.exemplar_prompts and loaded.exemplars is not None


def test_exemplar_prefixes_need_the_vocabulary_and_room_to_learn():
    with pytest.raises(ConfigError, match=r"exemplar_prefix needs data\.source"):
        structure(config_table("unused", data={**DATA, "exemplar_prefix": 0.5}),
                  PipelineTrainConfig)
    run = trainer("unused", data={**PREFIXED, "exemplar_seconds": 0.6})
    with pytest.raises(ConfigError, match="leaves nothing"):
        run.training_set()


def with_reference(frames: int) -> dict:
    table = copy.deepcopy(TINY)
    table["backbone"]["reference_frames"] = frames
    return table


def test_a_reference_backbone_learns_from_each_scenes_exemplar_unprefixed(monkeypatch):
    """Every item's reference is its scene's exemplar (what a stream started from the bank
    follows), valid for one-class scenes only; without ``exemplar_prefix`` nothing is
    prefixed, and the pipeline starts streams from the bank."""
    run = trainer("unused", pipeline=with_reference(4),
                  data={**PREFIXED, "exemplar_prefix": 0.0, "train_scenes": 6})
    data = run.training_set()
    assert run.pipeline.config.exemplar_prompts and 0 < int(data.prefixed.sum()) < len(data)
    calls = []
    monkeypatch.setattr(run.pipeline.backbone, "loss",
                        lambda latents, _conditions, **kw: calls.append((latents, kw)))
    run._step_data = data
    index = torch.cat((data.prefixed.nonzero()[:2, 0], (~data.prefixed).nonzero()[:1, 0]))
    run.batch_loss(index, torch.Generator().manual_seed(0))
    [(latents, kw)] = calls
    assert "given_patches" not in kw and torch.equal(latents, data.latents[index])
    assert torch.equal(kw["reference"], data.prefixes[index])
    assert torch.equal(kw["reference_valid"], data.prefixed[index])


def test_own_history_rollouts_follow_the_items_references(monkeypatch):
    run = trainer("unused", pipeline=with_reference(4), own_history=1.0,
                  data={**PREFIXED, "exemplar_prefix": 0.0, "train_scenes": 6})
    data = run.training_set()
    backbone = run.pipeline.backbone
    followed = []
    original = backbone.with_reference
    monkeypatch.setattr(backbone, "with_reference",
                        lambda state, reference, valid: followed.append((reference, valid))
                        or original(state, reference, valid))
    run._step_data = data
    index = torch.cat((data.prefixed.nonzero()[:1, 0], (~data.prefixed).nonzero()[:1, 0]))
    with torch.no_grad():
        run.batch_loss(index, torch.Generator().manual_seed(0))
    [(reference, valid)] = followed
    assert torch.equal(reference, data.prefixes[index])
    assert torch.equal(valid, data.prefixed[index])


def test_a_reference_needs_the_vocabulary_and_an_exemplar_as_long_not_shorter_than_a_scene():
    with pytest.raises(ConfigError, match="reference_frames learns from each scene's exemplar"):
        trainer("unused", pipeline=with_reference(4))
    run = trainer("unused", pipeline=with_reference(65), data={**PREFIXED, "train_scenes": 2})
    with pytest.raises(ConfigError, match="shorter than the backbone's reference"):
        run.training_set()
    long = {**PREFIXED, "exemplar_prefix": 0.0, "exemplar_seconds": 0.6, "train_scenes": 2}
    data = trainer("unused", pipeline=with_reference(4), data=long).training_set()
    assert data.prefixes.shape[1] > data.latents.shape[1]  # only a prefix must leave room


# ---------------------------------------------------------------- the stream's own history

def test_chosen_items_hear_what_the_model_makes_after_their_first_patches(monkeypatch):
    """The made part is a stream of the item's own conditions primed with the clip's first
    ``k`` patches (the rows' seeds recorded, then the stream made again); the other items
    and every item's first ``k`` patches are the clip's."""
    import swansphere.pipeline as pipeline_api

    run = trainer("unused", own_history=0.5)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # random weights: zero-initialised gates would hide the conditions
        for parameter in run.pipeline.backbone.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    data = run.training_set()
    run._step_data = data
    sessions = []

    class Recorded(pipeline_api.LiveSession):
        def __attrs_post_init__(self):
            super().__attrs_post_init__()
            sessions.append(self)

    monkeypatch.setattr(pipeline_api, "LiveSession", Recorded)
    index = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    latents = data.latents[index]
    history = run._own_history(data, index, latents, {}, torch.Generator().manual_seed(2))
    [session] = sessions
    frames = run.pipeline.backbone.patch_frames
    changed = (history != latents).flatten(1).any(1)
    rows = changed.nonzero()[:, 0]
    assert 0 < len(rows) < len(index)
    start = int((history[rows[0]] != latents[rows[0]]).any(-1).nonzero()[0, 0]) // frames
    assert start > 0  # this seed primes the stream (a start at 0 is the plain stream)
    assert torch.equal(history[:, :start * frames], latents[:, :start * frames])
    count = latents.shape[1] // frames
    again = Recorded(run.pipeline, run.pipeline.backbone.init_state(
        len(rows), run.conditions(data, index[rows])),
        tuple(torch.Generator().manual_seed(g.initial_seed()) for g in session.generators))
    if start:
        again.prime_latents(latents[rows, :start * frames])
    made = torch.cat([again.next_patches()[1] for _ in range(count - start)], 1)
    torch.testing.assert_close(history[rows, start * frames:count * frames], made)


def test_own_history_in_a_bfloat16_run_is_the_stream_the_pipeline_makes(tmp_path):
    """Under the step's bfloat16 autocast the rollout is still made as the pipeline makes a
    stream, in float32: the same history as outside autocast, and the run trains."""
    run = trainer(tmp_path, own_history=1.0,
                  run={**config_table(tmp_path)["run"], "precision": "bfloat16"})
    data = run.training_set()
    run._step_data = data
    index = torch.tensor([0, 1, 2, 3])
    latents = data.latents[index]
    plain = run._own_history(data, index, latents, {}, torch.Generator().manual_seed(4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = run._own_history(data, index, latents, {}, torch.Generator().manual_seed(4))
    assert not torch.equal(plain, latents)
    torch.testing.assert_close(autocast, plain)
    assert math.isfinite(run.train_step(0)["loss"])


def test_own_history_needs_a_streaming_backbone_whose_loss_takes_it(monkeypatch):
    from swansphere.plugins.causal_dit.model import CausalDiT

    def loss(self, latents, conditions=None, generator=None):
        return latents.sum()

    monkeypatch.setattr(CausalDiT, "loss", loss)
    with pytest.raises(ConfigError, match="own_history needs a streaming backbone"):
        trainer("unused", own_history=0.5)


def test_validation_scores_where_the_model_puts_a_sound_not_the_held_place(tmp_path,
                                                                          monkeypatch):
    """A pipeline that holds places (docs/pipeline.md) would score its own target; validation
    generates with the hold off, so the figure tracks the backbone."""
    pipeline = {**copy.deepcopy(TINY), "place_hold": 1.0}
    run = trainer(tmp_path / "run", pipeline=pipeline, validation={"generated_scenes": 2})
    data = run.training_set(validation=True)
    holds = []

    def generate(self, *args, **kwargs):
        holds.append(self.config.place_hold)
        return torch.zeros(4, data.scenes.foa.shape[-1])

    monkeypatch.setattr(Pipeline, "generate", generate)
    run._generated_direction_error(data)
    assert run.pipeline.config.place_hold == 1.0 and holds == [0.0, 0.0]
