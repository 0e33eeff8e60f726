"""Evaluate generated FOA clips against references, scene metadata and prompts.

Clips pair up by their path relative to each folder, without the suffix
(``gen/scene-000001/foa.wav`` with ``ref/scene-000001/foa.flac``). A clip's metadata is the
JSON file ``<stem>.json`` or ``metadata.json`` beside it, looked up in ``--metadata DIR`` if
given, else beside the reference, else beside the generated clip; the data simulator's
``metadata.json`` (one source) gives a scene direction, and a ``prompt``, ``text`` or
``caption`` field gives a prompt direction (:func:`.metrics.prompt_direction`).

:func:`evaluate` returns a JSON-ready report (per-clip rows and aggregates);
:func:`format_markdown` turns it into the table ``swansphere eval`` prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import torch

from swansphere.data.captions import ground_truth_descriptions
from swansphere.errors import AudioFormatError, ConfigError
from swansphere.metrics.direction import (
    SilentPolicy,
    aggregate_direction_errors,
    clip_direction_errors,
    energy_map_correlation,
    summarize,
)
from swansphere.metrics.frechet import NotEnoughSamplesError, frechet_distance
from swansphere.spatial.words import prompt_direction

from .metrics import DEFAULT_TOLERANCE_DEGREES, direction_accuracy

AUDIO_SUFFIXES = (".wav", ".flac")
PROMPT_FIELDS = ("prompt", "text", "caption")
MAX_LENGTH_RATIO = 2.0
"""A generated clip and its reference may differ in length by at most this factor."""


@attrs.frozen(kw_only=True)
class ClipFiles:
    """One generated clip and what it is judged against."""

    key: str
    generated: Path
    reference: Path | None = None
    metadata: Path | None = None


@attrs.frozen(kw_only=True)
class ClipSet:
    """The clips to evaluate, plus the names that found no partner."""

    clips: tuple[ClipFiles, ...]
    unmatched_generated: tuple[str, ...] = ()
    unmatched_reference: tuple[str, ...] = ()
    has_reference: bool = False


@attrs.frozen(kw_only=True)
class EvalSettings:
    """Options of :func:`evaluate` (see ``docs/evaluation.md``)."""

    tolerance: float = DEFAULT_TOLERANCE_DEGREES
    silent: SilentPolicy = "exclude"
    map_width: int = 64
    map_height: int = 32
    solid_angle: bool = True
    fd: bool = True


@attrs.frozen(kw_only=True)
class Target:
    """The direction a clip should come from (degrees) and where that claim came from."""

    azimuth: float
    elevation: float
    source: str
    text: str | None = None


# --- finding clips -----------------------------------------------------------------------------

def _audio_files(folder: Path, label: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise ConfigError(f"{label} folder {folder} does not exist; give a folder of AmbiX "
                          "WAV/FLAC files")
    files: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
            key = path.relative_to(folder).with_suffix("").as_posix()
            if key in files:
                raise ConfigError(f"{label} folder has both {files[key].name} and {path.name} "
                                  f"for clip {key!r}; keep one")
            files[key] = path
    if not files:
        raise ConfigError(f"{label} folder {folder} holds no .wav or .flac files")
    return files


def find_clips(generated: Path, reference: Path | None = None,
               metadata: Path | None = None) -> ClipSet:
    """Pair generated clips with references and metadata (see the module doc)."""
    generated_files = _audio_files(Path(generated), "generated")
    if metadata is not None and not Path(metadata).is_dir():
        raise ConfigError(f"metadata folder {metadata} does not exist")
    reference_files = _audio_files(Path(reference), "reference") if reference else {}
    keys = sorted(generated_files)
    if reference:
        keys = [key for key in keys if key in reference_files]
        if not keys:
            raise ConfigError(
                f"no generated clip has a reference of the same name ({_examples(generated_files)}"
                f" vs {_examples(reference_files)}); name each generated file like its reference")
    search = [Path(metadata)] if metadata else [p for p in (reference, generated) if p]
    clips = tuple(ClipFiles(key=key, generated=generated_files[key],
                            reference=reference_files.get(key),
                            metadata=_metadata_file(key, search)) for key in keys)
    return ClipSet(clips=clips, has_reference=bool(reference),
                   unmatched_generated=tuple(sorted(set(generated_files) - set(keys))),
                   unmatched_reference=tuple(sorted(set(reference_files) - set(keys))))


def _examples(files: dict[str, Path]) -> str:
    names = sorted(files)
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def _metadata_file(key: str, folders: Iterable[Path]) -> Path | None:
    relative = Path(key)
    for folder in folders:
        for candidate in (Path(folder) / relative.with_suffix(".json"),
                          Path(folder) / relative.parent / "metadata.json"):
            if candidate.is_file():
                return candidate
    return None


# --- targets -----------------------------------------------------------------------------------

def read_metadata(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path} is not readable JSON ({error}); fix or remove it") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object (scene metadata or a prompt)")
    return data


def clip_target(metadata: dict[str, Any]) -> Target | None:
    """The scene's direction (simulator metadata with exactly one source), else the prompt's."""
    sources = metadata.get("sources")
    if isinstance(sources, list) and len(sources) == 1 and "track_times" in metadata:
        (truth,) = ground_truth_descriptions(metadata)
        return Target(azimuth=truth.azimuth, elevation=truth.elevation, source="scene",
                      text=metadata.get("caption"))
    for field in PROMPT_FIELDS:
        text = metadata.get(field)
        if isinstance(text, str):
            found = prompt_direction(text)
            if found is not None:
                return Target(azimuth=found[0], elevation=found[1], source="prompt", text=text)
    return None


# --- evaluation --------------------------------------------------------------------------------

def evaluate(clip_set: ClipSet, settings: EvalSettings | None = None, *,
             embedding: Any = None, progress: bool = True) -> dict[str, Any]:
    """Score every clip and aggregate; ``embedding`` (an :class:`AisfxEmbedding`) is loaded
    when needed and not given. Returns the report that :func:`format_markdown` prints."""
    from tqdm import tqdm

    settings = settings or EvalSettings()
    if settings.fd and clip_set.has_reference and embedding is None:
        from swansphere.metrics.embedding import AisfxEmbedding

        embedding = AisfxEmbedding.load()
    use_fd = settings.fd and clip_set.has_reference
    rows, generated_embeddings, reference_embeddings = [], [], []
    for files in tqdm(clip_set.clips, desc="eval", unit="clip", disable=not progress):
        row, pair = _evaluate_clip(files, settings, embedding if use_fd else None)
        rows.append(row)
        if pair is not None:
            generated_embeddings.append(pair[0])
            reference_embeddings.append(pair[1])
    if not clip_set.has_reference and not any(row["target"] for row in rows):
        raise ConfigError("nothing to evaluate: give --reference DIR, or metadata/prompts that "
                          "state a direction (see 'swansphere eval --help')")
    metrics = {"direction_errors": _direction_summary(rows, settings.silent),
               "energy_map_correlation": _correlation_summary(rows, settings),
               "fd": _fd_summary(generated_embeddings, reference_embeddings, settings, clip_set),
               "direction_accuracy": _accuracy_summary(rows, settings.tolerance)}
    return {"clips": len(rows), "with_reference": sum(r["reference"] is not None for r in rows),
            "unmatched_generated": list(clip_set.unmatched_generated),
            "unmatched_reference": list(clip_set.unmatched_reference),
            "settings": attrs.asdict(settings), "metrics": _json_safe(metrics),
            "per_clip": _json_safe(rows)}


def _evaluate_clip(files: ClipFiles, settings: EvalSettings,
                   embedding: Any) -> tuple[dict[str, Any], tuple | None]:
    from swansphere.spatial import direction, read_foa

    generated, rate = read_foa(files.generated)
    try:
        gen_direction = tuple(float(angle) for angle in direction(generated))
    except AudioFormatError:  # silent, or W only: no direction to compare
        gen_direction = None
    target = clip_target(read_metadata(files.metadata)) if files.metadata else None
    row: dict[str, Any] = {"key": files.key, "generated": str(files.generated),
                           "reference": None, "sample_rate": rate,
                           "duration_s": generated.shape[-1] / rate,
                           "generated_direction": gen_direction,
                           "target": attrs.asdict(target) if target else None}
    row |= _target_agreement(gen_direction, target, settings.tolerance)
    if files.reference is None:
        return row, None
    reference, reference_rate = read_foa(files.reference)
    if reference_rate != rate:
        raise AudioFormatError(
            f"{files.generated} is at {rate} Hz but its reference {files.reference} is at "
            f"{reference_rate} Hz; resample one of them so that both use the same rate")
    _check_lengths(files, generated.shape[-1], reference.shape[-1], rate)
    errors = clip_direction_errors(reference, generated)
    row |= {"reference": str(files.reference),
            "delta_theta": float(errors["theta"]), "delta_phi": float(errors["phi"]),
            "delta_angular": float(errors["angular"]),
            "reference_has_direction": bool(errors["reference_has_direction"]),
            "energy_map_correlation": float(energy_map_correlation(
                reference, generated, width=settings.map_width, height=settings.map_height,
                solid_angle=settings.solid_angle))}
    if embedding is None:
        return row, None
    pair = (embedding.embed_foa(generated, rate), embedding.embed_foa(reference, rate))
    return row, pair


def _check_lengths(files: ClipFiles, generated: int, reference: int, rate: int) -> None:
    """Refuse a pair whose lengths differ by more than :data:`MAX_LENGTH_RATIO`: whole-clip
    metrics of a clip that covers a sliver of its reference (or the other way round) would be
    confident numbers about different sounds."""
    if max(generated, reference) > MAX_LENGTH_RATIO * min(generated, reference):
        raise AudioFormatError(
            f"{files.generated} lasts {generated / rate:.3g} s but its reference "
            f"{files.reference} {reference / rate:.3g} s; generate clips as long as their "
            f"references (within a factor {MAX_LENGTH_RATIO:g})")


def _target_agreement(found: tuple[float, float] | None, target: Target | None,
                      tolerance: float) -> dict[str, Any]:
    if target is None:
        return {"target_error_deg": None, "within_cone": None, "same_sector": None,
                "same_words": None}
    if found is None:  # silent or direction-less output points nowhere: a miss
        return {"target_error_deg": None, "within_cone": False, "same_sector": False,
                "same_words": False}
    scores = direction_accuracy(found[0], found[1], target.azimuth, target.elevation,
                                tolerance=tolerance)
    return {"target_error_deg": float(scores["error"][0]),
            **{name: bool(scores[name][0]) for name in ("within_cone", "same_sector",
                                                        "same_words")}}


# --- aggregates --------------------------------------------------------------------------------

def _column(rows: list[dict[str, Any]], name: str) -> torch.Tensor:
    values = [math.nan if row.get(name) is None else float(row[name]) for row in rows]
    return torch.tensor(values, dtype=torch.float64)


def _direction_summary(rows: list[dict[str, Any]], silent: SilentPolicy) -> dict[str, Any]:
    paired = [row for row in rows if row["reference"] is not None]
    errors = {name: _column(paired, f"delta_{name}") for name in ("theta", "phi", "angular")}
    errors["reference_has_direction"] = torch.tensor(
        [row["reference_has_direction"] for row in paired], dtype=torch.bool)
    errors["generated_has_direction"] = torch.tensor(
        [row["generated_direction"] is not None for row in paired], dtype=torch.bool)
    return aggregate_direction_errors(errors, silent) | {"silent_policy": silent}


def _correlation_summary(rows: list[dict[str, Any]], settings: EvalSettings) -> dict[str, Any]:
    paired = [row for row in rows if row["reference"] is not None]
    values = _column(paired, "energy_map_correlation")
    defined = int(torch.isfinite(values).sum())
    return summarize(values, "correlation") | {
        "scored": defined, "flat_maps": len(paired) - defined,
        "grid": f"{settings.map_width}x{settings.map_height}",
        "weighting": "cos(elevation)" if settings.solid_angle else "uniform"}


def _fd_summary(generated: list[torch.Tensor], reference: list[torch.Tensor],
                settings: EvalSettings, clip_set: ClipSet) -> dict[str, Any]:
    summary: dict[str, Any] = {"value": None, "embedding": "aisfx X-Sequential-CE, W channel"}
    if not settings.fd or not clip_set.has_reference:
        return summary | {"note": "skipped (--no-fd)" if clip_set.has_reference
                          else "needs reference clips"}
    first, second = torch.cat(generated), torch.cat(reference)
    summary |= {"generated_blocks": first.shape[0], "reference_blocks": second.shape[0]}
    try:
        summary["value"] = frechet_distance(first, second)
    except NotEnoughSamplesError as error:
        summary["note"] = str(error)
    return summary


def _accuracy_summary(rows: list[dict[str, Any]], tolerance: float) -> dict[str, Any]:
    targeted = [row for row in rows if row["target"] is not None]
    summary: dict[str, Any] = {
        "clips": len(targeted), "tolerance_deg": tolerance,
        "targets_from_scene": sum(row["target"]["source"] == "scene" for row in targeted),
        "targets_from_prompt": sum(row["target"]["source"] == "prompt" for row in targeted),
        "generated_without_direction": sum(row["generated_direction"] is None
                                           for row in targeted)}
    for name in ("within_cone", "same_sector", "same_words"):
        hits = [row[name] for row in targeted]
        summary[name] = sum(hits) / len(hits) if hits else math.nan
    return summary | summarize(_column(targeted, "target_error_deg"), "error_deg")


def _json_safe(value: Any) -> Any:
    """NaN/inf -> None and tuples -> lists, so the report is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


