"""Training logs for spreadsheets and TensorBoard: ``metrics.csv`` and ``events.out.tfevents.*``.

Both sit next to ``metrics.jsonl`` (the source of truth, :class:`~swansphere.training.loop.
MetricsLog`) and carry the same entries:

- :class:`CSVLog`: one table, one row per logged entry, columns ``step, split`` then the metric
  names in the order they first appeared. Train and validation rows share the table (a
  validation row leaves the train columns empty and the other way round). When an entry brings
  a name the header lacks, the whole file is rewritten atomically with the union of the
  columns, so the file is a valid CSV at every moment.
- :class:`EventsLog`: TensorBoard scalars, tag ``<split>/<name>`` (``train/loss``,
  ``validation/val_loss``), written by our own encoder: TFRecord framing (length, masked
  CRC-32C of the length, data, masked CRC-32C of the data) around hand-encoded ``Event`` /
  ``Summary`` protobuf messages. No tensorflow or tensorboard at run time.

Resume: each run (fresh or resumed) writes a new events file that opens with a
``SessionLog.START`` event at the first step the run will log after its checkpoint. That is
TensorBoard's own restart signal: it discards every scalar at that step or later read from the
older files (what a crashed run logged past its last checkpoint), so the curves stay those of
one uninterrupted run. :func:`read_scalars` applies the same rule.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import socket
import struct
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from swansphere.codecs.weights import atomic_write

CSV_FILE = "metrics.csv"
EVENTS_PREFIX = "events.out.tfevents."
FILE_VERSION = "brain.Event:2"
SESSION_START = 1
_KEY_COLUMNS = ("step", "split")
_FLOAT32_MAX = 3.4028234663852886e38
_STAMP = re.compile(re.escape(EVENTS_PREFIX) + r"(\d+)")

# ------------------------------------------------------------------------------ CSV


class CSVLog:
    """``metrics.csv``: a row per entry; new metric names widen the header atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def columns(self) -> list[str]:
        """The header of the file (``step, split`` only when there is no file yet)."""
        if not self.path.is_file():
            return list(_KEY_COLUMNS)
        with self.path.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), list(_KEY_COLUMNS))

    def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
        row = {"step": step, "split": split, **metrics}
        columns = self.columns()
        if self.path.is_file() and set(row) <= set(columns):
            with self.path.open("a", newline="", encoding="utf-8") as handle:
                csv.DictWriter(handle, columns, lineterminator="\n").writerow(row)
            return
        widened = columns + [name for name in row if name not in columns]
        self._rewrite(widened, [*self.read_raw(), row])

    def read_raw(self) -> list[dict[str, str]]:
        """Rows as written (strings; empty cells left out)."""
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as handle:
            return [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]

    def read(self) -> list[dict[str, Any]]:
        """Rows with ``step`` as int, ``split`` as str and metrics as floats."""
        return [{"step": int(row.pop("step")), "split": row.pop("split"),
                 **{name: float(value) for name, value in row.items()}}
                for row in self.read_raw()]

    def replace(self, entries: list[Mapping[str, Any]]) -> None:
        """Rewrite the file to hold exactly ``entries`` (``step``, ``split`` and metrics)."""
        columns = list(_KEY_COLUMNS)
        for entry in entries:
            columns += [name for name in entry if name not in columns]
        self._rewrite(columns, list(entries))

    def truncate_after(self, step: int) -> None:
        """Drop rows past ``step``, as :meth:`MetricsLog.truncate_after` does for JSON lines."""
        if self.path.is_file():
            self._rewrite(self.columns(), [row for row in self.read_raw()
                                           if int(row["step"]) <= step])

    def _rewrite(self, columns: list[str], rows: list[Mapping[str, Any]]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, lambda temp: temp.write_text(buffer.getvalue(), "utf-8"))


# ------------------------------------------------------------------------------ CRC-32C


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ (0x82F63B78 if value & 1 else 0)
        table.append(value)
    return tuple(table)


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord files use."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant (mod 2^32)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc32c(length)) + data
            + struct.pack("<I", masked_crc32c(data)))


def read_tfrecords(path: str | Path) -> Iterator[bytes]:
    """The records of a TFRecord file, checking both CRCs; a torn last record is skipped
    (a run that was killed mid-write)."""
    data = Path(path).read_bytes()
    offset = 0
    while offset + 12 <= len(data):
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        end = offset + 12 + length + 4
        if end > len(data):
            return
        if header_crc != masked_crc32c(header):
            raise ValueError(f"{path}: corrupt record length at byte {offset}")
        payload = data[offset + 12:offset + 12 + length]
        if struct.unpack("<I", data[end - 4:end])[0] != masked_crc32c(payload):
            raise ValueError(f"{path}: corrupt record data at byte {offset}")
        yield payload
        offset = end


# ------------------------------------------------------------------------------ protobuf

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64: negatives as ten-byte two's complement
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + payload


def _message(number: int, payload: bytes) -> bytes:
    return _field(number, _BYTES, _varint(len(payload)) + payload)


