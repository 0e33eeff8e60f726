"""``swansphere data ...`` and ``swansphere caption``: sound sets, clip banks, simulation, shards,
captions.

Import-light: everything heavy is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group and the ``caption`` command."""
    data = subparsers.add_parser("data", help="sound sources, scene simulation, shards")
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    _add_sources(commands)
    _add_bank(commands)
    _add_simulate(commands)
    _add_shard(commands)
    _add_agreement(commands)
    _add_sound_words(commands)
    _add_caption(subparsers)


# ---------------------------------------------------------------- data sources

def _add_sources(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("sources", help="report the installed sound sets")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--classes", action="store_true",
                      help="list the sound classes (clips, permissive clips, held-out clips)")
    view.add_argument("--attribution", action="store_true",
                      help="credits (CC-BY, MIT holders) for a model card of a model trained "
                           "on the permissive clips, as Markdown")
    parser.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    parser.set_defaults(func=_run_sources)


def _run_sources(args: argparse.Namespace, registry) -> int:
    from .sources import inventory, sounds_home

    if args.classes or args.attribution:
        return _run_classes(args)
    report = inventory(args.root)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'SET':<12} {'CLIPS':>5} {'LABELS':>6} {'PERMISSIVE':>10} {'SECONDS':>8}  "
          "PACKAGE / LICENCES")
    for row in report:
        licences = ", ".join(f"{name} {count}" for name, count in row["licences"].items())
        print(f"{row['set']:<12} {row['clips']:>5} {row['labels']:>6} {row['permissive']:>10} "
              f"{row['seconds']:>8}  {row['package']}: {licences or 'not installed'}")
    total = sum(row["clips"] for row in report)
    permissive = sum(row["permissive"] for row in report)
    print(f"{total} clips, {permissive} permissively licensed; install more with "
          f"scripts/install-sound-sets.sh (unpacked sets live in {sounds_home()})")
    return 0


def _run_classes(args: argparse.Namespace) -> int:
    from .vocabulary import attributions, class_clips, class_report

    clips = class_clips(root=args.root)
    if args.attribution:
        rows = attributions(clips)
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        print("Sounds used under licences that ask for credit:\n")
        for row in rows:
            print(f"- {row['package']}: {row['clips']} clip(s) {row['licence']}, "
                  f"(c) {row['holder']}")
        return 0
    report = class_report(clips)
    summary = {"classes": sum(row["clips"] > 0 for row in report),
               "permissive": sum(row["permissive"] > 0 for row in report),
               "with_held_out": sum(row["held_out"] > 0 for row in report)}
    if args.json:
        print(json.dumps({"summary": summary, "classes": report}, indent=2))
        return 0
    print(f"{'CLASS':<20} {'CATEGORY':<11} {'CLIPS':>5} {'PERMISSIVE':>10} {'HELD-OUT':>8}  "
          "SETS")
    for row in report:
        sets = ", ".join(f"{name} {count}" for name, count in row["sets"].items())
        print(f"{row['class']:<20} {row['category']:<11} {row['clips']:>5} "
              f"{row['permissive']:>10} {row['held_out']:>8}  {sets or 'not installed'}")
    print(f"{summary['classes']} classes installed, {summary['permissive']} with permissive "
          f"clips, {summary['with_held_out']} with held-out permissive clips "
          f"(of {len(report)} in the vocabulary)")
    return 0


# ---------------------------------------------------------------- data bank

