"""What one lent-GPU call hands to the next: a recipe's runs, packed small enough to carry.

    python benchmarks/gpu_resume.py pack runs/tiny-next $OUT      # end of a call
    python benchmarks/gpu_resume.py unpack runs/gpu-carry/resume   # start of the next
    python benchmarks/gpu_resume.py xz FILE / unxz FILE.xz        # one file, for the carry

``pack`` keeps only what the rest of the recipe needs (benchmarks/gpu_session.sh): the
codec's and (until stage 1 is done) SVAC's models, and of the pipeline steps the newest one's
model (the next step's ``init``) or, for a step cut short, its newest checkpoint; ODPO cut
short restarts from its reference model (the reference and a checkpoint would not fit
together). A checkpoint travels without its optimizer state, and every weight file over
1 MiB in ``--dtype`` (bfloat16 by default: it compresses best); a finished step whose model
stays behind leaves a marker, so that it is not trained again. The files go into one
``tar.xz`` split in parts of at most 15 MiB (a call brings back 8 files of 16 MiB at most), with
each run's logs. ``unpack`` restores the runs and gives each checkpoint an empty optimizer
state: the resumed step keeps its step count, learning-rate schedule, data order and random
streams, and restarts Adam's moments from zero.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import shutil
import tarfile
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

PIPELINE_STEPS = ("stage1", "stage2", "stage2-history", "odpo")
PART_BYTES = 15 * 2**20
CAST_ABOVE_BYTES = 2**20
LOG_FILES = ("metrics.jsonl", "metrics.csv", "train.toml")
PARTS = "resume.tar.xz.part-"
EXPORTS = {"codec": "codec", "svac": "svac", **dict.fromkeys(PIPELINE_STEPS, "pipeline")}
DONE_MARKER = "exported-elsewhere"
"""Left in a finished step's run when its model stays behind: scripts/train-tiny.sh skips it."""


def newest_checkpoint(run: Path) -> Path | None:
    found = sorted((run / "checkpoints").glob("step-*"))
    return found[-1] if found else None


def wanted(runs: Path) -> list[Path]:
    """The files and folders of ``runs`` that the next call needs (see the module doc)."""
    keep = [runs / run / name for run in ("codec", "svac", *PIPELINE_STEPS)
            for name in (*LOG_FILES, DONE_MARKER)]
    keep.append(runs / "codec" / "codec")
    for step in reversed(PIPELINE_STEPS):
        run = runs / step
        if step == "odpo":
            if (run / "pipeline").is_dir():
                keep.append(run / "pipeline")
                break
            continue  # cut short or not started: it starts from stage2-history's model
        if (run / "pipeline").is_dir():
            fp16 = run / "pipeline-fp16"
            keep.append(fp16 if fp16.is_dir() else run / "pipeline")
            break
        if newest_checkpoint(run) is not None:
            keep.append(newest_checkpoint(run))
            break
    if not (runs / "stage1" / "pipeline").is_dir():
        svac = runs / "svac"
        keep.append(svac / "svac" if (svac / "svac").is_dir() else newest_checkpoint(svac))
    return [path for path in keep if path is not None and path.exists()]


def _stage(source: Path, target: Path, dtype: torch.dtype) -> None:
    """Copy one file, lighter: big weights cast, optimizer state left out."""
    if source.name == "optimizer.safetensors":
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".safetensors" and source.stat().st_size > CAST_ABOVE_BYTES:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v
                   for k, v in load_file(str(source)).items()}
        save_file(tensors, str(target))
    elif source.name == "trainer_state.json":
        state = json.loads(source.read_text("utf-8"))
        state["optimizer"]["scalars"] = {}
        target.write_text(json.dumps(state, indent=1), "utf-8")
    else:
        shutil.copy2(source, target)


def pack(runs: Path, out: Path, dtype: torch.dtype = torch.bfloat16) -> list[Path]:
    """Pack what :func:`wanted` names into ``out/resume.tar.xz.part-*``; returns the parts."""
    root = runs.parent.parent  # runs/<recipe> -> the repository
    with tempfile.TemporaryDirectory() as staging:
        carried = wanted(runs)
        for path in carried:
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                _stage(file, Path(staging) / file.relative_to(root), dtype)
        for run, export in EXPORTS.items():
            if (runs / run / export).is_dir() and runs / run / export not in carried:
                marker = Path(staging) / (runs / run / DONE_MARKER).relative_to(root)
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text("this step is done; later steps no longer need its model\n")
        (Path(staging) / runs.relative_to(root)).mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
            archive.add(Path(staging) / runs.relative_to(root), arcname=str(runs.relative_to(root)))
    data = buffer.getvalue()
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for index, start in enumerate(range(0, len(data), PART_BYTES)):
        parts.append(out / f"{PARTS}{index:02d}")
        parts[-1].write_bytes(data[start:start + PART_BYTES])
    return parts


def unpack(folder: Path, root: Path = Path()) -> list[str]:
    """Restore the runs packed into ``folder``'s parts under ``root``; returns the members."""
    parts = sorted(folder.glob(f"{PARTS}*"))
    if not parts:
        return []
    data = b"".join(part.read_bytes() for part in parts)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:xz") as archive:
        names = archive.getnames()
        archive.extractall(root, filter="data")
    for state in root.glob("runs/*/*/checkpoints/step-*/trainer_state.json"):
        optimizer = state.parent / "optimizer.safetensors"
        if not optimizer.exists():
            save_file({}, str(optimizer))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="pack RUNS into OUT's resume parts")
    packing.add_argument("runs", type=Path)
    packing.add_argument("out", type=Path)
    packing.add_argument("--dtype", choices=("bfloat16", "float16", "float32"),
                         default="bfloat16")
    unpacking = commands.add_parser("unpack", help="restore the runs from FOLDER's parts")
    unpacking.add_argument("folder", type=Path)
    for name in ("xz", "unxz"):
        commands.add_parser(name, help=f"{name} one file (keeps it)").add_argument(
            "file", type=Path)
    args = parser.parse_args()
    if args.command == "pack":
        parts = pack(args.runs, args.out, getattr(torch, args.dtype))
        total = sum(part.stat().st_size for part in parts)
        print(f"resume: {len(parts)} part(s), {total / 2**20:.1f} MiB")
    elif args.command == "unpack":
        names = unpack(args.folder)
        print(f"resume: {len(names)} entries restored from {args.folder}")
    elif args.command == "xz":
        target = args.file.with_name(args.file.name + ".xz")
        target.write_bytes(lzma.compress(args.file.read_bytes()))
        print(f"{target}: {target.stat().st_size / 2**20:.1f} MiB")
    else:
        args.file.with_suffix("").write_bytes(lzma.decompress(args.file.read_bytes()))


if __name__ == "__main__":
    main()
