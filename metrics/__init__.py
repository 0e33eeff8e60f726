"""Metrics of generated FOA that components below the evaluation harness need too
(``swansphere.metrics``): the paper's direction errors with one policy for clips without a
direction, solid-angle-weighted energy-map correlation (:mod:`.direction`), and the Fréchet
distance of embedding sets (:mod:`.frechet`). Rewards, trainers and benchmarks import them
from here; docs/evaluation.md gives the formulas.
"""
