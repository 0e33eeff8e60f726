"""Built-in ``swansphere`` subcommands, registered through the ``swansphere.plugins`` entry
point like any plugin's commands.

Each target is a light module's ``register(subparsers)``; torch loads inside the handlers.
"""

from __future__ import annotations

from swansphere import Extension, hookimpl

_COMMANDS = (
    ("generate", "swansphere.generate_cli:register", "generate and stream AmbiX audio"),
    ("train", "swansphere.training.cli:register", "train what a TOML config names"),
    ("eval", "swansphere.evaluation.eval_command:register",
     "score generated clips against references"),
    ("bench", "swansphere.evaluation.cli:register", "benchmarks: speed and quality"),
    ("data", "swansphere.data.cli:register",
     "sound sources, scene simulation, shards, and captions of FOA files"),
    ("spatial", "swansphere.spatial.cli:register", "AmbiX (FOA) toolkit"),
    ("demo", "swansphere.demo.cli:register", "web demo (needs the demo extra)"),
)


@hookimpl
def swansphere_register_commands() -> list[Extension]:
    return [Extension(name=name, kind="command", target=target, description=description)
            for name, target, description in _COMMANDS]