def encode_event(*, wall_time: float, step: int = 0, file_version: str | None = None,
                 scalars: Mapping[str, float] | None = None,
                 session_start: bool = False) -> bytes:
    """An ``Event`` message: wall_time (1), step (2) and one of file_version (3), a
    ``Summary`` (5) of ``simple_value`` scalars, or a ``SessionLog`` (7) with status START."""
    out = _field(1, _FIXED64, struct.pack("<d", wall_time)) + _field(2, _VARINT, _varint(step))
    if file_version is not None:
        out += _message(3, file_version.encode())
    if scalars:
        values = b"".join(_message(1, _message(1, tag.encode())
                                   + _field(2, _FIXED32, struct.pack("<f", value)))
                          for tag, value in scalars.items())
        out += _message(5, values)
    if session_start:
        out += _message(7, _field(1, _VARINT, _varint(SESSION_START)))
    return out


def _parse(data: bytes) -> dict[int, list[Any]]:
    """Fields of one protobuf message: number -> values (ints, or raw bytes for fixed and
    length-delimited fields)."""
    fields: dict[int, list[Any]] = {}
    offset = 0

    def varint() -> int:
        nonlocal offset
        value = shift = 0
        while True:
            byte = data[offset]
            offset += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while offset < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value: Any = varint()
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            value, offset = data[offset:offset + size], offset + size
        elif wire == _BYTES:
            size = varint()
            value, offset = data[offset:offset + size], offset + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def decode_event(data: bytes) -> dict[str, Any]:
    """The parts of an ``Event`` that :func:`encode_event` writes."""
    fields = _parse(data)
    step = fields.get(2, [0])[-1]
    event: dict[str, Any] = {
        "wall_time": struct.unpack("<d", fields[1][-1])[0] if 1 in fields else 0.0,
        "step": step - (1 << 64) if step >= 1 << 63 else step, "scalars": {}}
    if 3 in fields:
        event["file_version"] = fields[3][-1].decode()
    for summary in fields.get(5, []):
        for value in _parse(summary).get(1, []):
            parts = _parse(value)
            if 2 in parts:
                tag = parts[1][-1].decode()
                event["scalars"][tag] = struct.unpack("<f", parts[2][-1])[0]
    for session in fields.get(7, []):
        event["session_status"] = _parse(session).get(1, [0])[-1]
    return event


# ------------------------------------------------------------------------------ events files


class EventsLog:
    """TensorBoard scalars of one run directory; each instance writes its own new file.

    ``start_step`` is the first step this writer will log: the file opens with a
    ``SessionLog.START`` at that step, so TensorBoard drops older files' scalars from there on.
    """

    def __init__(self, directory: str | Path, *, start_step: int = 0) -> None:
        self.directory = Path(directory)
        self.start_step = start_step
        self.path: Path | None = None

    def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
        scalars = {f"{split}/{name}": _float32_range(float(value))
                   for name, value in metrics.items() if isinstance(value, int | float)}
        self._append(encode_event(wall_time=time.time(), step=step, scalars=scalars))

    def _append(self, record: bytes) -> None:
        if self.path is None:
            self.path = self._new_file()
            now = time.time()
            record = (tfrecord(encode_event(wall_time=now, file_version=FILE_VERSION))
                      + tfrecord(encode_event(wall_time=now, step=self.start_step,
                                              session_start=True))
                      + tfrecord(record))
        else:
            record = tfrecord(record)
        with self.path.open("ab") as handle:
            handle.write(record)
            handle.flush()

    def _new_file(self) -> Path:
        """A name that sorts after every events file already here (TensorBoard reads a run's
        files in name order): the time stamp is bumped past the newest existing one."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stamps = [int(match.group(1)) for path in self.directory.glob(EVENTS_PREFIX + "*")
                  if (match := _STAMP.match(path.name))]
        stamp = max([int(time.time()), *(s + 1 for s in stamps)])
        return self.directory / f"{EVENTS_PREFIX}{stamp:010d}.{socket.gethostname()}.{os.getpid()}"


def _float32_range(value: float) -> float:
    """``value``, or an infinity of its sign where it overflows a float32 (``simple_value``)."""
    if math.isfinite(value) and abs(value) > _FLOAT32_MAX:
        return math.copysign(math.inf, value)
    return value


def events_files(directory: str | Path) -> list[Path]:
    """The events files of a run directory, in the order TensorBoard reads them."""
    return sorted(Path(directory).glob(EVENTS_PREFIX + "*"), key=lambda path: path.name)


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Every event of one file (see :func:`decode_event`)."""
    return [decode_event(record) for record in read_tfrecords(path)]


def read_scalars(directory: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Scalars of a run directory as TensorBoard shows them: tag -> [(step, value)] in write
    order, after dropping what a ``SessionLog.START`` at step s supersedes (steps >= s)."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in events_files(directory):
        for event in read_events(path):
            if event.get("session_status") == SESSION_START:
                for tag, points in scalars.items():
                    scalars[tag] = [point for point in points if point[0] < event["step"]]
            for tag, value in event["scalars"].items():
                scalars.setdefault(tag, []).append((event["step"], value))
    return {tag: points for tag, points in scalars.items() if points}