def _add_bank(commands: argparse._SubParsersAction) -> None:
    bank = commands.add_parser("bank", help="clip banks: the vocabulary's clips as compressed "
                               "audio, for machines without the sound sets")
    actions = bank.add_subparsers(dest="bank_command", metavar="ACTION", required=True)
    parser = actions.add_parser("export", help="render every clip of the vocabulary's classes "
                                "once into a bank folder (read back as the sound set 'bank')")
    parser.add_argument("out", type=Path, metavar="OUT_DIR",
                        help="bank folder to write (new, empty, or an old bank to replace)")
    parser.add_argument("--sets", default="all",
                        help="comma-separated sound sets, or 'all' installed (default all)")
    licences = parser.add_mutually_exclusive_group()
    licences.add_argument("--permissive-only", dest="permissive_only", action="store_true",
                          default=True, help="only clips the shipped model may learn from "
                          "(default)")
    licences.add_argument("--all", dest="permissive_only", action="store_false",
                          help="clips under every licence (copyleft too: never for the "
                               "shipped model)")
    parser.add_argument("--sample-rate", type=int, default=16000,
                        help="Hz, the rate training renders scenes at (default 16000)")
    parser.add_argument("--seconds-max", type=float, default=None,
                        help="cut clips longer than this many seconds (default: keep whole)")
    parser.add_argument("--format", dest="audio_format", choices=("ogg", "flac"),
                        default="ogg", help="OGG Vorbis (small, lossy; default) or FLAC "
                        "(16-bit, lossless, about 4x larger)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    parser.set_defaults(func=_run_bank_export)


def _run_bank_export(args: argparse.Namespace, registry) -> int:
    from .bank import BANK_ENV, export_bank

    sets = None if args.sets == "all" else [s.strip() for s in args.sets.split(",") if s.strip()]
    report = export_bank(args.out, sets=sets, permissive_only=args.permissive_only,
                         sample_rate=args.sample_rate, seconds_max=args.seconds_max,
                         audio_format=args.audio_format, root=args.root,
                         progress=not args.quiet)
    capped = f", {report['capped']} cut to {args.seconds_max} s" if report["capped"] else ""
    skipped = f", {report['skipped']} skipped (see index.json)" if report["skipped"] else ""
    print(f"wrote {report['clips']} clips of {report['classes']} classes "
          f"({report['seconds']} s{capped}{skipped}) to {report['out']}: "
          f"{report['bytes'] / 2**20:.1f} MiB; use it with {BANK_ENV}={args.out.resolve()}")
    return 0


# ---------------------------------------------------------------- data simulate

def _add_scene_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    parser.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16000)")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds (default 4)")
    parser.add_argument("--max-sources", type=int, default=3, help="1..N sources (default 3)")
    parser.add_argument("--moving-probability", type=float, default=0.5)
    parser.add_argument("--diffuse-probability", type=float, default=0.3)
    parser.add_argument("--sustained-probability", type=float, default=0.0,
                        help="share of sources that sound through the whole scene, their "
                             "recordings repeated (default 0)")
    parser.add_argument("--sets", default="synthetic",
                        help="comma-separated sound sets, or 'all' (see 'data sources'; "
                             "default synthetic)")
    parser.add_argument("--permissive-only", action="store_true",
                        help="use only clips the shipped model may learn from")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_simulate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("simulate", help="simulate FOA scenes with video and captions")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--n", type=int, required=True, help="number of scenes")
    parser.add_argument("--start", type=int, default=0, help="first scene index (default 0)")
    rooms = parser.add_mutually_exclusive_group()
    rooms.add_argument("--room", dest="room_probability", action="store_const", const=1.0,
                       help="every scene in a pyroomacoustics shoebox")
    rooms.add_argument("--free-field", dest="room_probability", action="store_const",
                       const=0.0, help="no rooms (no pyroomacoustics needed)")
    rooms.add_argument("--room-probability", type=float, help="share of room scenes "
                       "(default 0.5)")
    parser.add_argument("--fps", type=float, default=4.0, help="video frame rate (default 4)")
    parser.add_argument("--width", type=int, default=256, help="panorama width (default 256)")
    parser.add_argument("--height", type=int, default=None,
                        help="panorama height (default: half the width; panoramas are 2:1)")
    parser.add_argument("--no-video", action="store_true", help="skip the panorama video")
    _add_scene_options(parser)
    parser.set_defaults(func=_run_simulate, room_probability=None)


