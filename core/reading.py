"""How a pipeline reads a prompt: per streamed clause, the words its text encoder gets, the
places its words state, whether the stream is held there, and the exemplar it starts from
(``Pipeline.read_prompt``; docs/pipeline.md, "How a prompt is read").

``swansphere generate`` prints it before it generates, so that a user sees why "a puppy yaps
on the left" was made from the words "a dog yaps on the left" and from no exemplar.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class ClauseReading:
    """One streamed clause of a prompt.

    Attributes:
        text: the clause as written (the whole prompt when the pipeline streams it whole).
        words: what the text encoder reads (place phrases and sound nouns rewritten where its
            config says so), or ``None`` for a pipeline without one.
        places: (azimuth, elevation) degrees the words state: one place, or the places a
            moving sound goes through; empty when they state none.
        held: the stream is turned onto ``places`` (the pipeline's ``place_hold``), or, when
            it follows a video, onto what stands out in the frames (``video_places``).
        follows_video: the stream takes its place from the video, not from ``places``.
        searched: the pipeline looked for an exemplar for the clause (``exemplar_prompts``,
            no video, no audio prompt, one place).
        exemplar: the class of the exemplar the stream starts from, or ``None``.
        similarity: how near the words are to that class's (cosine, MiniLM), or ``None``.
        anchor: the flow time each patch starts from the exemplar's (the pipeline's
            ``exemplar_anchor``; 0: the stream only continues it).
        exemplar_clips: how many of the class's clips the stream plays in turn (the
            pipeline's ``exemplar_chain``), 1 for one clip.
        video_places_only: the model reads the video only for where its sound is (no video
            conditioner: ``video_places = "salient"``), so the words alone make the sound.
        absent: for a clause that found no exemplar, the phrase of a sound the bank has no
            clip of that its words are nearest to ("a dog barks"), or ``None``.
    """

    text: str | None
    words: str | None
    places: tuple[tuple[float, float], ...]
    held: bool
    follows_video: bool
    searched: bool
    exemplar: str | None
    similarity: float | None
    anchor: float = 0.0
    exemplar_clips: int = 1
    video_places_only: bool = False
    absent: str | None = None

    def describe(self) -> str:
        """One line for a person: ``"a sackbut blares behind you" reads "a trombone blares
        behind"; at azimuth 180°, elevation 0° (held there); starts from the trombone
        exemplar (similarity 0.81)``."""
        if self.text is None:
            if self.follows_video and self.video_places_only:
                return ("no text: no words to make a sound from (this model makes it from "
                        "words); the video only places it")
            return "no text: " + ("the video alone" if self.follows_video else "no condition")
        parts = [f'"{self.text}"' + ("" if self.words in (None, self.text)
                                     else f' reads "{self.words}"')]
        parts.append(self._where())
        if self.exemplar is not None:
            clips = (f"{self.exemplar_clips} {self.exemplar} exemplars in turn"
                     if self.exemplar_clips > 1 else f"{self.exemplar} exemplar")
            parts.append(f"starts from the {clips} (similarity {self.similarity:.2f})"
                         + (f" and varies {'them' if self.exemplar_clips > 1 else 'it'} "
                            f"(anchor {self.anchor:g})" if self.anchor else ""))
        elif self.searched:
            parts.append("no exemplar of it: made from the words alone" + (
                "" if self.absent is None else
                f' (nearest "{self.absent}", a sound this model\'s bank has no clip of)'))
        return "; ".join(parts)

    def _where(self) -> str:
        if self.follows_video:
            return "its place follows the video" + (
                " (held where the frames show something)" if self.held else "")
        if not self.places:
            return "no place stated"
        where = " then ".join(f"azimuth {azimuth:.0f}°, elevation {elevation:.0f}°"
                              for azimuth, elevation in self.places)
        if len(self.places) > 1:
            return "moves through " + where + (" (held on that path)" if self.held else "")
        return "at " + where + (" (held there)" if self.held else "")
