"""Write simulated scenes to disk: FOA WAV, panorama video, metadata JSON and caption.

Scene ``i`` of a run depends only on (seed, i, the sampler settings, the clip catalogue), so a
run can be extended or re-rendered in parts. Layout of ``OUT``::

    OUT/index.jsonl                   one line per scene: key, caption, files, licences
    OUT/scene-000000/foa.wav          AmbiX float32 WAV (swansphere.spatial.write_foa)
    OUT/scene-000000/video.npz        panorama frames (see swansphere.data.panorama)
    OUT/scene-000000/metadata.json    ground truth: sources, windows, tracks, room, licences
    OUT/scene-000000/caption.txt      the ground-truth spatial caption

A scene whose ingredients fail to load (a corrupt clip, a synthesis tool that crashes) is
redrawn with the next attempt number and the failure is counted in a
:class:`~swansphere.data.quality.SkipCounter`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

from ..errors import ConfigError, SwanSphereError
from ..spatial import write_panorama_npz
from .captions import metadata_caption
from .clips import SoundClip
from .panorama import PanoramaRenderer
from .quality import SkipCounter
from .render import render_scene
from .scenes import Scene, SceneSampler, scene_metadata

MAX_ATTEMPTS = 4


def scene_key(index: int) -> str:
    return f"scene-{index:06d}"


def draw_scene(sampler: SceneSampler, catalogue: Sequence[SoundClip], seed: int, index: int,
               attempt: int = 0) -> Scene:
    """Scene ``index`` of the run; later attempts draw a fresh scene for the same index."""
    return sampler.sample(catalogue, seed if attempt == 0 else seed + 7919 * attempt, index)


def write_scene(folder: Path, scene: Scene, renderer: PanoramaRenderer | None,
                hop_seconds: float = 0.05) -> dict:
    """Render one scene into ``folder``; returns its index line (see the module doc)."""
    from ..spatial import write_foa

    foa, gain = render_scene(scene)
    folder.mkdir(parents=True, exist_ok=True)
    metadata = scene_metadata(scene, hop_seconds)
    metadata["caption"] = metadata_caption(metadata)
    metadata["mix_gain"] = gain
    files = {"foa": "foa.wav", "metadata": "metadata.json", "caption": "caption.txt"}
    write_foa(folder / "foa.wav", foa, scene.sample_rate)
    if renderer is not None:
        frames, times = renderer.render(scene)
        write_panorama_npz(folder / "video.npz", frames, times, renderer.fps)
        files["video"] = "video.npz"
        metadata["video"] = {"file": "video.npz", "fps": renderer.fps, "width": renderer.width,
                             "height": renderer.height, "frames": len(times),
                             "projection": "equirectangular"}
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=1))
    (folder / "caption.txt").write_text(metadata["caption"] + "\n")
    return {"key": folder.name, "caption": metadata["caption"], "files": files,
            "labels": [source["label"] for source in metadata["sources"]],
            "licences": metadata["licences"], "permissive": metadata["permissive"]}


@attrs.frozen(kw_only=True)
class SimulationReport:
    written: int
    skipped: SkipCounter
    out: Path


def simulate(out: Path, count: int, catalogue: Sequence[SoundClip], *,
             sampler: SceneSampler, seed: int = 0, start: int = 0,
             renderer: PanoramaRenderer | None = None, progress: bool = True,
             counter: SkipCounter | None = None) -> SimulationReport:
    """Simulate scenes ``start .. start + count - 1`` into ``out`` (see the module doc)."""
    from tqdm import tqdm

    if count < 0:
        raise ConfigError(f"--n must be >= 0, got {count}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counter = counter or SkipCounter("simulate")
    lines = []
    for index in tqdm(range(start, start + count), desc="scenes", unit="scene",
                      disable=not progress):
        line = _write_with_retries(out / scene_key(index), sampler, catalogue, seed, index,
                                   renderer, counter)
        if line is not None:
            lines.append(line)
    with (out / "index.jsonl").open("a") as index_file:
        for line in lines:
            index_file.write(json.dumps(line) + "\n")
    return SimulationReport(written=len(lines), skipped=counter, out=out)


def _write_with_retries(folder: Path, sampler: SceneSampler, catalogue: Sequence[SoundClip],
                        seed: int, index: int, renderer: PanoramaRenderer | None,
                        counter: SkipCounter) -> dict | None:
    for attempt in range(MAX_ATTEMPTS):
        scene = draw_scene(sampler, catalogue, seed, index, attempt)
        try:
            return write_scene(folder, scene, renderer)
        except (SwanSphereError, OSError, ValueError, RuntimeError) as error:
            clips = ", ".join(event.clip.clip_id for event in scene.events)
            counter.skip_error(f"{folder.name} attempt {attempt} ({clips})", error)
    return None


def read_index(folder: Path) -> list[dict]:
    """The index lines of a simulated folder (later lines win for a repeated key)."""
    path = Path(folder) / "index.jsonl"
    if not path.is_file():
        raise ConfigError(f"{folder} has no index.jsonl; simulate scenes into it first with "
                          "'swansphere data simulate --out DIR --n N'")
    lines: dict[str, dict] = {}
    for raw in path.read_text().splitlines():
        if raw.strip():
            line = json.loads(raw)
            lines[line["key"]] = line
    return [lines[key] for key in sorted(lines)]


def ground_truth_stats(folder: Path) -> dict[str, float]:
    """Simple statistics of a simulated folder (sources per scene, moving share, rooms)."""
    sources, moving, rooms, scenes = 0, 0, 0, 0
    for line in read_index(folder):
        metadata = json.loads((Path(folder) / line["key"] / "metadata.json").read_text())
        scenes += 1
        rooms += metadata["room"] is not None
        for source in metadata["sources"]:
            sources += 1
            trajectory = source["trajectory"]
            moving += not np.allclose([trajectory["start_azimuth"], trajectory[
                "start_elevation"]], [trajectory["end_azimuth"], trajectory["end_elevation"]])
    return {"scenes": scenes, "sources_per_scene": sources / max(scenes, 1),
            "moving_share": moving / max(sources, 1), "room_share": rooms / max(scenes, 1)}


def measure_caption_agreement(count: int, catalogue: Sequence[SoundClip], *,
                              sampler: SceneSampler, seed: int = 0, use_windows: bool = True,
                              progress: bool = True) -> dict[str, float]:
    """Render ``count`` scenes and score FOA-derived caption words against the ground truth.

    With ``use_windows`` the captioner gets each label's activity window (as a sound-event
    detector would give); without, only the labels. See
    :func:`swansphere.data.captions.caption_agreement` for the parts scored.
    """
    from tqdm import tqdm

    from .captions import (
        caption_agreement,
        describe_foa,
        ground_truth_descriptions,
        labelled_sources,
    )

    pairs = []
    for index in tqdm(range(count), desc="captions", unit="scene", disable=not progress):
        scene = sampler.sample(catalogue, seed, index)
        foa, _ = render_scene(scene)
        metadata = scene_metadata(scene)
        estimate = describe_foa(foa, scene.sample_rate,
                                labelled_sources(metadata, use_windows=use_windows))
        pairs.append((ground_truth_descriptions(metadata), estimate))
    return caption_agreement(pairs)
