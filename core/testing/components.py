"""Conformance checks for what every component needs beyond streaming (docs/testing-plugins.md).

- :func:`check_protocol`: the component has every member of its kind's protocol (what
  :meth:`swansphere.Registry.create` also enforces);
- :func:`check_config_round_trip`: its ``{type = ..., ...}`` table survives load -> dump ->
  load unchanged, so a saved model or a training run's ``train.toml`` rebuilds it;
- :func:`check_pipeline_ready`: a codec can serve a :class:`swansphere.Pipeline` (its decoder
  has no lookahead);
- pytest mixins for the kinds that do not stream: :class:`ConditionerConformance` (text and
  video; a video conditioner's stream is checked by
  :class:`swansphere.testing.streaming.StreamingConformanceSuite`),
  :class:`RewardConformance` and :class:`PreferenceOptimizerConformance`.

Every failure raises :class:`ConformanceError` (an ``AssertionError``) that says what broke.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from typing import Any

import torch

from ..components import ComponentKind
from ..config import dumps_toml, structure_component
from ..registry import default_registry, protocol_for, protocol_members


class ConformanceError(AssertionError):
    """A component breaks its kind's contract."""


def check_protocol(component: Any, kind: ComponentKind | str) -> None:
    """Fail unless ``component`` has every member of the protocol of ``kind``."""
    protocol = protocol_for(ComponentKind(kind), component)
    missing = [name for name in protocol_members(protocol) if not hasattr(component, name)]
    if missing:
        raise ConformanceError(f"{type(component).__name__} is not a {protocol.__name__}: it "
                               f"lacks {', '.join(missing)}")


def check_config_round_trip(kind: ComponentKind | str, table: Mapping[str, Any], *,
                            registry: Any = None) -> None:
    """Fail unless ``table`` (``{"type": name, ...}``) loads, dumps to TOML and loads back to
    an equal config (fields TOML cannot hold, such as ``None`` in a non-optional field or
    values that do not compare equal, break this)."""
    registry = registry or default_registry()
    kind = ComponentKind(kind)
    spec = structure_component(registry, kind, dict(table), path=kind.value)
    text = dumps_toml(spec, registry=registry)
    again = structure_component(registry, kind, tomllib.loads(text), path=kind.value)
    if again != spec:
        raise ConformanceError(f"{kind.value} {spec.type!r}: the config changes through TOML:"
                               f"\n{spec.config!r}\n-> {text!r}\n-> {again.config!r}")


def check_pipeline_ready(codec: Any) -> None:
    """Fail unless ``codec`` can serve a pipeline: a LatentCodec whose decoder has no
    lookahead (the pipeline decodes each patch as soon as it is sampled)."""
    check_protocol(codec, ComponentKind.CODEC)
    if codec.decode_lookahead != 0:
        raise ConformanceError(
            f"{type(codec).__name__} declares decode_lookahead = {codec.decode_lookahead}: a "
            "Pipeline refuses it (it decodes each patch as soon as it is sampled); set "
            "pipeline_ready = False on the suite if the codec is not meant for pipelines")


def _same(actual: torch.Tensor, expected: torch.Tensor, what: str, *, atol: float = 1e-5,
          rtol: float = 1e-4) -> None:
    if actual.shape != expected.shape or not torch.allclose(actual, expected, atol=atol,
                                                            rtol=rtol):
        raise ConformanceError(f"{what}: {actual.flatten()[:6].tolist()} != "
                               f"{expected.flatten()[:6].tolist()}")


def _eval(component: Any) -> Any:
    if isinstance(component, torch.nn.Module):
        component.eval()
    return component


# ---------------------------------------------------------------------------- conditioners


