"""Where does a streaming model lose what a sound is? Identity with the true history given.

The content evaluation (:mod:`.content`) scores free generation, where every error feeds the
next patch. This probe takes a held-out clip of the named class instead, encodes it, and lets
the model sample each patch *given the clip's true patches before it* (teacher forcing at
inference: :func:`one_step_patches`). The clips it decodes, each identified among all classes
in the aisfx embedding (as in :mod:`.content`), separate the failures:

- ``codec``: the clip's own latents decoded (the codec's ceiling);
- ``one_step``: every patch sampled from the true history: what the per-patch head makes of
  a sound it is shown, with no drift;
- ``sampled <part>`` / ``true <part> only``: for codecs that name their latent parts
  (``config.latent_parts()``), the true latents with one part taken from the one-step
  samples, and the one-step samples with one part kept true: which part carries identity and
  which one the head fails on;
- ``continued``: free generation that continues the clip's first ``prime_seconds``
  (:meth:`~swansphere.pipeline.LiveSession.prime`), scored after the prompt;
- ``free``: free generation from the words alone;
- ``words_only``: every patch sampled from the words alone (and the video, if any), its audio
  history hidden from the LM and the per-patch head, as a model trained with
  ``history_dropout`` sees half its items (only for such a model): whether the words set the
  sound at all, or the stream's own history drowns them (:func:`words_only_patches`).

``benchmarks/identity_probe.py`` runs it; docs/evaluation.md gives its figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .content import ContentCase, References, _rank, rank_summary


def one_step_patches(pipeline: Any, text: str | None, latents: torch.Tensor,
                     seed: int = 0) -> torch.Tensor:
    """Backbone latents ``(1, frames, D)`` (whole patches) -> the same shape, each patch
    sampled by ``pipeline`` for ``text`` from the true patches before it."""
    frames = pipeline.backbone.patch_frames
    session = pipeline._open(pipeline.encode_inputs(text)[0], (seed,), None)
    sampled = []
    for start in range(0, latents.shape[1], frames):
        sampled.append(session.next_patches()[1])
        session.last_patch = latents[:, start:start + frames]  # the truth, not the sample
    return torch.cat(sampled, 1)


def words_only_patches(pipeline: Any, text: str | None, count: int,
                       seed: int = 0) -> torch.Tensor:
    """Backbone latents ``(1, count·patch_frames, D)``: each patch sampled as a stream's
    first one is (its sampler, guidance and noise draws; no per-patch context) but from ``h``
    of the words alone (``hidden_states(..., history=False)``; with every input the start
    token and no video, that ``h`` is the same at every position)."""
    backbone = pipeline.backbone
    session = pipeline._open(pipeline.encode_inputs(text)[0], (seed,), None)
    with torch.inference_mode():
        blank = torch.zeros(1, count * backbone.patch_frames, backbone.latent_dim)
        h = backbone.hidden_states(blank, pipeline.conditions(text), history=False)
        # the session never steps, so its context stays empty for every patch
        return torch.cat([session._sample_patch(h[:, step]) for step in range(count)], 1)


def words_only_states(pipeline: Any, texts: Sequence[str], position: int = 4) -> torch.Tensor:
    """``(len(texts), width)``: the LM's ``h`` at patch ``position`` for each caption with the
    audio history hidden (``hidden_states(..., history=False)``): what the per-patch head is
    given to make a sound from the words alone."""
    backbone = pipeline.backbone
    blank = torch.zeros(1, (position + 1) * backbone.patch_frames, backbone.latent_dim)
    with torch.inference_mode():
        return torch.cat([backbone.hidden_states(blank, pipeline.conditions(text),
                                                 history=False)[:, position]
                          for text in texts]).float()


def probe_case(pipeline: Any, references: References, embedding: Any, case: ContentCase,
               clip: torch.Tensor, *, prime_seconds: float = 1.0, seed: int = 0
               ) -> dict[str, int]:
    """The named class's rank (1 = identified) for every clip of the module doc, for one
    single-source ``case`` and one held-out mono ``clip`` of its class."""
    from swansphere.spatial import encode

    name, rate = case.classes[0], pipeline.sample_rate
    codec, scale = pipeline.codec, pipeline.config.latent_scale
    foa = encode(clip, *case.directions[0])[None]
    with torch.inference_mode():
        latents = codec.encode(foa) / scale
        whole = latents.shape[1] // pipeline.backbone.patch_frames
        latents = latents[:, :whole * pipeline.backbone.patch_frames]
        sampled = one_step_patches(pipeline, case.text, latents, seed)
        variants = {"codec": latents, "one_step": sampled}
        if getattr(pipeline.backbone.config, "history_dropout", 0.0) > 0:
            variants["words_only"] = words_only_patches(pipeline, case.text, whole, seed)
        parts = getattr(getattr(codec, "config", None), "latent_parts", None)
        for part, index in (parts() if parts else {}).items():
            variants[f"sampled {part}"] = _spliced(latents, sampled, index)
            variants[f"true {part} only"] = _spliced(sampled, latents, index)
        decoded = {key: codec.decode(value * scale)[0, 0] for key, value in variants.items()}
    prompt = round(prime_seconds * rate)
    seconds = clip.shape[-1] / rate - prime_seconds
    decoded["continued"] = pipeline.generate(case.text, duration=seconds, seed=seed,
                                             audio_prompt=foa[0, :, :prompt])[0]
    decoded["free"] = pipeline.generate(case.text, duration=seconds, seed=seed)[0]
    return {key: _rank(references, embedding, signal, name) for key, signal in decoded.items()}


def _spliced(base: torch.Tensor, donor: torch.Tensor, index: Any) -> torch.Tensor:
    spliced = base.clone()
    spliced[..., index] = donor[..., index]
    return spliced


def identity_probe(pipeline: Any, references: References, cases: Sequence[ContentCase], *,
                   embedding: Any, prime_seconds: float = 1.0, progress: bool = True
                   ) -> dict[str, Any]:
    """:func:`probe_case` over single-source ``cases`` (case ``i`` uses held-out clip ``i + 1``
    of its class, cycling, so it is seldom the clip its case's reference scene uses):
    top-1, top-5 and median rank per clip kind, with chance; JSON-ready."""
    from tqdm.auto import tqdm

    ranks: dict[str, list[int]] = {}
    for number, case in enumerate(tqdm(cases, desc="cases", disable=None if progress else True)):
        clips = references.clips[case.classes[0]]
        found = probe_case(pipeline, references, embedding, case,
                           clips[(number + 1) % len(clips)], prime_seconds=prime_seconds)
        for key, rank in found.items():
            ranks.setdefault(key, []).append(rank)
    classes = len(references.centroids.labels)
    summary = {key: rank_summary(r) for key, r in ranks.items()}
    return {"cases": len(cases), "classes": classes, "chance_top1": 1 / classes,
            "chance_top5": min(5, classes) / classes, "chance_median_rank": (classes + 1) / 2,
            "clips": summary}