def _sampler(args: argparse.Namespace, room_probability: float = 0.0):
    from .scenes import SceneSampler

    for name in ("moving_probability", "diffuse_probability", "sustained_probability"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise ConfigError(f"--{name.replace('_', '-')} must lie in [0, 1]")
    return SceneSampler(sample_rate=args.sample_rate, duration=args.duration,
                        max_sources=args.max_sources, moving_probability=args.moving_probability,
                        diffuse_probability=args.diffuse_probability,
                        room_probability=room_probability,
                        sustained_probability=args.sustained_probability,
                        min_event_seconds=min(0.8, args.duration))


def _catalogue(args: argparse.Namespace):
    from .sources import catalogue

    sets = None if args.sets == "all" else [s.strip() for s in args.sets.split(",") if s.strip()]
    clips = catalogue(sets, permissive_only=args.permissive_only)
    if not clips:
        raise ConfigError(f"no clips in sound set(s) {args.sets!r}; see 'swansphere data "
                          "sources' or install them with scripts/install-sound-sets.sh")
    return clips


def _run_simulate(args: argparse.Namespace, registry) -> int:
    from .panorama import PanoramaRenderer
    from .simulate import simulate

    room_probability = 0.5 if args.room_probability is None else args.room_probability
    if not 0.0 <= room_probability <= 1.0:
        raise ConfigError("--room-probability must lie in [0, 1]")
    if room_probability > 0:
        from .rooms import speed_of_sound

        speed_of_sound()  # fails early, with advice, when pyroomacoustics is missing
    renderer = None if args.no_video else PanoramaRenderer(
        args.width, args.width // 2 if args.height is None else args.height, args.fps)
    report = simulate(args.out, args.n, _catalogue(args), sampler=_sampler(args,
                      room_probability), seed=args.seed, start=args.start, renderer=renderer,
                      progress=not args.quiet)
    print(f"wrote {report.written} scene(s) to {report.out}; {report.skipped.summary()}")
    return 0 if report.written or not args.n else 1


# ---------------------------------------------------------------- data shard

def _add_shard(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("shard", help="pack simulated scenes into WebDataset tar "
                                 "shards (pipeline training streams from them)")
    parser.add_argument("--src", type=Path, required=True, help="a 'data simulate' folder")
    parser.add_argument("--out", type=Path, required=True, help="shard folder to write")
    parser.add_argument("--per-shard", type=int, default=256, help="samples per shard")
    parser.add_argument("--verify", action="store_true",
                        help="only check the shards in --out against their manifest")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_shard)


def _run_shard(args: argparse.Namespace, registry) -> int:
    from .shards import verify_shards, write_shards

    if args.verify:
        bad = verify_shards(args.out)
        print("all shards intact" if not bad else f"damaged shards: {', '.join(bad)}")
        return 0 if not bad else 1
    manifest = write_shards(args.src, args.out, args.per_shard, progress=not args.quiet)
    print(f"wrote {manifest['samples']} samples ({manifest['seconds']} s) in "
          f"{len(manifest['shards'])} shard(s) to {args.out}; skipped {manifest['skipped'] or 0}")
    if manifest["shards"]:
        print(f"train from them with data.source = \"shards\" and data.shards = "
              f"\"{args.out}\" (or \"{args.out}/shard-{{000000..{len(manifest['shards']) - 1:06d}}}"
              ".tar\")")
    return 0


# ---------------------------------------------------------------- caption agreement

def _add_agreement(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "caption-agreement", help="how often FOA-derived caption words match the simulation")
    parser.add_argument("--n", type=int, default=100, help="scenes to simulate (default 100)")
    parser.add_argument("--no-windows", action="store_true",
                        help="give the captioner labels only, not their activity windows")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    _add_scene_options(parser)
    parser.set_defaults(func=_run_agreement)


def _run_agreement(args: argparse.Namespace, registry) -> int:
    from .simulate import measure_caption_agreement

    result = measure_caption_agreement(args.n, _catalogue(args), sampler=_sampler(args),
                                       seed=args.seed, use_windows=not args.no_windows,
                                       progress=not args.quiet)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['sources']} sources in {args.n} free-field scenes "
          f"({'labels only' if args.no_windows else 'labels with activity windows'}):")
    for part in ("horizontal", "vertical", "motion", "all"):
        print(f"  {part:<10} {100 * result[part]:5.1f} % agree")
    return 0


