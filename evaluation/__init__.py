"""The evaluation harness, on top of the stack (``swansphere.evaluation``): ``swansphere eval``
and ``swansphere bench``, the global and cascade baselines, the content, codec and pipeline
benchmarks, and direction accuracy in caption words. The metrics themselves live in
:mod:`swansphere.metrics` (docs/evaluation.md).
"""
