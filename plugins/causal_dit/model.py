"""The causal autoregressive diffusion transformer: Spatial LM + LocEnc + LocDiT.

One autoregressive step per latent patch (``patch_frames`` latent frames)::

    token_0 = start                                  (a learned start token)
    token_t = LocEnc(patch_{t-1}) + video_t          (video_t: latest frame by the patch's end)
    h_t     = SpatialLM(token_0 .. token_t | text)   (causal, KV-cached, rolling window)
    patch_t = sample(LocDiT(· | h_t, patch_{t-2}, patch_{t-1}))

Training is teacher-forced: all ``h_t`` in one causal pass, then rectified flow on a random
``patch_keep_ratio`` of the patches, with ``h_t`` and the context each dropped (for
classifier-free guidance) with their own probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from swansphere.conditioning.alignment import (
    causal_frame_index,
    gather_aligned,
    patch_end_times,
)
from swansphere.nn.adapters import (
    CaptionEncoder,
    TextMemory,
    TextSummary,
    VideoAdapter,
    packed_positions,
)
from swansphere.nn.attention import cached_mask, causal_mask, packed_causal_mask
from swansphere.nn.conditions import (
    BackboneInputError,
    Conditions,
    check_frame_times,
    make_conditions,
)
from swansphere.nn.flow import LatentGrid, batch_times, normal, uniform
from swansphere.nn.layers import init_weights
from swansphere.samplers.grids import shifted
from swansphere.samplers.guidance import Condition

from .cache import CausalDiTState, VideoBuffer
from .config import CausalDiTConfig
from .lm import SpatialLM
from .locdit import LocDiT
from .locenc import LocEnc

if TYPE_CHECKING:
    from .captured import PatchStepper

ALL, FIRST = int(Condition.ALL), int(Condition.FIRST)


class CausalDiT(LatentGrid, nn.Module):
    """The ``causal-dit`` backbone (see :class:`swansphere.protocols.CausalBackbone`)."""

    lookahead = 0
    """``h_t`` depends on patches before ``t`` and video up to the end of patch ``t`` only."""

    def __init__(self, config: CausalDiTConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or CausalDiTConfig()
        eps, base, width = config.norm_eps, config.rope_base, config.lm.width
        self.lm = SpatialLM(config.lm, gated=config.gated_attention,
                            cross_attention=config.text_cross_attention, eps=eps,
                            rope_base=base)
        self.caption = None
        if config.text_cross_attention:
            caption_size = attrs.evolve(config.lm, layers=config.caption_layers)
            self.caption = CaptionEncoder(config.text_dim, caption_size, eps=eps,
                                          null_tokens=config.null_text_tokens, rope_base=base)
        self.video = VideoAdapter(config.video_dim, width, config.video_adapter_layers,
                                  config.lm.mlp_hidden, eps)
        self.locenc = LocEnc(config.latent_dim, config.locenc, width, eps=eps, rope_base=base)
        self.locdit = LocDiT(config.latent_dim, width, config.locdit,
                             context_frames=config.context_frames,
                             patch_frames=config.patch_frames, eps=eps, rope_base=base,
                             patch_mean=config.patch_mean_weight > 0,
                             reference_frames=config.reference_frames)
        self.text_summary = (TextSummary(config.text_dim, width, eps=eps)
                             if config.text_summary else None)
        self.start = nn.Parameter(torch.zeros(width))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_weights(self)
        learned_tokens = [self.start, self.video.null, self.locenc.cls, self.locdit.null_h,
                          self.locdit.null_context]
        if self.caption is not None:
            learned_tokens.append(self.caption.null)
        if self.text_summary is not None:
            learned_tokens.append(self.text_summary.null)
        if self.config.reference_frames:
            learned_tokens.append(self.locdit.null_reference)
        for token in learned_tokens:
            nn.init.trunc_normal_(token, std=0.02, a=-0.06, b=0.06)

    # ------------------------------------------------------------------ metadata

    @property
    def context_patches(self) -> int:
        return self.config.context_patches

    @property
    def h_dim(self) -> int:
        return self.config.lm.width

    @property
    def reference_frames(self) -> int:
        """Frames of a reference recording LocDiT sees at every patch (0: it takes none)."""
        return self.config.reference_frames

    @property
    def _backend(self) -> str:
        return self.config.attention_backend

    @property
    def _dtype(self) -> torch.dtype:
        return self.start.dtype

    # ------------------------------------------------------------------ conditions

    def _text_memory(self, conditions: Conditions | None, batch_size: int,
                     drop: torch.Tensor | None = None) -> TextMemory | None:
        if self.caption is None:
            return None
        if conditions is None or conditions.text is None:
            encoded, lengths = self.caption.null_text(batch_size)
            text = self.start.new_zeros(batch_size, 1, self.config.text_dim)
            mask = torch.zeros(batch_size, 1, dtype=torch.bool, device=text.device)
        else:
            text, mask = conditions.text_tokens(batch_size, self.config.text_dim)
            device = self.start.device
            text, mask = text.to(device, self._dtype), mask.to(device)
            if drop is not None:
                mask = mask & ~drop.to(device).unsqueeze(-1)
            encoded, lengths = self.caption(text, mask, self._backend)
        memory = self.lm.text_memory(encoded, lengths)
        if self.text_summary is None or memory is None:
            return memory
        return attrs.evolve(memory, summary=self.text_summary(text, mask))

    @staticmethod
    def _add_summary(h: torch.Tensor, text: TextMemory | None,
                     valid: torch.Tensor | None = None) -> torch.Tensor:
        """``h (B, T, width)`` plus each item's text summary, where the model has one; ``valid``
        positions only (the rest of a ragged batch stays zero)."""
        if text is None or text.summary is None:
            return h
        summary = text.summary.unsqueeze(1)
        return h + (summary if valid is None else summary * valid.unsqueeze(-1))

    def _video_buffer(self, conditions: Conditions | None, batch_size: int,
                      drop: torch.Tensor | None = None) -> VideoBuffer:
        if conditions is None or conditions.video is None:
            return self._empty_video(batch_size)
        features, times, valid = conditions.video_frames(batch_size, self.config.video_dim)
        device = self.start.device
        valid = valid.to(device)
        if drop is not None:
            valid = valid & ~drop.to(device).unsqueeze(-1)
        return VideoBuffer(features=self.video(features.to(device, self._dtype)),
                           times=times.to(device), valid=valid)

    def _empty_video(self, batch_size: int) -> VideoBuffer:
        device = self.start.device
        return VideoBuffer(
            features=torch.zeros(batch_size, 0, self.h_dim, device=device, dtype=self._dtype),
            times=torch.zeros(batch_size, 0, device=device, dtype=torch.float64),
            valid=torch.zeros(batch_size, 0, device=device, dtype=torch.bool))

    def _video_tokens(self, buffer: VideoBuffer, first_patch: int,
                      patches: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-patch video embeddings ``(B, patches, width)`` and the frame index used."""
        ends = patch_end_times(first_patch, patches, self.patch_frames, self.frame_rate,
                               device=buffer.times.device)
        index = causal_frame_index(buffer.times, ends, buffer.valid)
        return gather_aligned(buffer.features, index, self.video.null.to(self._dtype)), index

    # ------------------------------------------------------------------ teacher forcing

    def _patches(self, latents: torch.Tensor) -> torch.Tensor:
        """``(B, frames, D)`` -> whole patches ``(B, T, P, D)`` (a trailing remainder is unused)."""
        if latents.dim() != 3 or latents.shape[2] != self.latent_dim:
            raise BackboneInputError(f"latents must have shape (batch, frames, "
                                     f"{self.latent_dim}), got {tuple(latents.shape)}")
        count = latents.shape[1] // self.patch_frames
        if count == 0:
            raise BackboneInputError(f"latents need at least one patch of {self.patch_frames} "
                                     f"frames, got {latents.shape[1]}")
        batch = latents.shape[0]
        whole = latents[:, :count * self.patch_frames].to(self.start.device, self._dtype)
        return whole.reshape(batch, count, self.patch_frames, self.latent_dim)

    def _input_tokens(self, patches: torch.Tensor, video: VideoBuffer,
                      history_drop: torch.Tensor | None = None) -> torch.Tensor:
        """``start, LocEnc(patch_0), …`` plus video; an item in ``history_drop`` gets the
        start token ("nothing heard yet") at every position instead of its audio history."""
        batch, count = patches.shape[:2]
        previous = self.locenc(patches[:, :-1].flatten(0, 1), self._backend)
        tokens = torch.cat((self.start.expand(batch, 1, -1),
                            previous.view(batch, count - 1, self.h_dim)), dim=1)
        if history_drop is not None:
            tokens = torch.where(history_drop.view(batch, 1, 1), self.start, tokens)
        return tokens + self._video_tokens(video, 0, count)[0]

    def _teacher_forced(self, patches: torch.Tensor, conditions: Conditions | None,
                        lengths: torch.Tensor | None, text_drop: torch.Tensor | None = None,
                        video_drop: torch.Tensor | None = None,
                        history_drop: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """``h`` ``(B, T, width)`` and the valid patches ``(B, T)``, the LM fed ``patches``."""
        batch, count = patches.shape[:2]
        tokens = self._input_tokens(patches, self._video_buffer(conditions, batch, video_drop),
                                    history_drop)
        text = self._text_memory(conditions, batch, text_drop)
        window = self.config.attention_window
        if lengths is None:
            positions = torch.arange(count)
            h, _ = self.lm(tokens, positions, causal_mask(window), text=text,
                           query_seqlens=[count] * batch, backend=self._backend)
            return (self._add_summary(h, text),
                    torch.ones(batch, count, dtype=torch.bool, device=h.device))
        counts = self._unit_counts(lengths, batch, count)
        valid = torch.arange(count) < counts.to(tokens.device)[:, None]
        seqlens = counts.tolist()
        packed, _ = self.lm(tokens[valid].unsqueeze(0), packed_positions(seqlens, tokens.device),
                            packed_causal_mask(seqlens, window), text=text,
                            query_seqlens=seqlens, backend=self._backend)
        h = tokens.new_zeros(batch, count, self.h_dim).index_put((valid,), packed[0])
        return self._add_summary(h, text, valid), valid

    def hidden_states(self, latents: torch.Tensor, conditions: Conditions | None = None,
                      lengths: torch.Tensor | None = None, *,
                      history: bool = True) -> torch.Tensor:
        """Teacher-forced ``h`` ``(B, T, width)`` for the ``T`` whole patches of ``latents``.

        ``h[:, t]`` is what :meth:`step` returns for patch ``t`` when the stream was fed the
        same patches before it. ``lengths`` (latent frames per item) packs a ragged batch into
        one block-diagonal sequence; positions past an item's length are zero.
        ``history=False`` hides the audio, as ``history_dropout`` does in training: ``h`` then
        depends on the conditions alone (with no video, every position's ``h`` is the same:
        the LM attends over identical inputs), not on ``latents``' values.
        """
        hidden = None if history else torch.ones(latents.shape[0], dtype=torch.bool,
                                                 device=self.start.device)
        return self._teacher_forced(self._patches(latents), conditions, lengths,
                                    history_drop=hidden)[0]

    # ------------------------------------------------------------------ training

    def loss(self, latents: torch.Tensor, conditions: Conditions | None = None,
             generator: torch.Generator | None = None,
             lengths: torch.Tensor | None = None, *, reduction: str = "mean",
             condition_dropout: bool = True,
             patch_keep_ratio: float | None = None,
             given_patches: torch.Tensor | None = None,
             history: torch.Tensor | None = None,
             reference: torch.Tensor | None = None,
             reference_valid: torch.Tensor | None = None) -> torch.Tensor:
        """Rectified-flow loss on the current patch, averaged over the selected patches.

        ``x_t = t·x1 + (1 - t)·noise``, target ``x1 - noise``. Text and video are each dropped
        per item (null embeddings), ``h_t`` and the context per patch (guidance), and LocDiT
        runs on a random ``patch_keep_ratio`` of the (valid) patches.

        ``history_dropout`` hides an item's audio history (LM inputs and LocDiT context): with
        its history a patch can copy the direction of the patches before it, so only the
        onset patches teach how the conditions set it, and the text, which video usually
        outvotes, is left unused. Without history every patch must follow the conditions.

        ``history_noise`` blurs the history the same way (LM inputs and LocDiT context, never
        the target): each item's patches get Gaussian noise of a standard deviation drawn
        uniformly up to it. A stream's history is its own imperfect samples, not the clean
        training clips (the exposure bias of autoregressive models; what it did so far:
        docs/evaluation.md, "A stream's own history").

        Preference optimisation scores a winner and a loser with one generator seed, so that
        both see the same patches, times and noise: ``reduction="none"`` gives one loss per
        item ``(B,)`` (the mean over its selected patches; 0 for an item that drew none, which
        ``patch_keep_ratio=1`` rules out), and ``condition_dropout=False`` keeps every
        condition. The dropout draws happen either way, so the other randomness of a seed does
        not depend on the flag. ``patch_keep_ratio`` overrides the config's for this call.

        ``given_patches`` ``(B,)`` counts each item's leading patches that are given, not
        made: an audio prompt the stream continues (``LiveSession.prime``; exemplar prompts,
        docs/pipeline.md). They are history only: never a training target, and never hidden by
        ``history_dropout``, since a primed stream always hears its prompt.

        ``history`` (shaped like ``latents``) is what the stream heard instead of ``latents``
        (LM inputs and LocDiT context): a stream's own samples (training on the stream's own
        history, docs/training.md); the targets stay ``latents``.

        ``reference`` ``(B, n >= reference_frames, latent_dim)`` is a recording of the sound
        each item should make (its first ``reference_frames`` frames are used; with
        ``reference_frames``), ``reference_valid (B,)`` False for items that have none. A
        reference is hidden with ``h_t`` and, per item, with ``reference_dropout``.
        """
        if reduction not in ("mean", "none"):
            raise BackboneInputError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        config, batch = self.config, latents.shape[0]
        device = self.start.device
        text_drop = ((uniform((batch,), generator, device) < config.text_dropout)
                     & condition_dropout)
        video_drop = ((uniform((batch,), generator, device) < config.video_dropout)
                      & condition_dropout)
        history_drop = ((uniform((batch,), generator, device) < config.history_dropout)
                        & condition_dropout)
        patches = self._patches(latents)
        heard = patches if history is None else self._patches(history)
        if heard.shape != patches.shape:
            raise BackboneInputError(f"history must have the shape of latents "
                                     f"{tuple(latents.shape)}, got {tuple(history.shape)}")
        given = self._given_patches(given_patches, patches)
        if given is not None:
            history_drop = history_drop & (given == 0)
        heard = self._noisy_history(heard, generator, given)
        h, valid = self._teacher_forced(heard, conditions, lengths, text_drop, video_drop,
                                        history_drop)
        targets = valid if given is None else valid & (
            torch.arange(valid.shape[1], device=device) >= given[:, None])
        item, step = self._select_patches(targets, generator, patch_keep_ratio)
        target_patch = patches[item, step]
        context, context_valid = self._training_context(heard, item, step)
        selected = item.shape[0]
        h_keep = ((uniform((selected,), generator, device) >= config.h_dropout)
                  | (not condition_dropout))
        context_keep = (((uniform((selected,), generator, device) >= config.context_dropout)
                         | (not condition_dropout)) & ~history_drop[item])
        times = self._sample_times(selected, generator, device)
        noise = normal(target_patch.shape, generator, device).to(target_patch.dtype)
        t = times.to(target_patch.dtype)[:, None, None]
        noisy = t * target_patch + (1 - t) * noise
        reference, reference_keep = self._training_reference(
            reference, reference_valid, batch, generator, condition_dropout)
        if reference is not None:
            reference, reference_keep = reference[item], reference_keep[item] & h_keep
        velocity = self.locdit(noisy, times, h[item, step], h_keep, context,
                               context_valid & context_keep.unsqueeze(-1), self._backend,
                               **_reference_inputs(reference, reference_keep))
        if reduction == "mean":
            loss = F.mse_loss(velocity.float(), (target_patch - noise).float())
            if config.patch_mean_weight > 0:
                mean = self.locdit.patch_mean(h[item, step], h_keep)
                loss = loss + config.patch_mean_weight * F.mse_loss(
                    mean.float(), target_patch.mean(1).float())
            return loss
        errors = (velocity.float() - (target_patch - noise).float()).square().mean(dim=(1, 2))
        counts = torch.bincount(item, minlength=batch).clamp(min=1)
        return errors.new_zeros(batch).index_add(0, item, errors) / counts

    def _training_reference(self, reference: torch.Tensor | None,
                            valid: torch.Tensor | None, batch: int,
                            generator: torch.Generator | None, condition_dropout: bool
                            ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The items' reference frames and which are kept (``reference_dropout`` drawn only
        with ``reference_frames``, so a seed trains a model without them as before)."""
        if not self.config.reference_frames:
            if reference is not None:
                raise BackboneInputError("this backbone takes no reference (reference_frames "
                                         "= 0)")
            return None, None
        device = self.start.device
        dropped = ((uniform((batch,), generator, device) < self.config.reference_dropout)
                   & condition_dropout)
        if reference is None:
            return None, None
        frames = self._reference_frames(reference, batch)
        return frames, self._reference_valid(valid, batch) & ~dropped

    def _reference_frames(self, reference: torch.Tensor, batch: int) -> torch.Tensor:
        """The first ``reference_frames`` frames of ``reference (batch, n, latent_dim)``."""
        frames = self.config.reference_frames
        if (reference.dim() != 3 or reference.shape[0] != batch or reference.shape[1] < frames
                or reference.shape[2] != self.latent_dim):
            raise BackboneInputError(f"a reference must have shape ({batch}, n >= {frames}, "
                                     f"{self.latent_dim}), got {tuple(reference.shape)}")
        return reference[:, :frames].to(self.start.device, self._dtype)

    def _reference_valid(self, valid: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Validated ``(batch,)`` booleans on the model's device (``None``: every row)."""
        device = self.start.device
        if valid is None:
            return torch.ones(batch, dtype=torch.bool, device=device)
        valid = torch.as_tensor(valid, device=device)
        if valid.shape != (batch,) or valid.dtype != torch.bool:
            raise BackboneInputError(f"reference_valid must be ({batch},) booleans, got "
                                     f"{tuple(valid.shape)} {valid.dtype}")
        return valid

    def _given_patches(self, given: torch.Tensor | None,
                       patches: torch.Tensor) -> torch.Tensor | None:
        """Validated ``given_patches`` on the model's device: each item keeps at least one
        patch to learn from."""
        if given is None:
            return None
        batch, count = patches.shape[:2]
        given = torch.as_tensor(given, device=self.start.device)
        if given.shape != (batch,) or given.is_floating_point():
            raise BackboneInputError(f"given_patches must be ({batch},) integers, got "
                                     f"{tuple(given.shape)} {given.dtype}")
        if bool((given < 0).any()) or bool((given >= count).any()):
            raise BackboneInputError(f"given_patches must leave each item at least one of its "
                                     f"{count} patches to learn from, got {given.tolist()}")
        return given

    def _noisy_history(self, patches: torch.Tensor, generator: torch.Generator | None,
                       given: torch.Tensor | None = None) -> torch.Tensor:
        """``patches`` with each item's noise of std ``U(0, history_noise)``; no draws at 0,
        so a seed gives the same training as before the option existed. Given patches (a
        prompt: a recording, not the stream's own samples) stay clean."""
        if self.config.history_noise == 0.0:
            return patches
        batch, count = patches.shape[:2]
        sigma = self.config.history_noise * uniform((batch,), generator, patches.device)
        noise = sigma.view(batch, 1, 1, 1) * normal(patches.shape, generator, patches.device)
        if given is not None:
            made = torch.arange(count, device=patches.device) >= given[:, None]
            noise = noise * made.view(batch, count, 1, 1)
        return patches + noise.to(patches.dtype)

    def _select_patches(self, valid: torch.Tensor, generator: torch.Generator | None,
                        keep_ratio: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        scores = uniform(valid.shape, generator, valid.device).masked_fill(~valid, -1.0)
        ratio = self.config.patch_keep_ratio if keep_ratio is None else keep_ratio
        if not 0.0 < ratio <= 1.0:
            raise BackboneInputError(f"patch_keep_ratio must be in (0, 1], got {ratio}")
        keep = max(1, round(ratio * int(valid.sum())))
        chosen = scores.flatten().topk(keep).indices
        return chosen // valid.shape[1], chosen % valid.shape[1]

    def _training_context(self, patches: torch.Tensor, item: torch.Tensor,
                          step: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``context_patches`` patches before each selected one; missing ones invalid."""
        context_patches = self.context_patches
        padded = F.pad(patches, (0, 0, 0, 0, context_patches, 0))
        index = step[:, None] + torch.arange(context_patches, device=step.device)
        context = padded[item[:, None], index].flatten(1, 2)
        exists = index >= context_patches
        return context, exists.repeat_interleave(self.patch_frames, dim=1)

    def _sample_times(self, count: int, generator: torch.Generator | None,
                      device: torch.device) -> torch.Tensor:
        if self.config.time_distribution == "logit-normal":
            times = torch.sigmoid(normal((count,), generator, device))
        else:
            times = uniform((count,), generator, device)
        return shifted(times, self.config.time_shift)

    # ------------------------------------------------------------------ streaming

    make_conditions = staticmethod(make_conditions)

    def init_state(self, batch_size: int, conditions: Conditions | None = None
                   ) -> CausalDiTState:
        """A fresh generation state: text encoded once, video (if any) buffered."""
        if batch_size < 1:
            raise BackboneInputError(f"batch_size must be at least 1, got {batch_size}")
        device = self.start.device
        return CausalDiTState(
            batch_size=batch_size,
            cache=self.lm.empty_cache(batch_size, self.config.attention_window, device,
                                      self._dtype),
            text=self._text_memory(conditions, batch_size),
            video=self._video_buffer(conditions, batch_size),
            context=torch.zeros(batch_size, 0, self.latent_dim, device=device,
                                dtype=self._dtype))

    def push_video(self, state: CausalDiTState, features: torch.Tensor, times: torch.Tensor,
                   valid: torch.Tensor | None = None) -> CausalDiTState:
        """Add frames that arrived (live video). Push every frame with a timestamp at or
        before a patch's end time before calling :meth:`step` for that patch."""
        pushed = self._video_buffer(Conditions(video=features, video_times=times,
                                               video_mask=valid), state.batch_size)
        buffer = state.video
        if buffer.frames:
            check_frame_times(torch.cat((buffer.times[:, -1:], pushed.times), 1),
                              (state.batch_size, pushed.frames + 1))
        return state.evolve(video=VideoBuffer(
            features=torch.cat((buffer.features, pushed.features), 1),
            times=torch.cat((buffer.times, pushed.times), 1),
            valid=torch.cat((buffer.valid, pushed.valid), 1)))

    def step(self, previous: torch.Tensor | None,
             state: CausalDiTState) -> tuple[torch.Tensor, CausalDiTState]:
        """Advance the LM: ``h`` ``(B, n, width)`` for the next ``n`` patches, and the new state.

        ``previous`` is ``None`` on the first call (the start token, ``n = 1``), then the
        latents ``(B, n·patch_frames, latent_dim)`` of the last ``n`` generated (or given)
        patches. The step writes into the KV cache the state shares with the one returned, so
        the state passed in is consumed: clone() it first to step it again.
        """
        tokens, patches = self._step_tokens(previous, state)
        return self._advance_lm(tokens, patches, state)

    def prime(self, state: CausalDiTState, prompt: torch.Tensor
              ) -> tuple[torch.Tensor, CausalDiTState]:
        """``step(None, state)`` then ``step(prompt, ...)`` in one LM pass, from a fresh state:
        ``h`` ``(B, 1 + n, width)``, the last row for the patch after the prompt's ``n``
        patches (latents ``(B, n·patch_frames, latent_dim)``). A stream that continues a prompt
        reads the LM's weights once instead of twice, which on a CPU is most of a step's time.
        """
        if state.position:
            raise BackboneInputError("prime() starts a stream from a fresh state (init_state); "
                                     f"this one is at patch {state.position}")
        tokens, patches = self._patch_tokens(prompt, state.batch_size)
        start = self.start.expand(state.batch_size, 1, -1)
        return self._advance_lm(torch.cat((start, tokens), 1), patches, state)

    def _advance_lm(self, tokens: torch.Tensor, patches: torch.Tensor | None,
                    state: CausalDiTState) -> tuple[torch.Tensor, CausalDiTState]:
        """``tokens`` ``(B, n, width)`` through the LM from the state's position on (video
        added per patch), ``patches`` (their latents, if any) appended to the context."""
        count = tokens.shape[1]
        video_tokens, index = self._video_tokens(state.video, state.position, count)
        positions = torch.arange(state.position, state.position + count)
        h, cache = self.lm(tokens + video_tokens, positions,
                           cached_mask(self.config.attention_window), text=state.text,
                           query_seqlens=[count] * state.batch_size, cache=state.cache,
                           backend=self._backend)
        h = self._add_summary(h, state.text)
        context = state.context
        if patches is not None and self.config.context_frames:
            context = torch.cat((context, patches), 1)[:, -self.config.context_frames:]
        return h, state.evolve(cache=cache, video=_drop_used_frames(state.video, index[:, -1]),
                               context=context)

    def _step_tokens(self, previous: torch.Tensor | None,
                     state: CausalDiTState) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch = state.batch_size
        if previous is None:
            if state.position:
                raise BackboneInputError("step(None, state) only starts a stream; pass the "
                                         "previous patch's latents from the second step on")
            return self.start.expand(batch, 1, -1), None
        if state.position == 0:
            raise BackboneInputError("the first step has no previous patch: call "
                                     "step(None, state)")
        return self._patch_tokens(previous, batch)

    def _patch_tokens(self, previous: torch.Tensor,
                      batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """LocEnc tokens ``(B, n, width)`` of ``n`` whole patches, and the patches' latents."""
        frames = self.patch_frames
        if (previous.dim() != 3 or previous.shape[0] != batch or previous.shape[1] % frames
                or previous.shape[1] == 0 or previous.shape[2] != self.latent_dim):
            raise BackboneInputError(f"previous patches must have shape ({batch}, "
                                     f"n·{frames}, {self.latent_dim}), "
                                     f"got {tuple(previous.shape)}")
        patches = previous.to(self.start.device, self._dtype)
        count = patches.shape[1] // frames
        encoded = self.locenc(patches.reshape(batch * count, frames, -1), self._backend)
        return encoded.view(batch, count, -1), patches

    def patch_stepper(self, sampler: Any, *, w1: float, w2: float, reference: float = 0.0,
                      compile: dict[str, Any] | None = None) -> PatchStepper:
        """The whole per-patch step with fixed shapes (see :mod:`.captured`), for
        :meth:`swansphere.pipeline.Pipeline.compile`."""
        from .captured import PatchStepper

        return PatchStepper(self, sampler, w1=w1, w2=w2, reference=reference,
                            compile=compile)

    def with_reference(self, state: CausalDiTState, reference: torch.Tensor,
                       valid: torch.Tensor | None = None) -> CausalDiTState:
        """``state`` whose rows follow ``reference`` ``(B, n >= reference_frames,
        latent_dim)`` (backbone-space latents: its first ``reference_frames`` frames) at every
        later patch; rows where ``valid (B,)`` is False have none. Needs ``reference_frames``."""
        if not self.config.reference_frames:
            raise BackboneInputError("this backbone takes no reference (reference_frames = 0)")
        batch = state.batch_size
        return state.evolve(reference=self._reference_frames(reference, batch),
                            reference_valid=self._reference_valid(valid, batch))

    def context(self, state: CausalDiTState) -> torch.Tensor | HeadContext:
        """The LocDiT context for the next patch: up to ``context_patches`` previous patches,
        with the stream's reference if it has one (:meth:`with_reference`)."""
        if state.reference is None:
            return state.context
        return HeadContext(state.context, state.reference, state.reference_valid)

    # ------------------------------------------------------------------ LocDiT

    def velocity(self, x: torch.Tensor, t: torch.Tensor, h: torch.Tensor | None,
                 context: torch.Tensor | HeadContext | None = None) -> torch.Tensor:
        """Velocity of the noisy current patch ``x (B, patch_frames, latent_dim)`` at ``t (B,)``.

        ``h`` ``(B, width)`` is the LM output for this patch and ``context`` ``(B, n, latent_dim)``
        its previous ``n <= context_patches·patch_frames`` frames (fewer at a stream's start),
        or a :class:`HeadContext` that adds a reference; ``None`` drops either (the learned
        null tokens, as in guidance training). The reference is seen with ``h`` only.
        """
        batch = x.shape[0]
        h_keep = torch.full((batch,), h is not None)
        if h is None:
            h = x.new_zeros(batch, self.h_dim)
        frames, reference, reference_valid = HeadContext.split(context)
        context, context_valid = self.pad_context(frames, batch, x)
        if reference_valid is not None:
            reference_valid = reference_valid & h_keep.to(reference_valid.device)
        return self.locdit(x, batch_times(t, batch, x), h, h_keep, context, context_valid,
                           self._backend, **_reference_inputs(reference, reference_valid))

    def guided_model(self, h: torch.Tensor, context: torch.Tensor | HeadContext | None = None
                     ) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        """A guided model ``model(x, t, condition)`` for :mod:`swansphere.samplers.guidance`.

        ``x`` stacks guidance branches along the batch (row ``r`` is item ``r % B``);
        ``condition`` says per row what it sees: ``NONE`` (null ``h``, null context),
        ``FIRST`` (the context only) or ``ALL`` (``h`` and the context). So the paper's
        ``v_u + w1·(v_c1 − v_u) + w2·(v_all − v_c1)`` scales the pull of the previous audio by
        ``w1`` and that of the LM (text, video, history) by ``w2``. A reference (a
        :class:`HeadContext`'s) goes with ``h``: ``ALL`` rows only, so ``w2`` pulls towards it;
        ``UNREFERENCED`` rows see everything but the reference (reference guidance).
        """
        frames, reference, reference_valid = HeadContext.split(context)
        context, context_valid = self.pad_context(frames, h.shape[0], h)
        return self.guided_over(h, context, context_valid, self._backend, reference,
                                reference_valid)

    def guided_over(self, h: torch.Tensor, context: torch.Tensor, context_valid: torch.Tensor,
                    backend: str, reference: torch.Tensor | None = None,
                    reference_valid: torch.Tensor | None = None
                    ) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        """:meth:`guided_model` over a full-length ``context (B, context_frames, D)`` whose
        frames ``context_valid (B, context_frames)`` marks (the fixed-shape form), and the
        reference ``(B, reference_frames, D)`` of rows where ``reference_valid (B,)``."""
        batch = h.shape[0]

        def model(x: torch.Tensor, t: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
            repeats = x.shape[0] // batch
            condition = condition.to(x.device)
            references = None if reference is None else reference.repeat(repeats, 1, 1)
            keep = (None if reference_valid is None
                    else reference_valid.repeat(repeats) & (condition == ALL))
            return self.locdit(
                x, batch_times(t, x.shape[0], x), h.repeat(repeats, 1), condition >= ALL,
                context.repeat(repeats, 1, 1),
                context_valid.repeat(repeats, 1) & (condition >= FIRST).unsqueeze(-1),
                backend, **_reference_inputs(references, keep))

        return model

    def pad_context(self, context: torch.Tensor | None, batch: int,
                    like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-pad ``context`` to ``context_frames`` with invalid frames; None = all invalid."""
        frames = self.config.context_frames
        if context is None:
            context = like.new_zeros(batch, 0, self.latent_dim)
        available = context.shape[1]
        if available > frames or context.shape[0] != batch:
            raise BackboneInputError(f"context must have shape ({batch}, n <= {frames}, "
                                     f"{self.latent_dim}), got {tuple(context.shape)}")
        padded = F.pad(context.to(like.dtype), (0, 0, frames - available, 0))
        valid = torch.arange(frames, device=like.device) >= frames - available
        return padded, valid.expand(batch, frames)


@attrs.frozen
class HeadContext:
    """What LocDiT sees of a stream besides ``h``: the previous ``frames`` ``(B, n,
    latent_dim)`` and the ``reference`` ``(B, reference_frames, latent_dim)`` of the rows
    where ``reference_valid (B,)`` (:meth:`CausalDiT.context` of a stream with a reference)."""

    frames: torch.Tensor
    reference: torch.Tensor
    reference_valid: torch.Tensor

    @staticmethod
    def split(context: torch.Tensor | HeadContext | None
              ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """``(frames, reference, reference_valid)``; the last two ``None`` for plain frames."""
        if isinstance(context, HeadContext):
            return context.frames, context.reference, context.reference_valid
        return context, None, None


def _reference_inputs(reference: torch.Tensor | None,
                      keep: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """LocDiT's keyword arguments for a reference; none without one (its null tokens)."""
    return {} if reference is None else {"reference": reference, "reference_keep": keep}


def _drop_used_frames(buffer: VideoBuffer, last_index: torch.Tensor) -> VideoBuffer:
    """Forget frames no later patch can use: those before each item's latest used frame."""
    if buffer.frames == 0:
        return buffer
    first_pending = torch.where(buffer.valid.any(-1), buffer.valid.to(torch.int8).argmax(-1),
                                buffer.frames)
    needed = torch.where(last_index >= 0, last_index, first_pending)
    start = int(needed.min())
    if start == 0:
        return buffer
    return VideoBuffer(features=buffer.features[:, start:], times=buffer.times[:, start:],
                       valid=buffer.valid[:, start:])
