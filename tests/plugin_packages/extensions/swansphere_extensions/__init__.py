"""A third-party plugin that extends every table: a trainable codec, a ``hello`` command, a
``count`` training task and an ``echo`` bench target.

This module stays light: the records name their targets as ``"module:attribute"`` strings
(imported only when used), and the codec's torch code loads inside its factory.
"""

import attrs

import swansphere


@attrs.frozen(kw_only=True)
class LinearCodecConfig:
    sample_rate: int = 16000
    hop_length: int = 16
    latent_dim: int = 8


def _linear_codec(config: LinearCodecConfig):
    from swansphere_extensions.codec import LinearCodec

    return LinearCodec(config)


@swansphere.hookimpl
def swansphere_register_codecs():
    yield swansphere.Component(
        name="linear", kind="codec", factory=_linear_codec, config_class=LinearCodecConfig,
        description="one learned linear map per hop, each way (extensions plugin)")


@swansphere.hookimpl
def swansphere_register_commands():
    yield swansphere.Extension(
        name="hello", kind="command", target="swansphere_extensions.cli:register",
        description="greets, and counts the registered codecs (extensions plugin)")


@swansphere.hookimpl
def swansphere_register_training_tasks():
    yield swansphere.Extension(
        name="count", kind="training_task", target="swansphere_extensions.tasks:TASK",
        description="counts to run.steps (extensions plugin)")


@swansphere.hookimpl
def swansphere_register_bench_targets():
    yield swansphere.Extension(
        name="echo", kind="bench_target", target="swansphere_extensions.cli:add_echo_target",
        description="prints its argument as a one-row table (extensions plugin)")