# ---------------------------------------------------------------- sound words

def _add_sound_words(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sound-words", help="build the sound-word table (rarer nouns for the vocabulary's "
                            "classes) from WordNet")
    parser.add_argument("--wordnet", type=Path, default=None,
                        help="WordNet 3.0 database folder (default: Debian's wordnet-base, "
                             "/usr/share/wordnet)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="where to write the table (default: the packaged one)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the packaged table differs from a rebuild")
    parser.set_defaults(func=_run_sound_words)


def _run_sound_words(args: argparse.Namespace, registry) -> int:
    from ..conditioning.sound_words import TABLE, SoundWordTable
    from .lexicon import WORDNET_DIR, WordNet, sound_words

    table = sound_words(WordNet.load(args.wordnet or WORDNET_DIR))
    classes = len({target for target, _ in table.words.values()})
    if args.check:
        shipped = SoundWordTable.load(TABLE)
        if shipped != table:
            changed = sorted(set(shipped.words.items()) ^ set(table.words.items())) + \
                sorted(shipped.kept ^ table.kept)
            print(f"the packaged table differs from a rebuild in {len(changed)} entries, "
                  f"e.g. {changed[:3]}; rebuild it with 'swansphere data sound-words'")
            return 1
        print(f"the packaged table matches a rebuild: {len(table.words)} nouns for {classes} "
              "classes")
        return 0
    path = table.save(args.output or TABLE)
    print(f"wrote {len(table.words)} nouns for {classes} classes to {path}")
    return 0


# ---------------------------------------------------------------- caption

def _add_caption(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("caption", help="describe where the sounds of an FOA file are")
    parser.add_argument("foa", type=Path, help="AmbiX WAV/FLAC file")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--labels", help="comma-separated NOUN[:VERB] in order of appearance, "
                        "e.g. 'dog:barks,bell:rings'")
    source.add_argument("--metadata", type=Path,
                        help="scene metadata JSON (labels and activity windows are used; "
                             "positions are not)")
    parser.add_argument("--json", action="store_true", help="print descriptions as JSON")
    parser.set_defaults(func=_run_caption)


def _run_caption(args: argparse.Namespace, registry) -> int:
    import attrs

    from ..errors import AudioFormatError
    from ..spatial import direction, read_foa
    from .captions import LabelledSource, caption, describe_foa, labelled_sources

    foa, sample_rate = read_foa(args.foa)
    try:
        direction(foa)
    except AudioFormatError as error:
        raise AudioFormatError(f"{args.foa} cannot be captioned: {error}") from error
    diffuse = False
    if args.metadata is not None:
        try:
            metadata = json.loads(args.metadata.read_text())
            sources = labelled_sources(metadata)
        except (OSError, ValueError, KeyError) as error:
            raise ConfigError(f"cannot use {args.metadata} as scene metadata ({error}); give "
                              "a metadata.json written by 'swansphere data simulate'") from error
        diffuse = metadata.get("diffuse_db") is not None
    else:
        labels = [label for label in (args.labels or "sound").split(",") if label.strip()]
        sources = [LabelledSource.from_label(label) for label in labels]
    descriptions = describe_foa(foa, sample_rate, sources)
    text = caption(descriptions, diffuse=diffuse)
    if args.json:
        print(json.dumps({"caption": text, "sources": [
            attrs.asdict(d) | {"position": d.position} for d in descriptions]}, indent=2))
    else:
        print(text)
    return 0
