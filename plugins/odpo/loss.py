"""Preference pairs and the flow-matching DPO loss (Diffusion-DPO for rectified flow).

For a pair (winner w, loser l) of clips of one input, with per-clip flow-matching losses
``L`` of the policy θ and of the frozen reference (the same noise, times and patches for all
four, :class:`PairScorer`)::

    loss = -log σ(-β/2 · [(L_w^θ - L_w^ref) - (L_l^θ - L_l^ref)])

A lower flow-matching loss is a higher likelihood, so the loss falls as the policy fits the
winner better and the loser worse than the reference does. At θ = ref it equals log 2, and its
gradient is β/4 · ∇(L_w^θ - L_l^θ): zero only when the two clips are the same.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn


def preference_pairs(rewards: torch.Tensor, *, mode: str = "best-worst", margin: float = 0.0,
                     max_pairs: int = 0) -> list[tuple[int, int]]:
    """(winner, loser) indices among one input's candidates scored ``rewards`` ``(K,)``.

    ``"best-worst"``: the highest against the lowest; ``"margin"``: every pair whose rewards
    differ by at least ``margin``, widest gaps first, at most ``max_pairs`` (0: all). A pair
    needs a strictly positive gap (ties say nothing); the first index wins ties of the best.
    """
    values = rewards.detach().to(torch.float64).cpu()
    if mode == "best-worst":
        best, worst = int(values.argmax()), int(values.argmin())
        gap = float(values[best] - values[worst])
        return [(best, worst)] if gap > 0 and gap >= margin else []
    if mode != "margin":
        raise ValueError(f"mode must be 'best-worst' or 'margin', got {mode!r}")
    gaps = values[:, None] - values[None, :]
    winners, losers = torch.nonzero((gaps > 0) & (gaps >= margin), as_tuple=True)
    order = gaps[winners, losers].argsort(descending=True, stable=True)
    pairs = [(int(winners[i]), int(losers[i])) for i in order]
    return pairs[:max_pairs] if max_pairs else pairs


@attrs.frozen(kw_only=True, eq=False)
class DPOTerms:
    """Per-pair pieces of the DPO loss (tensors of shape ``(P,)``)."""

    loss: torch.Tensor
    logits: torch.Tensor
    """``-β/2 · advantage``: the implicit reward margin of winner over loser."""
    policy_gap: torch.Tensor
    """``(L_w^θ - L_w^ref, L_l^θ - L_l^ref)`` stacked: ``(2, P)``."""

    def metrics(self) -> dict[str, float]:
        """``dpo_loss``, ``implicit_accuracy`` (share of pairs whose implicit reward prefers
        the winner), ``implicit_margin`` and ``implicit_kl`` (mean ``L^θ - L^ref`` over the
        pairs' clips: 0 at the reference, positive as the policy drifts from it on the clips
        it generates, negative when it fits them better)."""
        return {"dpo_loss": float(self.loss.detach().mean()),
                "implicit_accuracy": float((self.logits > 0).float().mean()),
                "implicit_margin": float(self.logits.mean()),
                "implicit_kl": float(self.policy_gap.mean()),
                "winner_gap": float(self.policy_gap[0].mean()),
                "loser_gap": float(self.policy_gap[1].mean())}


def flow_dpo_loss(policy_winner: torch.Tensor, policy_loser: torch.Tensor,
                  reference_winner: torch.Tensor, reference_loser: torch.Tensor,
                  beta: float) -> DPOTerms:
    """The flow-matching DPO loss of each pair (see the module doc), all inputs ``(P,)``."""
    winner_gap = policy_winner - reference_winner.detach()
    loser_gap = policy_loser - reference_loser.detach()
    logits = -0.5 * beta * (winner_gap - loser_gap)
    return DPOTerms(loss=-F.logsigmoid(logits), logits=logits.detach(),
                    policy_gap=torch.stack([winner_gap, loser_gap]).detach())


class PairScorer(nn.Module):
    """Per-clip flow-matching losses of winners and losers drawn with one seed.

    ``forward(winners, losers, conditions, seed, lengths, options)`` runs the backbone's loss
    on each, each time with a generator seeded ``seed``, so both see the same patches, times
    and noise (the policy and the frozen reference take the same seed too); ``options``, a
    pair of dicts, are more keyword arguments of the loss for the winners and the losers (a
    prompt's given patches and a reference, :func:`~.optimizer.heard_clips`). One forward
    computes both: wrapped in ``DistributedDataParallel`` it is one forward and one backward
    per step.
    """

    def __init__(self, backbone: nn.Module, *, condition_dropout: bool = False,
                 patch_keep_ratio: float | None = 1.0, noise_draws: int = 1) -> None:
        super().__init__()
        self.backbone = backbone
        self.condition_dropout = condition_dropout
        self.patch_keep_ratio = patch_keep_ratio
        self.noise_draws = noise_draws

    def forward(self, winners: torch.Tensor, losers: torch.Tensor, conditions: Any, seed: int,
                lengths: torch.Tensor | None = None,
                options: tuple[dict[str, Any], dict[str, Any]] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if winners.shape != losers.shape:
            raise ValueError(f"winners {tuple(winners.shape)} and losers "
                             f"{tuple(losers.shape)} must have one shape")
        winner_options, loser_options = options or ({}, {})
        return self.clip_losses(winners, conditions, seed, lengths, **winner_options), \
            self.clip_losses(losers, conditions, seed, lengths, **loser_options)

    def clip_losses(self, latents: torch.Tensor, conditions: Any, seed: int,
                    lengths: torch.Tensor | None = None, **options: Any) -> torch.Tensor:
        """``(B,)`` flow-matching losses of clips ``latents (B, frames, dim)`` at ``seed``: the
        mean over ``noise_draws`` draws of times and noise, taken in turn from one generator;
        ``options`` go to the backbone's loss as they are.

        A pair's DPO logit is a small difference of two such losses; averaging several draws
        shrinks the noise of that difference (and of its gradient) where one draw leaves the
        update mostly noise.
        """
        generator = torch.Generator().manual_seed(seed)
        draws = [self.backbone.loss(latents, conditions, generator, lengths, reduction="none",
                                    condition_dropout=self.condition_dropout,
                                    patch_keep_ratio=self.patch_keep_ratio, **options)
                 for _ in range(self.noise_draws)]
        return torch.stack(draws).mean(dim=0)


@torch.no_grad()
def velocity_divergence(policy: Any, reference: Any, latents: torch.Tensor, conditions: Any,
                        generator: torch.Generator) -> float:
    """Mean squared difference (per element) of the two backbones' velocities at the same noisy
    points of every patch of ``latents`` ``(B, frames, dim)``, teacher-forced.

    For flows turned into SDEs, the KL between the path measures of two models is a weighted
    integral of exactly this gap, so it is the reference-KL proxy that guards against reward
    hacking: 0 at the reference, growing as the policy leaves it. Times are uniform and noise
    Gaussian, drawn from ``generator``.
    """
    frames = policy.patch_frames
    count = latents.shape[1] // frames
    h_policy = policy.hidden_states(latents, conditions)
    h_reference = reference.hidden_states(latents, conditions)
    total = 0.0
    for index in range(count):
        start = index * frames
        target = latents[:, start:start + frames]
        context = latents[:, max(0, start - policy.context_patches * frames):start]
        time = torch.rand(target.shape[0], generator=generator).to(target)
        noise = torch.randn(target.shape, generator=generator).to(target)
        noisy = time[:, None, None] * target + (1 - time[:, None, None]) * noise
        gap = (policy.velocity(noisy, time, h_policy[:, index], context)
               - reference.velocity(noisy, time, h_reference[:, index], context))
        total += float(gap.float().square().mean())
    return total / max(count, 1)
