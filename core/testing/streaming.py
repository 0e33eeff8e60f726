"""Streaming conformance suites: reusable checks for any component that streams over time.

A streaming component has an offline form (the whole input at once) and a streaming form with
explicit state (``state = init_state(batch)``; ``out, state = step(chunk, state)``). These checks
prove that the two agree and that the streaming form is honest (docs/testing-plugins.md):

1. causality by perturbation (:func:`check_causality`);
2. chunk-partition invariance, Hypothesis-drawn partitions down to one unit
   (:func:`check_chunk_partition_invariance`), including the declared-latency contract;
3. snapshot/restore replays exactly, reset equals a fresh state (:func:`check_snapshot_restore`,
   :func:`check_reset`);
4. batch independence (:func:`check_batch_independence`);
5. gradient causality for differentiable modules (:func:`check_gradient_causality`);
6. bounded state on long streams (:func:`check_bounded_state`).

Describe the component once as a :class:`StreamingAdapter`, then either call the functions or
subclass :class:`StreamingConformanceSuite` (or :class:`CodecConformanceSuite` for a
:class:`~swansphere.protocols.LatentCodec`) in a pytest module, in the manner of diffusers'
``SchedulerCommonTest``. Every failure raises :class:`StreamingConformanceError` (an
``AssertionError``) that says which property broke and where.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..errors import SwanSphereError
from ..protocols import LatentCodec
from .components import check_pipeline_ready

InputMaker = Callable[[int, int, torch.Generator], torch.Tensor]
"""``make_input(batch_size, length, generator)``: an input, ``length`` units on its time axis."""


class StreamingConformanceError(AssertionError):
    """A streaming component breaks one of the conformance properties."""


def _positive(_instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value}")


@attrs.frozen(kw_only=True)
class StreamingAdapter:
    """How the suites drive one streaming component.

    Time is counted in *units* along one axis of the input and one axis of the output: every
    ``input_hop`` input units give ``output_hop`` output units (an encoder with hop 256:
    ``input_hop=256, output_hop=1``; its decoder: ``input_hop=1, output_hop=256``). Output
    block ``k`` (units ``[k*output_hop, (k+1)*output_hop)``) may depend on input units before
    ``(k+1)*input_hop + lookahead`` only. Inputs and outputs carry the batch on axis 0.

    Attributes:
        offline: the whole input at once -> the whole output, ``output_length(n)`` units long.
        init_state: ``init_state(batch_size)`` -> a fresh streaming state.
        step: ``step(chunk, state) -> (output, state)``; chunks may have any length that is a
            multiple of ``chunk_unit`` (and 0 when ``allow_empty_chunks``).
        make_input: ``make_input(batch_size, length, generator)`` -> an input tensor.
        input_axis / output_axis: the time axis of inputs and of outputs.
        lookahead: input units an output may depend on beyond its own block (0: causal).
        chunk_unit: granularity of the chunk partitions (input units; default ``input_hop``).
        snapshot: copies a state so that it can be restored (default :func:`copy.deepcopy`).
        reset: optional ``reset(state) -> state``; must behave like a fresh state.
        flush: optional ``flush(state) -> output`` that emits what lookahead held back.
        differentiable: run the gradient-causality check (trainable modules).
        atol / rtol: tolerance when streamed and offline outputs are compared.
    """

    offline: Callable[[torch.Tensor], torch.Tensor]
    init_state: Callable[[int], Any]
    step: Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]
    make_input: InputMaker
    input_axis: int = -1
    output_axis: int = -1
    input_hop: int = attrs.field(default=1, validator=_positive)
    output_hop: int = attrs.field(default=1, validator=_positive)
    lookahead: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    chunk_unit: int | None = None
    snapshot: Callable[[Any], Any] = copy.deepcopy
    reset: Callable[[Any], Any] | None = None
    flush: Callable[[Any], torch.Tensor] | None = None
    allow_empty_chunks: bool = True
    differentiable: bool = True
    atol: float = 1e-5
    rtol: float = 1e-4

    @property
    def unit(self) -> int:
        """Chunk granularity in input units."""
        return self.chunk_unit or self.input_hop

    def output_length(self, input_length: int) -> int:
        """Output units the offline form gives for ``input_length`` input units."""
        return input_length // self.input_hop * self.output_hop

    def settled_output(self, consumed: int) -> int:
        """Output units that must be out once ``consumed`` input units went in (latency)."""
        return max(consumed - self.lookahead, 0) // self.input_hop * self.output_hop


# ---------------------------------------------------------------------------------- helpers


def _settings(max_examples: int) -> settings:
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _narrow(x: torch.Tensor, axis: int, start: int, length: int) -> torch.Tensor:
    return x.narrow(axis, start, length)


def _time_length(x: torch.Tensor, axis: int) -> int:
    return x.shape[axis]


def _fail(what: str, detail: str) -> StreamingConformanceError:
    return StreamingConformanceError(f"{what}: {detail}")


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, adapter: StreamingAdapter,
                  what: str) -> None:
    if actual.shape != expected.shape:
        raise _fail(what, f"shape {tuple(actual.shape)} != expected {tuple(expected.shape)}")
    try:
        torch.testing.assert_close(actual, expected, atol=adapter.atol, rtol=adapter.rtol)
    except AssertionError as error:
        raise _fail(what, str(error)) from None


def _assert_equal(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    if actual.shape != expected.shape or not torch.equal(actual, expected):
        diff = ((actual - expected).abs().max().item() if actual.shape == expected.shape
                else f"shapes {tuple(actual.shape)} vs {tuple(expected.shape)}")
        raise _fail(what, f"outputs are not bit-identical (max abs difference {diff})")


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _offline(adapter: StreamingAdapter, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        y = adapter.offline(x)
    expected = adapter.output_length(_time_length(x, adapter.input_axis))
    if _time_length(y, adapter.output_axis) != expected:
        raise _fail("offline output length",
                    f"{_time_length(x, adapter.input_axis)} input units gave "
                    f"{_time_length(y, adapter.output_axis)} output units, expected {expected}")
    return y


def _split(x: torch.Tensor, axis: int, sizes: Iterable[int]) -> list[torch.Tensor]:
    chunks, start = [], 0
    for size in sizes:
        chunks.append(_narrow(x, axis, start, size))
        start += size
    return chunks


def stream(adapter: StreamingAdapter, chunks: Iterable[torch.Tensor], state: Any,
           *, check_latency: bool = True) -> tuple[torch.Tensor, Any]:
    """Feed ``chunks`` through ``adapter.step``; the concatenated output and the final state.

    With ``check_latency``, every step must have emitted all the output that the input so far
    settles (no hidden latency beyond the declared lookahead).
    """
    outputs, consumed, emitted = [], 0, 0
    with torch.no_grad():
        for chunk in chunks:
            out, state = adapter.step(chunk, state)
            outputs.append(out)
            consumed += _time_length(chunk, adapter.input_axis)
            emitted += _time_length(out, adapter.output_axis)
            if check_latency and emitted < adapter.settled_output(consumed):
                raise _fail("latency", f"after {consumed} input units only {emitted} output "
                            f"units came out, {adapter.settled_output(consumed)} expected with "
                            f"lookahead {adapter.lookahead}")
        if adapter.flush is not None:
            outputs.append(adapter.flush(state))
    if not outputs:
        raise ValueError("stream() needs at least one chunk")
    return torch.cat(outputs, dim=adapter.output_axis), state


def state_size(state: Any) -> int:
    """Number of stored elements in a state: tensor and array elements, container entries.

    Walks mappings, sequences, sets, attrs classes, dataclasses and plain objects; used to check
    that a state stays bounded on long streams.
    """
    return _state_size(state, set())


def _state_size(obj: Any, seen: set[int]) -> int:
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return obj.numel()
    if isinstance(obj, np.ndarray):
        return obj.size
    if isinstance(obj, str | bytes | bytearray):
        return len(obj)
    if obj is None or isinstance(obj, int | float | bool | complex | torch.dtype | torch.device):
        return 1
    if isinstance(obj, Mapping):
        return len(obj) + sum(_state_size(v, seen) for v in obj.values())
    if isinstance(obj, list | tuple | set | frozenset):
        return len(obj) + sum(_state_size(v, seen) for v in obj)
    return sum(_state_size(v, seen) for v in _fields(obj))


def _fields(obj: Any) -> list[Any]:
    if attrs.has(type(obj)):
        return [getattr(obj, a.name) for a in attrs.fields(type(obj))]
    if dataclasses.is_dataclass(obj):
        return [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    values = list(getattr(obj, "__dict__", {}).values())
    for name in getattr(type(obj), "__slots__", ()):
        if hasattr(obj, name):
            values.append(getattr(obj, name))
    return values


def _partition(data: st.DataObject, total_units: int, allow_empty: bool) -> list[int]:
    """Chunk sizes (in units) that add up to ``total_units``; down to one unit, maybe empty."""
    low = 0 if allow_empty else 1
    high = total_units if allow_empty else total_units - 1
    if high < low:
        return [total_units]
    cuts = data.draw(st.lists(st.integers(low, high), max_size=total_units + 2,
                              unique=not allow_empty), label="cuts")
    edges = [0, *sorted(cuts), total_units]
    return [b - a for a, b in itertools.pairwise(edges)]


# ---------------------------------------------------------------------------------- checks


def check_causality(adapter: StreamingAdapter, *, max_blocks: int = 8, batch_size: int = 2,
                    max_examples: int = 10) -> None:
    """Changing the input from unit t on leaves the offline output before t − lookahead as is.

    Hypothesis draws the length, the cut t and the seeds; the output blocks that only see
    input before the cut (minus the declared lookahead) must not move at all (within the
    adapter's tolerance).
    """

    @_settings(max_examples)
    @given(blocks=st.integers(1, max_blocks), data=st.data(), seed=st.integers(0, 2**31 - 1))
    def run(blocks: int, data: st.DataObject, seed: int) -> None:
        length = blocks * adapter.input_hop
        cut = data.draw(st.integers(0, length - 1), label="cut")
        x = adapter.make_input(batch_size, length, _generator(seed))
        other = adapter.make_input(batch_size, length, _generator(seed + 1))
        tail = length - cut
        perturbed = torch.cat([_narrow(x, adapter.input_axis, 0, cut),
                               _narrow(other, adapter.input_axis, cut, tail)],
                              dim=adapter.input_axis)
        keep = adapter.settled_output(cut)
        y, y_perturbed = _offline(adapter, x), _offline(adapter, perturbed)
        _assert_close(_narrow(y_perturbed, adapter.output_axis, 0, keep),
                      _narrow(y, adapter.output_axis, 0, keep), adapter,
                      f"causality (input changed from unit {cut} on, output units before "
                      f"{keep} moved; lookahead {adapter.lookahead})")

    run()


def check_chunk_partition_invariance(adapter: StreamingAdapter, *, max_blocks: int = 8,
                                     batch_size: int = 2, max_examples: int = 10) -> None:
    """For Hypothesis-drawn chunk partitions (down to one unit) streamed equals offline.

    Also checks the latency contract: after each step, every output unit the input so far
    settles has been emitted. Without ``flush``, a component with lookahead may hold back
    the last ``lookahead`` units; the streamed output is then compared with the offline prefix.
    """

    @_settings(max_examples)
    @given(blocks=st.integers(1, max_blocks), data=st.data(), seed=st.integers(0, 2**31 - 1))
    def run(blocks: int, data: st.DataObject, seed: int) -> None:
        length = blocks * adapter.input_hop
        units = length // adapter.unit
        sizes = [s * adapter.unit for s in _partition(data, units, adapter.allow_empty_chunks)]
        sizes[-1] += length - units * adapter.unit
        x = adapter.make_input(batch_size, length, _generator(seed))
        expected = _offline(adapter, x)
        streamed, _ = stream(adapter, _split(x, adapter.input_axis, sizes),
                             adapter.init_state(batch_size))
        produced = _time_length(streamed, adapter.output_axis)
        total = _time_length(expected, adapter.output_axis)
        if produced > total or (adapter.flush is not None and produced != total):
            raise _fail("chunk partition", f"streaming gave {produced} output units for "
                        f"{length} input units; offline gave {total}")
        _assert_close(streamed, _narrow(expected, adapter.output_axis, 0, produced), adapter,
                      f"chunk partition {sizes}: streamed output differs from offline")

    run()


def check_snapshot_restore(adapter: StreamingAdapter, *, max_blocks: int = 8,
                           batch_size: int = 2, max_examples: int = 5) -> None:
    """A snapshot taken mid-stream, restored, replays the rest bit for bit."""

    @_settings(max_examples)
    @given(blocks=st.integers(2, max(max_blocks, 2)), data=st.data(),
           seed=st.integers(0, 2**31 - 1))
    def run(blocks: int, data: st.DataObject, seed: int) -> None:
        length = blocks * adapter.input_hop
        units = length // adapter.unit
        split = data.draw(st.integers(1, units - 1), label="split") * adapter.unit
        x = adapter.make_input(batch_size, length, _generator(seed))
        head = _narrow(x, adapter.input_axis, 0, split)
        rest = _split(_narrow(x, adapter.input_axis, split, length - split), adapter.input_axis,
                      _sizes(length - split, adapter.unit))
        _, state = stream(adapter, [head], adapter.init_state(batch_size), check_latency=False)
        saved = adapter.snapshot(state)
        first, _ = stream(adapter, rest, state, check_latency=False)
        replay, _ = stream(adapter, rest, adapter.snapshot(saved), check_latency=False)
        again, _ = stream(adapter, rest, saved, check_latency=False)
        _assert_equal(replay, first, "snapshot/restore (replay from a snapshot)")
        _assert_equal(again, first, "snapshot/restore (the snapshot changed after it was taken)")

    run()


def _sizes(length: int, unit: int) -> list[int]:
    """A fixed irregular partition: 1, 2, 3, ... units, the rest in the last chunk."""
    sizes, size = [], 1
    while sum(sizes) + size * unit <= length:
        sizes.append(size * unit)
        size += 1
    return [*sizes, length - sum(sizes)] if sum(sizes) < length else sizes


def check_reset(adapter: StreamingAdapter, *, blocks: int = 4, batch_size: int = 2,
                seed: int = 0) -> None:
    """A fresh (or reset) state after other use gives exactly what the first fresh state gave.

    Catches state hidden in the module (buffers, caches) and, when the adapter has ``reset``,
    checks that reset state behaves like a fresh one.
    """
    length = blocks * adapter.input_hop
    sizes = _sizes(length, adapter.unit)
    x = adapter.make_input(batch_size, length, _generator(seed))
    other = adapter.make_input(batch_size, length, _generator(seed + 7))
    first, _ = stream(adapter, _split(x, adapter.input_axis, sizes),
                      adapter.init_state(batch_size))
    _, used = stream(adapter, _split(other, adapter.input_axis, sizes),
                     adapter.init_state(batch_size))
    fresh, _ = stream(adapter, _split(x, adapter.input_axis, sizes),
                      adapter.init_state(batch_size))
    _assert_equal(fresh, first, "reset (a new state after other use behaves differently: "
                  "is state hidden in the module?)")
    if adapter.reset is not None:
        reset, _ = stream(adapter, _split(x, adapter.input_axis, sizes), adapter.reset(used))
        _assert_equal(reset, first, "reset (a reset state differs from a fresh one)")


def check_batch_independence(adapter: StreamingAdapter, *, blocks: int = 4, batch_size: int = 3,
                             seed: int = 0) -> None:
    """Each batch item's output depends on that item only, offline and streaming."""
    if batch_size < 2:
        raise ValueError("batch independence needs batch_size >= 2")
    length = blocks * adapter.input_hop
    sizes = _sizes(length, adapter.unit)
    x = adapter.make_input(batch_size, length, _generator(seed))
    changed = x.clone()
    changed[0] = adapter.make_input(1, length, _generator(seed + 1))[0]
    batched = _offline(adapter, x)
    streamed, _ = stream(adapter, _split(x, adapter.input_axis, sizes),
                         adapter.init_state(batch_size))
    for index in range(batch_size):
        alone = _offline(adapter, x[index:index + 1])
        _assert_close(batched[index:index + 1], alone, adapter,
                      f"batch independence (offline item {index} differs from running it alone)")
        _assert_close(streamed[index:index + 1], _narrow(alone, adapter.output_axis, 0,
                                                         _time_length(streamed,
                                                                      adapter.output_axis)),
                      adapter, f"batch independence (streamed item {index} differs from "
                      "running it alone)")
    _assert_close(_offline(adapter, changed)[1:], batched[1:], adapter,
                  "batch independence (changing item 0 moved the other items)")


def check_gradient_causality(adapter: StreamingAdapter, *, blocks: int = 6, batch_size: int = 2,
                             seed: int = 0) -> None:
    """The gradient of output block k is zero on inputs after (k+1)·hop + lookahead.

    It must also be non-zero somewhere before that limit, so that the check can fail.
    """
    length = blocks * adapter.input_hop
    x = adapter.make_input(batch_size, length, _generator(seed)).detach().requires_grad_(True)
    y = adapter.offline(x)
    weights = torch.randn(y.shape, generator=_generator(seed + 1), dtype=y.dtype)
    for block in range(blocks):
        limit = min((block + 1) * adapter.input_hop + adapter.lookahead, length)
        selected = _narrow(y * weights, adapter.output_axis, block * adapter.output_hop,
                           adapter.output_hop)
        (grad,) = torch.autograd.grad(selected.sum(), x, retain_graph=True)
        future = _narrow(grad, adapter.input_axis, limit, length - limit)
        if future.numel() and bool(future.abs().amax() > 0):
            per_unit = future.abs().movedim(adapter.input_axis, 0).flatten(1).sum(1)
            first = int(torch.nonzero(per_unit)[0, 0]) + limit
            raise _fail("gradient causality", f"output block {block} has a gradient on input "
                        f"unit {first}, after its limit {limit} (lookahead {adapter.lookahead})")
        if not bool(_narrow(grad, adapter.input_axis, 0, limit).abs().amax() > 0):
            raise _fail("gradient causality", f"output block {block} has no gradient on any "
                        "input at all; the check would be vacuous")


def check_bounded_state(adapter: StreamingAdapter, *, steps: int = 32, chunk_blocks: int = 1,
                        batch_size: int = 1, seed: int = 0) -> None:
    """The state does not grow with stream length (only a receptive field is kept).

    Streams ``steps`` chunks of ``chunk_blocks`` hops; the state measured by :func:`state_size`
    in the second half of the stream may not exceed its largest size in the first half. Make
    ``steps`` long enough for windows (a rolling KV cache) to fill in the first half.
    """
    chunk = chunk_blocks * adapter.input_hop
    generator = _generator(seed)
    state = adapter.init_state(batch_size)
    sizes = []
    with torch.no_grad():
        for _ in range(steps):
            _, state = adapter.step(adapter.make_input(batch_size, chunk, generator), state)
            sizes.append(state_size(state))
    half = steps // 2
    if max(sizes[half:]) > max(sizes[:half]):
        raise _fail("bounded state", f"the state keeps growing with the stream: sizes "
                    f"{sizes[0]} -> {sizes[half - 1]} -> {sizes[-1]} elements over {steps} steps")


# ---------------------------------------------------------------------------------- mixins


class StreamingConformanceSuite:
    """pytest mixin: subclass it in a ``Test...`` class and implement :meth:`make_adapters`.

    Example::

        class TestMyFilter(StreamingConformanceSuite):
            def make_adapters(self):
                f = MyCausalFilter()
                return {"filter": StreamingAdapter(
                    offline=f, init_state=f.init_state, step=f.step,
                    make_input=lambda b, n, g: torch.randn(b, 1, n, generator=g))}

    Class attributes tune the effort (keep them small on CPU).
    """

    max_examples: int = 10
    max_blocks: int = 8
    batch_size: int = 2
    bounded_state_steps: int = 32

    def make_adapters(self) -> Mapping[str, StreamingAdapter]:
        """Name -> adapter for every stream of the component under test."""
        raise NotImplementedError("implement make_adapters() in your test class")

    def _each(self, check: Callable[..., None], **kwargs: Any) -> None:
        for name, adapter in self.make_adapters().items():
            try:
                check(adapter, **kwargs)
            except StreamingConformanceError as error:
                raise StreamingConformanceError(f"[{name}] {error}") from None

    def test_streaming_causality(self) -> None:
        self._each(check_causality, max_blocks=self.max_blocks, batch_size=self.batch_size,
                   max_examples=self.max_examples)

    def test_streaming_chunk_partition_invariance(self) -> None:
        self._each(check_chunk_partition_invariance, max_blocks=self.max_blocks,
                   batch_size=self.batch_size, max_examples=self.max_examples)

    def test_streaming_snapshot_restore(self) -> None:
        self._each(check_snapshot_restore, max_blocks=self.max_blocks,
                   batch_size=self.batch_size, max_examples=max(self.max_examples // 2, 1))

    def test_streaming_reset_equals_fresh_state(self) -> None:
        self._each(check_reset, batch_size=self.batch_size)

    def test_streaming_batch_independence(self) -> None:
        self._each(check_batch_independence, batch_size=max(self.batch_size, 2))

    def test_streaming_gradient_causality(self) -> None:
        adapters = {n: a for n, a in self.make_adapters().items() if a.differentiable}
        for name, adapter in adapters.items():
            try:
                check_gradient_causality(adapter, batch_size=self.batch_size)
            except StreamingConformanceError as error:
                raise StreamingConformanceError(f"[{name}] {error}") from None

    def test_streaming_state_is_bounded(self) -> None:
        self._each(check_bounded_state, steps=self.bounded_state_steps)


def codec_adapters(codec: LatentCodec, *, atol: float = 1e-4, rtol: float = 1e-4,
                   latent_scale: float = 1.0) -> dict[str, StreamingAdapter]:
    """The encoder and decoder of a streaming codec as :class:`StreamingAdapter` objects.

    The encoder streams audio ``(batch, 4, samples)`` (chunks of any sample count) into
    latents ``(batch, frames, dim)``; the decoder streams latents back, one frame at a time or
    more. The decoder's lookahead is ``codec.decode_lookahead`` (frames).
    """
    hop = codec.hop_length

    def audio(batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        return 0.5 * torch.randn(batch, 4, length, generator=generator)

    def latents(batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        return latent_scale * torch.randn(batch, length, codec.latent_dim, generator=generator)

    common = {"atol": atol, "rtol": rtol}
    encoder = StreamingAdapter(
        offline=codec.encode, init_state=codec.init_encode_state, step=codec.encode_step,
        make_input=audio, input_axis=-1, output_axis=1, input_hop=hop, output_hop=1,
        lookahead=codec.lookahead, chunk_unit=1, **common)
    decoder = StreamingAdapter(
        offline=codec.decode, init_state=codec.init_decode_state, step=codec.decode_step,
        make_input=latents, input_axis=1, output_axis=-1, input_hop=1, output_hop=hop,
        lookahead=codec.decode_lookahead, chunk_unit=1, **common)
    return {"encode": encoder, "decode": decoder}


class CodecConformanceSuite(StreamingConformanceSuite):
    """pytest mixin for a :class:`~swansphere.protocols.LatentCodec`: implement :meth:`make_codec`.

    Runs every streaming check on the encoder and on the decoder, plus the codec contract:
    metadata, shapes, a :class:`~swansphere.SwanSphereError` for audio that is not
    ``(batch, 4, samples)``, and what a :class:`~swansphere.Pipeline` needs
    (:func:`~swansphere.testing.components.check_pipeline_ready`: no decoder lookahead). Set
    ``pipeline_ready = False`` for a codec not meant for pipelines (that test is skipped).
    """

    atol: float = 1e-4
    rtol: float = 1e-4
    pipeline_ready: bool = True

    def make_codec(self) -> LatentCodec:
        raise NotImplementedError("implement make_codec() in your test class")

    def make_adapters(self) -> Mapping[str, StreamingAdapter]:
        return codec_adapters(self.make_codec(), atol=self.atol, rtol=self.rtol)

    def test_codec_protocol(self) -> None:
        codec = self.make_codec()
        if not isinstance(codec, LatentCodec):
            raise StreamingConformanceError(f"{type(codec).__name__} lacks LatentCodec members")
        if abs(codec.frame_rate - codec.sample_rate / codec.hop_length) > 1e-9:
            raise StreamingConformanceError(
                f"frame_rate {codec.frame_rate} != sample_rate / hop_length "
                f"({codec.sample_rate} / {codec.hop_length})")

    def test_codec_shapes(self) -> None:
        codec = self.make_codec()
        frames, batch = 3, 2
        audio = torch.randn(batch, 4, frames * codec.hop_length + codec.hop_length // 2)
        with torch.no_grad():
            latents = codec.encode(audio)
            decoded = codec.decode(latents)
        if tuple(latents.shape) != (batch, frames, codec.latent_dim):
            raise StreamingConformanceError(
                f"encode gave {tuple(latents.shape)}, expected {(batch, frames, codec.latent_dim)}"
                " (floor(samples / hop_length) frames)")
        if tuple(decoded.shape) != (batch, 4, frames * codec.hop_length):
            raise StreamingConformanceError(
                f"decode gave {tuple(decoded.shape)}, expected "
                f"{(batch, 4, frames * codec.hop_length)}")
        if latents.dtype != torch.float32 or decoded.dtype != torch.float32:
            raise StreamingConformanceError("latents and audio must be float32")

    def test_codec_pipeline_ready(self) -> None:
        if not self.pipeline_ready:
            import pytest

            pytest.skip("pipeline_ready = False: not meant for a Pipeline")
        check_pipeline_ready(self.make_codec())

    def test_codec_rejects_bad_audio(self) -> None:
        codec = self.make_codec()
        for bad in (torch.zeros(1, 3, codec.hop_length), torch.zeros(4, codec.hop_length)):
            try:
                codec.encode(bad)
            except SwanSphereError:
                continue
            raise StreamingConformanceError(
                f"encode accepted audio of shape {tuple(bad.shape)}; raise a SwanSphereError "
                "subclass (AudioFormatError) for anything but (batch, 4, samples)")

    def test_codec_phase_guide(self) -> None:
        """A codec's optional phase guide: ``phase_guide(audio)`` gives ``(batch, frames, k)``
        phases framed as ``encode`` frames, or ``None`` (nothing to guide);
        ``guided_decode_step(latents, state, guide)`` decodes as ``decode_step`` where the guide
        is NaN, and alike however the frames and their guide are cut into chunks."""
        codec = self.make_codec()
        guide_of = getattr(codec, "phase_guide", None)
        if guide_of is None:
            import pytest

            pytest.skip("the codec has no phase_guide")
        generator = torch.Generator().manual_seed(0)
        audio = 0.3 * torch.randn(2, 4, 12 * codec.hop_length, generator=generator)
        with torch.no_grad():
            guide, latents = guide_of(audio), codec.encode(audio)
            if guide is None:
                return
            if tuple(guide.shape[:2]) != tuple(latents.shape[:2]):
                raise StreamingConformanceError(
                    f"phase_guide gave {tuple(guide.shape)} for {tuple(latents.shape)} latents; "
                    "one guide row per latent frame")
            state = codec.init_decode_state(2)
            plain = codec.decode_step(latents, state)[0]
            unguided = codec.guided_decode_step(latents, state,
                                                torch.full_like(guide, math.nan))[0]
            whole = codec.guided_decode_step(latents, state, guide)[0]
            first = codec.guided_decode_step(latents[:, :5], state, guide[:, :5])
            rest = codec.guided_decode_step(latents[:, 5:], first[1], guide[:, 5:])[0]
        if not torch.allclose(unguided, plain, atol=self.atol, rtol=self.rtol):
            raise StreamingConformanceError("a NaN phase guide decoded otherwise than "
                                            "decode_step")
        if not torch.allclose(torch.cat([first[0], rest], -1), whole, atol=self.atol,
                              rtol=self.rtol):
            raise StreamingConformanceError("guided decoding depends on how the frames are cut "
                                            "into chunks")

    def test_codec_skip_decode(self) -> None:
        """A codec's optional ``skip_decode(latents, state) -> state`` leaves the decoder where
        ``decode_step`` would: the next frames decode to the same audio from either state."""
        codec = self.make_codec()
        skip = getattr(codec, "skip_decode", None)
        if skip is None:
            import pytest

            pytest.skip("the codec has no skip_decode")
        generator = torch.Generator().manual_seed(0)
        first, then = (torch.randn(2, frames, codec.latent_dim, generator=generator)
                       for frames in (5, 3))
        with torch.no_grad():
            state = codec.init_decode_state(2)
            expected = codec.decode_step(then, codec.decode_step(first, state)[1])[0]
            got = codec.decode_step(then, skip(first, state))[0]
        if not torch.allclose(got, expected, atol=self.atol, rtol=self.rtol):
            raise StreamingConformanceError(
                "skip_decode left another state than decode_step: the next frames decode "
                f"{(got - expected).abs().max().item():.3g} apart")
