"""ODPO: multi-objective online preference optimisation of the causal diffusion transformer.

Per input the current model samples K candidates, reward plugins score them
(:mod:`.rewards`, weighted as in the paper: 0.4 spatial, 0.4 semantic, 0.2 fidelity), the best
and worst (or every pair above a margin) form preference pairs, and a flow-matching DPO loss
against a frozen reference copy updates the model (both in :mod:`.loss`), in online rounds
(:mod:`.optimizer`). :mod:`.text_audio` is the small text-audio contrastive model the semantic
reward uses for prompts; :mod:`.trainer` is the ``odpo`` training task and :mod:`.hooks`
registers all of it. Configs live in :mod:`.config` (torch-free);
torch loads only when the other submodules are imported.
"""
