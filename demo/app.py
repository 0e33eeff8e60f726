"""The demo page (Gradio): inputs on the left, what the model made on the right.

The page only shows what :class:`~swansphere.demo.engine.DemoEngine` yields. A library error
(bad input, an unreadable video, a missing model) becomes a message in the page
(``gr.Error``) with the library's one line; anything else is logged with its traceback on the
terminal and the page says "internal error". Gradio is imported with this module, which only
``swansphere demo`` and the tests import.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from swansphere.cli_args import DEFAULT_MODEL
from swansphere.errors import SwanSphereError
from swansphere.spatial.plot import require_matplotlib

from .engine import (
    MAX_DURATION,
    MIN_DURATION,
    VIDEO_SUFFIXES,
    DemoEngine,
    Results,
    check_request,
    check_video,
    shipped_models,
)

LOG = logging.getLogger(__name__)
DEFAULT_DURATION = 4.0
INTRODUCTION = """\
# SwanSphere: spatial audio from a prompt or a 360° video

Type what should sound where (*a cello plays on the left*), and/or upload an equirectangular
360° video, then press **Generate**. Put on headphones: the binaural render plays as it
streams. The AmbiX file (first-order ambisonics: W, Y, Z, X, SN3D) and a 360° MP4 with
spatial audio are below to download. In the pictures the centre is the front and the left
quarter is the left (azimuth +90°).
"""
OUTPUTS = 5  # binaural stream, downloads, energy map, direction track, overlay video


def build_app(engine: DemoEngine, default_model: str = DEFAULT_MODEL) -> gr.Blocks:
    """The page, wired to ``engine``."""
    with gr.Blocks(title="SwanSphere demo", analytics_enabled=False) as app:  # no telemetry
        gr.Markdown(INTRODUCTION)
        with gr.Row():
            with gr.Column(scale=2):
                prompt = gr.Textbox(label="Prompt", elem_id="prompt", lines=2,
                                    placeholder="a cello plays on the left")
                video = gr.File(label="360° video (optional, equirectangular)",
                                elem_id="video", file_types=list(VIDEO_SUFFIXES),
                                type="filepath")
                duration = gr.Slider(MIN_DURATION, MAX_DURATION, value=DEFAULT_DURATION,
                                     step=0.5, label="Duration (s)", elem_id="duration")
                with gr.Row():
                    seed = gr.Number(value=0, precision=0, label="Seed", elem_id="seed")
                    model = gr.Dropdown(choices=shipped_models(), value=default_model,
                                        allow_custom_value=True, label="Model",
                                        elem_id="model")
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=3):
                binaural = gr.Audio(label="Headphones (binaural, streamed)", streaming=True,
                                    autoplay=True, interactive=False, elem_id="binaural")
                downloads = gr.File(label="Downloads: AmbiX WAV, binaural WAV, 360° MP4",
                                    file_count="multiple", interactive=False,
                                    elem_id="downloads")
                energy_map = gr.Image(label="Energy map and direction track", type="filepath",
                                      interactive=False, show_label=False,
                                      elem_id="energy-map")
                track = gr.Image(label="Direction track over time", type="filepath",
                                 interactive=False, show_label=False,
                                 elem_id="direction-track")
                overlay = gr.Video(label="The video with the sound's energy laid over",
                                   interactive=False, elem_id="overlay")
        video.upload(_in_page(check_video), inputs=video, outputs=None)
        generate.click(_generator(engine), inputs=[prompt, video, duration, seed, model],
                       outputs=[binaural, downloads, energy_map, track, overlay])
    return app


def _generator(engine: DemoEngine) -> Callable[..., Iterator[tuple]]:
    def generate(prompt: str, video: str | None, duration: float, seed: float,
                 model: str) -> Iterator[tuple]:
        """Stream the headphone render, then show the files and pictures."""
        with _messages(uploaded=video):
            request = check_request(prompt, video, duration, seed, model)
            first = True
            for item in engine.run(request):
                if isinstance(item, bytes):
                    cleared = (None,) * (OUTPUTS - 1) if first else (gr.skip(),) * (OUTPUTS - 1)
                    first = False
                    yield item, *cleared
                else:
                    yield gr.skip(), *_shown(item)

    return generate


def _shown(results: Results) -> tuple:
    return ([str(path) for path in results.downloads], str(results.energy_map),
            str(results.track), str(results.overlay) if results.overlay else None)


def _in_page(check: Callable[[Any], Any]) -> Callable[[Any], None]:
    def checked(value: Any) -> None:
        if value:
            with _messages(uploaded=value):
                check(value)

    return checked


@contextlib.contextmanager
def _messages(uploaded: str | None = None) -> Iterator[None]:
    """Turn errors into messages in the page: the library's own line (naming an upload by
    its file name, not the server's copy), or "internal error"."""
    try:
        yield
    except gr.Error:
        raise
    except SwanSphereError as error:
        message = " ".join(str(error).split())
        if uploaded:
            message = message.replace(str(uploaded), Path(uploaded).name)
        raise gr.Error(message, print_exception=False) from None
    except Exception as error:
        LOG.error("the demo failed", exc_info=error)
        raise gr.Error(f"internal error: {type(error).__name__}: {error} (the terminal "
                       "running the demo shows the traceback; please report it)",
                       print_exception=False) from None


def theme() -> gr.themes.Base:
    """Gradio's default look with the system's fonts: the page loads nothing from the web."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


def start(app: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860,
          block: bool = True) -> str:
    """Serve ``app`` and return its local URL; ``block`` serves until Ctrl+C, saying where.

    A Ctrl+C that lands before Gradio's wait has taken over (just after the line is printed,
    on a busy machine) stops the server the same way: closed, and a normal return."""
    app.launch(server_name=host, server_port=port, prevent_thread_lock=True, theme=theme(),
               quiet=True, show_error=False, footer_links=[])
    if not block:
        return app.local_url
    # Ctrl+C must stop it even where it started with SIGINT ignored (as a shell without job
    # control starts background commands, and their children inherit).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        print(f"swansphere demo: open {app.local_url} in a browser (Ctrl+C stops it)",
              flush=True)
        app.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        app.close(verbose=False)
        signal.signal(signal.SIGINT, previous)
    return app.local_url


def serve(*, host: str, port: int, model: str, registry: Any = None) -> None:
    """Run the demo until interrupted; generated files live in a temporary folder removed
    at exit."""
    require_matplotlib()
    with tempfile.TemporaryDirectory(prefix="swansphere-demo-") as workdir:
        engine = DemoEngine(Path(workdir), registry=registry)
        engine.pipeline(model)  # a wrong model fails here, before the page opens
        start(build_app(engine, default_model=model), host=host, port=port)