# --- presentation ------------------------------------------------------------------------------

def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percent(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def format_markdown(report: dict[str, Any]) -> str:
    """The report's aggregates as a Markdown table plus a line of counts."""
    metrics = report["metrics"]
    errors, maps = metrics["direction_errors"], metrics["energy_map_correlation"]
    fd, accuracy = metrics["fd"], metrics["direction_accuracy"]
    lines = ["| metric | mean | median | clips |", "|---|---:|---:|---:|"]
    if report["with_reference"]:
        for name, label in (("theta", "Δθ (rad)"), ("phi", "Δφ (rad)"),
                            ("angular", "Δangular (rad)")):
            lines.append(f"| {label} | {_number(errors[f'{name}_mean'])} | "
                         f"{_number(errors[f'{name}_median'])} | {errors['scored']} |")
        lines.append(f"| energy-map correlation ({maps['weighting']}, {maps['grid']}) | "
                     f"{_number(maps['correlation_mean'])} | "
                     f"{_number(maps['correlation_median'])} | {maps['scored']} |")
        blocks = (f"{fd['generated_blocks']} / {fd['reference_blocks']} blocks"
                  if "generated_blocks" in fd else "–")
        lines.append(f"| FD ({fd['embedding']}) | {_number(fd['value'], 2)} | – | {blocks} |")
    if accuracy["clips"]:
        tolerance = f"{accuracy['tolerance_deg']:g}°"
        for name, label in (("within_cone", f"direction within {tolerance} of target"),
                            ("same_sector", "same 8-way sector as target"),
                            ("same_words", "same caption position words")):
            lines.append(f"| {label} | {_percent(accuracy[name])} | – | {accuracy['clips']} |")
        lines.append(f"| direction error to target (deg) | {_number(accuracy['error_deg_mean'], 1)}"
                     f" | {_number(accuracy['error_deg_median'], 1)} | {accuracy['clips']} |")
    return "\n".join(lines) + "\n\n" + _counts_line(report) + "\n"


def _counts_line(report: dict[str, Any]) -> str:
    metrics = report["metrics"]
    errors, accuracy = metrics["direction_errors"], metrics["direction_accuracy"]
    parts = [f"{report['clips']} clips ({report['with_reference']} with a reference, "
             f"{accuracy['clips']} with a target: {accuracy['targets_from_scene']} scene, "
             f"{accuracy['targets_from_prompt']} prompt)"]
    if report["with_reference"]:
        parts.append(f"generated without direction: {errors['generated_without_direction']} "
                     f"({errors['silent_policy']}); reference without direction: "
                     f"{errors['reference_without_direction']}")
    if report["unmatched_generated"] or report["unmatched_reference"]:
        parts.append(f"unmatched: {len(report['unmatched_generated'])} generated, "
                     f"{len(report['unmatched_reference'])} reference")
    if metrics["fd"].get("note") and report["with_reference"]:
        parts.append(f"FD: {metrics['fd']['note']}")
    return "; ".join(parts) + "."
