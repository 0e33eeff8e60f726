"""Built-in ``swansphere bench`` targets, registered through the ``swansphere.plugins``
entry point like any plugin's targets.

Each target is an ``add(targets)`` of :mod:`swansphere.evaluation.cli`; torch loads inside
the handlers.
"""

from __future__ import annotations

from swansphere import Extension, hookimpl

_TARGETS = (
    ("codec", "swansphere.evaluation.cli:add_codec_target",
     "codec speed (RTF, streaming steps) and round-trip quality"),
    ("pipeline", "swansphere.evaluation.cli:add_pipeline_target",
     "streaming first-chunk latency, RTF and memory vs the global baseline"),
    ("clips", "swansphere.evaluation.cli:add_clips_target",
     "a folder of generated clips for 'swansphere eval'"),
)


@hookimpl
def swansphere_register_bench_targets() -> list[Extension]:
    return [Extension(name=name, kind="bench_target", target=target, description=description)
            for name, target, description in _TARGETS]
