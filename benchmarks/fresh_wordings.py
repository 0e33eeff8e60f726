"""Which class do wordings outside the vocabulary find in a model's exemplar bank, with and
without sound words (docs/evaluation.md, "Sound words")?

The wordings below are in neither the training nor the held-out wordings of the vocabulary
(docs/data.md): everyday names, kinds and brands a user might write. They were written by a
developer after the sound-word table was built, so they are a rough second check, not a
blind test.

    python benchmarks/fresh_wordings.py --model tiny-next [--generate]

With ``--generate`` the model also makes each wording, placed by a short phrase ("a terrier
barks, on the left"), and the clips are scored as the content benchmark scores its one-source
prompts (swansphere.evaluation.content: the named class's rank among the held-out references'
classes in the aisfx embedding; needs the sound sets or a clip bank): does the sound come out
for words the model never read?
"""

from __future__ import annotations

import argparse

from _run_options import add_override_option, add_run_options, set_threads, write_report

FRESH_WORDINGS = {
    "piano": ["an upright piano", "a baby grand"], "electric piano": ["a Wurlitzer"],
    "harpsichord": ["a spinet", "a virginal"], "glockenspiel": ["a bell lyre"],
    "tubular bells": ["church chimes"], "organ": ["a harmonium", "a cathedral organ"],
    "accordion": ["a concertina", "a button accordion"], "harmonica": ["a blues harp"],
    "guitar": ["a classical guitar", "a Spanish guitar", "a twelve-string guitar"],
    "electric guitar": ["a Stratocaster", "a Les Paul"], "bass guitar": ["a Fender bass"],
    "violin": ["a Stradivarius"], "double bass": ["a bass fiddle", "a bull fiddle"],
    "harp": ["a concert harp", "a lyre"], "timpani": ["tympani"],
    "choir": ["a choral group", "a glee club"], "trumpet": ["a bugle", "a flugelhorn"],
    "trombone": ["a slide trombone", "a bass trombone"], "tuba": ["a euphonium", "a helicon"],
    "french horn": ["a hunting horn"], "saxophone": ["an alto sax", "a baritone saxophone"],
    "oboe": ["a cor anglais", "an English horn"], "bassoon": ["a contrabassoon"],
    "clarinet": ["a bass clarinet"], "flute": ["a fife"], "recorder": ["a tin whistle"],
    "pan flute": ["panpipes"], "synthesizer": ["a Moog"], "banjo": ["a banjolele"],
    "bagpipes": ["Highland pipes"], "hi-hat": ["high-hat cymbals"],
    "tambourine": ["a jingle ring"], "maracas": ["a rattle"],
    "man speaking": ["a gentleman talks", "an old man speaks", "a boy talks", "a guy talks"],
    "woman speaking": ["a girl speaks", "a grandmother talks", "a housewife speaks"],
    "bird": ["a sparrow chirps", "a nightingale sings", "a robin sings", "a finch twitters"],
    "crow": ["a raven caws", "a rook caws"],
    "dog": ["a terrier barks", "a poodle barks", "a beagle howls", "a hound bays"],
    "cat": ["a tabby meows", "a Siamese cat meows", "a kitty meows"],
    "cow": ["cattle low", "an ox bellows", "a calf moos"],
    "horse": ["a stallion neighs", "a mare whinnies", "a steed snorts"],
    "sheep": ["a ewe bleats"], "pig": ["a swine grunts", "a piglet squeals", "a sow grunts"],
    "duck": ["a drake quacks", "a duckling peeps"],
    "chicken": ["a rooster crows", "a cockerel crows"],
    "owl": ["a tawny owl hoots", "a screech owl screeches"],
    "frog": ["a bullfrog croaks", "a tree frog chirps"], "bee": ["a honeybee buzzes"],
    "lion": ["a lioness roars"], "elephant": ["a bull elephant trumpets"],
    "engine": ["a diesel engine rumbles", "an outboard motor drones"],
    "helicopter": ["a whirlybird flies over"],
    "car": ["a sedan passes", "a taxi drives by", "a sports car speeds by", "a jeep drives past"],
    "train": ["a freight train rumbles", "a steam train chugs", "a subway train passes"],
    "siren": ["a fire alarm wails"], "telephone": ["a cellphone rings", "a mobile phone rings"],
    "bell": ["a doorbell rings", "a handbell rings", "a sleigh bell jingles"],
    "clock": ["an alarm clock ticks", "a grandfather clock ticks", "a wristwatch ticks"],
    "door": ["a trapdoor creaks", "a screen door slams"], "camera": ["a DSLR clicks"],
    "glass": ["a wineglass rings", "a goblet chimes"],
    "paper crumpling": ["a newspaper rustles"], "robot": ["an android beeps"],
    "explosion": ["a bomb goes off", "a blowup booms"],
    "gunshot": ["a pistol fires", "a shotgun fires", "a revolver fires"],
    "applause": ["an ovation erupts", "a round of applause"],
    "sea waves": ["breakers crash", "the ocean roars", "the tide rolls in"],
    "rain": ["a drizzle patters", "a rainstorm pours", "a shower falls"],
    "water": ["a brook babbles", "a fountain splashes", "a faucet runs"],
}
"""Per vocabulary class, wordings it has in neither family."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny-next",
                        help="shipped name or pipeline directory with an exemplar bank")
    parser.add_argument("--generate", action="store_true",
                        help="also generate each wording and score the named class")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per clip")
    add_override_option(parser)
    add_run_options(parser)
    args = parser.parse_args(argv)

    from swansphere.conditioning.sound_words import canonical_sounds
    from swansphere.pipeline import Pipeline

    set_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model, overrides=args.set)
    bank = pipeline.exemplars
    if bank is None:
        parser.error(f"{args.model} has no exemplar bank")
    rows = [(name, text) for name, texts in FRESH_WORDINGS.items() if name in bank.class_names
            for text in texts]
    report = {"wordings": len(rows), "classes": len({name for name, _ in rows})}
    for sound_words in (False, True):
        found = bank.match([text for _, text in rows], sound_words=sound_words)
        key = "sound_words" if sound_words else "as_written"
        report[key] = {
            "find_a_class": sum(match is not None for match in found) / len(rows),
            "find_the_named_one": sum(match is not None and match[0] == name
                                      for (name, _), match in zip(rows, found, strict=True))
            / len(rows),
            "misses": [[name, text, canonical_sounds(text) if sound_words else text,
                        match and match[0]]
                       for (name, text), match in zip(rows, found, strict=True)
                       if match is None or match[0] != name]}
        print(f"{key:>12}: {len(rows)} wordings of {report['classes']} classes find a class "
              f"{report[key]['find_a_class']:.2f}, the named one "
              f"{report[key]['find_the_named_one']:.2f}")
    if args.generate:
        report["generated"] = generated_identity(pipeline, rows, args.duration)
    write_report(args.json, report)
    return 0


PLACES = ("on the left", "behind you", "on the right", "in front")
"""The place phrases the generated wordings get, in turn."""


def generated_identity(pipeline, rows: list[tuple[str, str]], duration: float) -> dict:
    """The content benchmark's one-source figures for ``rows`` (class, wording), each made
    once (seed 0) with a place phrase; wordings of classes without held-out references are
    left out."""
    from swansphere.evaluation.content import ContentCase, References, evaluate_content
    from swansphere.spatial.words import prompt_direction

    references, embedding = References.held_out(pipeline.sample_rate, seconds=duration)
    cases = []
    for index, (name, text) in enumerate(row for row in rows if row[0] in references.clips):
        prompt = f"{text}, {PLACES[index % len(PLACES)]}"
        cases.append(ContentCase(text=prompt, family="fresh", classes=(name,),
                                 directions=(prompt_direction(prompt),)))
    summary = evaluate_content(pipeline, references, cases, embedding=embedding,
                               duration=duration)["summary"]
    exemplar = summary.get("exemplar", {})
    print(f"   generated: {len(cases)} wordings, the named class top-1 / top-5 / median rank "
          f"{summary['top1']:.2f} / {summary['top5']:.2f} / {summary['median_rank']:g} "
          f"(chance {summary['chance_top1']:.2f} / {summary['chance_top5']:.2f}); "
          f"after the right exemplar: {exemplar.get('stream_named')}")
    return summary


if __name__ == "__main__":
    raise SystemExit(main())