class ConditionerConformance:
    """pytest mixin for a text or video :class:`~swansphere.protocols.Conditioner`.

    Implement :meth:`make_conditioner`; :meth:`make_raw` gives captions for text and random
    2:1 panoramas with timestamps for video (override it for other raw inputs). Checks the
    protocol, the output (``tokens (batch, length, dim)``, a bool ``mask``, float64 ``times``
    for video and ``None`` for text), that an absent item (``None``) gets the ``null`` output,
    that items of a batch do not affect each other, and that ``forward`` is deterministic.
    """

    frames: int = 3
    height: int = 16

    def make_conditioner(self) -> Any:
        raise NotImplementedError("implement make_conditioner() in your test class")

    def make_raw(self, batch_size: int) -> list[Any]:
        conditioner = self.make_conditioner()
        if conditioner.modality == "text":
            words = ["a dog barks on the left", "rain falls above", "a bell rings behind"]
            return [words[i % len(words)] + " " * (i // len(words)) for i in range(batch_size)]
        generator = torch.Generator().manual_seed(0)
        times = torch.arange(self.frames, dtype=torch.float64) / conditioner.frame_rate
        return [(torch.rand(self.frames, self.height, 2 * self.height, 3, generator=generator),
                 times) for _ in range(batch_size)]

    def _tokens(self, conditioner: Any, raw: list[Any]) -> Any:
        with torch.no_grad():
            return conditioner.forward(conditioner.prepare(raw))

    def test_conditioner_protocol(self) -> None:
        conditioner = self.make_conditioner()
        check_protocol(conditioner, ComponentKind.CONDITIONER)
        if conditioner.modality not in ("text", "video"):
            raise ConformanceError(f"modality must be 'text' or 'video', got "
                                   f"{conditioner.modality!r}")
        if not isinstance(conditioner.dim, int) or conditioner.dim < 1:
            raise ConformanceError(f"dim must be a positive int, got {conditioner.dim!r}")

    def test_conditioner_output(self) -> None:
        conditioner = _eval(self.make_conditioner())
        out = self._tokens(conditioner, self.make_raw(2))
        batch, length = out.tokens.shape[:2]
        if out.tokens.shape != (2, length, conditioner.dim) or length < 1:
            raise ConformanceError(f"tokens have shape {tuple(out.tokens.shape)}, expected "
                                   f"(2, length >= 1, {conditioner.dim})")
        if out.mask.dtype != torch.bool or out.mask.shape != (batch, length):
            raise ConformanceError(f"mask must be bool ({batch}, {length}), got "
                                   f"{out.mask.dtype} {tuple(out.mask.shape)}")
        video = conditioner.modality == "video"
        if video and (out.times is None or out.times.dtype != torch.float64
                      or out.times.shape != (batch, length)):
            raise ConformanceError("a video conditioner gives float64 times (batch, length)")
        if not video and out.times is not None:
            raise ConformanceError("a text conditioner gives times = None")

    def test_absent_items_get_the_null_output(self) -> None:
        conditioner = _eval(self.make_conditioner())
        out = self._tokens(conditioner, [None, *self.make_raw(1)])
        with torch.no_grad():
            null = conditioner.null(1)
        real = null.mask[0]
        _same(out.tokens[0, :real.shape[0]][real], null.tokens[0][real],
              "an absent item's tokens differ from null(1)")
        if not torch.equal(out.mask[0, :real.shape[0]], real) or out.mask[0, real.shape[0]:].any():
            raise ConformanceError("an absent item's mask differs from null(1)'s")

    def test_batch_items_are_independent(self) -> None:
        conditioner = _eval(self.make_conditioner())
        raw = self.make_raw(3)
        together = self._tokens(conditioner, raw)
        for index, item in enumerate(raw):
            alone = self._tokens(conditioner, [item])
            mask = together.mask[index]
            _same(together.tokens[index][mask], alone.tokens[0][alone.mask[0]],
                  f"item {index} changes when other items share its batch")

    def test_forward_is_deterministic(self) -> None:
        conditioner = _eval(self.make_conditioner())
        raw = self.make_raw(2)
        first, second = self._tokens(conditioner, raw), self._tokens(conditioner, raw)
        if not torch.equal(first.tokens, second.tokens):
            raise ConformanceError("forward gives different tokens for the same input in eval "
                                   "mode")


# ---------------------------------------------------------------------------- rewards


class RewardConformance:
    """pytest mixin for a :class:`~swansphere.protocols.Reward`.

    Implement :meth:`make_reward` and :meth:`make_clips` (``(audio (batch, 4, n),
    conditions)`` where ``conditions`` is what the reward reads, e.g.
    ``swansphere.plugins.odpo.rewards.RewardInputs``); :meth:`select` takes one clip's
    conditions (default: ``conditions[index : index + 1]``, or ``None`` for ``None``).
    Checks the protocol and ``name``, that scores are finite floats ``(batch,)``, that each
    clip's score does not depend on the others of its batch, determinism, and that the audio
    is left untouched.
    """

    sample_rate: int = 16000

    def make_reward(self) -> Any:
        raise NotImplementedError("implement make_reward() in your test class")

    def make_clips(self, batch_size: int) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError("implement make_clips(batch_size) in your test class")

    def select(self, conditions: Any, index: int) -> Any:
        return None if conditions is None else conditions[index:index + 1]

    def _score(self, reward: Any, audio: torch.Tensor, conditions: Any) -> torch.Tensor:
        with torch.no_grad():
            return torch.as_tensor(reward(audio, self.sample_rate, conditions))

    def test_reward_protocol_and_name(self) -> None:
        reward = self.make_reward()
        check_protocol(reward, ComponentKind.REWARD)
        if not isinstance(reward.name, str) or not reward.name or " " in reward.name:
            raise ConformanceError(f"name must be a non-empty string without spaces (it keys "
                                   f"the logged figures), got {reward.name!r}")

    def test_scores_are_finite_floats_per_clip(self) -> None:
        audio, conditions = self.make_clips(3)
        scores = self._score(self.make_reward(), audio, conditions)
        if scores.shape != (3,) or not scores.is_floating_point():
            raise ConformanceError(f"scores must be floats of shape (3,), got {scores.dtype} "
                                   f"{tuple(scores.shape)}")
        if not torch.isfinite(scores).all():
            raise ConformanceError(f"scores must be finite, got {scores.tolist()}")

    def test_clips_are_scored_independently(self) -> None:
        reward = self.make_reward()
        audio, conditions = self.make_clips(3)
        together = self._score(reward, audio, conditions)
        for index in range(3):
            alone = self._score(reward, audio[index:index + 1], self.select(conditions, index))
            _same(together[index:index + 1], alone,
                  f"clip {index}'s score changes when other clips share its batch", atol=1e-4)

    def test_scoring_is_deterministic_and_leaves_the_audio(self) -> None:
        reward = self.make_reward()
        audio, conditions = self.make_clips(2)
        before = audio.clone()
        first, second = (self._score(reward, audio, conditions) for _ in range(2))
        if not torch.equal(first, second):
            raise ConformanceError("the same clips scored twice give different scores")
        if not torch.equal(audio, before):
            raise ConformanceError("the reward modified the audio it scored")


# ---------------------------------------------------------------------- preference optimizers


class PreferenceOptimizerConformance:
    """pytest mixin for a :class:`~swansphere.protocols.PreferenceOptimizer`.

    Implement :meth:`make_optimizer`, :meth:`make_pipeline` (a small pipeline whose backbone
    trains), :meth:`make_rewards` and :meth:`make_batch` (what ``step`` takes); override
    :meth:`make_latents` where ``reference_divergence`` needs other clips. Checks the
    protocol, that ``attach`` returns the optimizer, that ``step`` reports finite figures and
    changes the backbone, and that the divergence from the reference is zero before any
    update (attached without a torch optimizer: sampling and evaluation only).
    """

    def make_optimizer(self) -> Any:
        raise NotImplementedError("implement make_optimizer() in your test class")

    def make_pipeline(self) -> Any:
        raise NotImplementedError("implement make_pipeline() in your test class")

    def make_rewards(self) -> Any:
        raise NotImplementedError("implement make_rewards() in your test class")

    def make_batch(self) -> Any:
        raise NotImplementedError("implement make_batch() in your test class")

    def make_latents(self, pipeline: Any) -> torch.Tensor:
        backbone = pipeline.backbone
        generator = torch.Generator().manual_seed(0)
        return torch.randn(1, 2 * backbone.patch_frames, backbone.latent_dim,
                           generator=generator)

    def _attached(self, *, train: bool) -> tuple[Any, Any, dict[str, torch.Tensor]]:
        pipeline = self.make_pipeline()
        optimizer = (torch.optim.SGD(pipeline.backbone.parameters(), lr=1e-2) if train
                     else None)
        preference = self.make_optimizer()
        attached = preference.attach(pipeline, self.make_rewards(), optimizer)
        if attached is not preference:
            raise ConformanceError("attach must return the optimizer itself")
        start = {k: v.clone() for k, v in pipeline.backbone.state_dict().items()}
        return attached, pipeline, start

    def test_preference_optimizer_protocol(self) -> None:
        check_protocol(self.make_optimizer(), ComponentKind.PREFERENCE_OPTIMIZER)

    def test_a_step_updates_the_backbone_and_reports_finite_figures(self) -> None:
        preference, pipeline, start = self._attached(train=True)
        figures = preference.step(self.make_batch())
        bad = {k: v for k, v in figures.items() if not isinstance(v, float | int)
               or not math.isfinite(v)}
        if not figures or bad:
            raise ConformanceError(f"step must return finite float figures, got {bad or figures}")
        if all(torch.equal(v, start[k]) for k, v in pipeline.backbone.state_dict().items()):
            raise ConformanceError("a step with a torch optimizer left the backbone unchanged")

    def test_reference_divergence_starts_at_zero(self) -> None:
        preference, pipeline, _ = self._attached(train=False)
        divergence = preference.reference_divergence(self.make_latents(pipeline), None, seed=0)
        if not math.isfinite(divergence) or abs(divergence) > 1e-6:
            raise ConformanceError(f"reference_divergence before any update must be 0, got "
                                   f"{divergence}")
