"""The demo's request checks and its engine, without a browser: what the page shows is what
these produce (tests/demo/test_demo_browser.py drives the page itself)."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

from swansphere.cli import main
from swansphere.errors import GenerationError, SwanSphereError
from swansphere.spatial import binaural, read_foa, read_spatial_metadata, write_panorama_npz

pytest.importorskip("matplotlib", reason="the demo needs matplotlib (pip install "
                                         "'swansphere[demo]')")

from swansphere.demo.engine import (
    MAX_DURATION,
    DemoEngine,
    Results,
    check_request,
    shipped_models,
)


@pytest.mark.parametrize(("arguments", "message"), [
    (("  ", None, 2, 0, "tiny"), "type a prompt or upload a 360° video"),
    (("a bell", None, MAX_DURATION + 1, 0, "tiny"), "the duration must be between"),
    (("a bell", None, None, 0, "tiny"), "the duration must be a number"),
    (("a bell", None, 2, -1, "tiny"), "the seed must be a whole number"),
    (("a bell", None, 2, 1.5, "tiny"), "the seed must be a whole number"),
    (("a bell", None, 2, "x", "tiny"), "the seed must be a number"),
    (("a bell", None, 2, 0, " "), "choose a model (tiny, tiny-next)"),
])
def test_bad_requests_say_what_is_wrong_in_one_line(arguments, message):
    with pytest.raises(GenerationError, match=re.escape(message)):
        check_request(*arguments)


def test_a_good_request_is_normalised():
    request = check_request("  a bell rings  ", None, "2.5", 7.0, " tiny ")
    assert (request.prompt, request.video, request.duration, request.seed, request.model) == (
        "a bell rings", None, 2.5, 7, "tiny")
    assert check_request("a bell", None, 1, 2**63 - 1, "tiny").seed == 2**63 - 1
    assert "tiny" in shipped_models()


def test_videos_are_checked_before_anything_runs(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(GenerationError, match=r"notes\.txt is not a video the demo reads"):
        check_request("a bell", str(text), 1, 0, "tiny")
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(SwanSphereError, match=r"fake\.mp4 is not a readable video"):
        check_request("a bell", str(fake), 1, 0, "tiny")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK not really")
    with pytest.raises(SwanSphereError, match="cannot read panorama video"):
        check_request(None, str(broken), 1, 0, "tiny")


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> DemoEngine:
    return DemoEngine(tmp_path_factory.mktemp("demo"))


def _run(engine: DemoEngine, *arguments) -> tuple[list[bytes], Results]:
    items = list(engine.run(check_request(*arguments)))
    assert all(isinstance(item, bytes) for item in items[:-1])
    assert isinstance(items[-1], Results)
    return items[:-1], items[-1]


def test_a_prompt_streams_the_headphone_render_then_writes_every_file(engine):
    chunks, results = _run(engine, "a dog barks on the left", None, 1, 0, "tiny")
    foa, rate = read_foa(results.ambix)
    info = soundfile.info(results.ambix)
    assert (info.channels, info.subtype, rate, foa.shape[-1]) == (4, "FLOAT", 16000, 16000)
    assert len(chunks) > 1  # streamed in pieces, not one clip at the end
    streamed = np.concatenate([soundfile.read(io.BytesIO(chunk), dtype="float32")[0]
                               for chunk in chunks])
    offline = binaural(foa, rate).T.numpy()
    assert streamed.shape == offline.shape == (16000, 2)
    assert np.abs(streamed - np.clip(offline, -1, 1)).max() < 2 / 2**15  # 16-bit steps
    stereo, _ = soundfile.read(results.binaural, dtype="float32")
    assert np.allclose(stereo, offline, atol=1e-5)
    assert read_spatial_metadata(results.mp4).ambisonic is not None
    for picture in (results.energy_map, results.track):
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results.overlay is None and results.downloads == [results.ambix, results.binaural,
                                                             results.mp4]


def test_the_same_seed_gives_the_same_audio_and_each_run_its_own_folder(engine):
    _, first = _run(engine, "a bell rings behind", None, 0.5, 3, "tiny")
    _, again = _run(engine, "a bell rings behind", None, 0.5, 3, "tiny")
    assert first.ambix.parent != again.ambix.parent
    assert torch.equal(read_foa(first.ambix)[0], read_foa(again.ambix)[0])


def test_a_video_also_gets_the_energy_laid_over_it(engine, tmp_path):
    frames = np.full((4, 32, 64, 3), 100, np.uint8)
    video = write_panorama_npz(tmp_path / "pano.npz", frames, np.arange(4) / 4, 4.0)
    _, results = _run(engine, None, str(video), 1, 0, "tiny")
    assert results.overlay is not None and results.overlay.stat().st_size > 0
    assert read_spatial_metadata(results.overlay).spherical is not None


def test_an_unknown_model_is_a_library_error(engine):
    with pytest.raises(SwanSphereError, match="no model at 'no-such-model'"):
        _run(engine, "a bell", None, 1, 0, "no-such-model")


def test_the_command_needs_gradio_only_when_it_runs(capsys, monkeypatch):
    code = ("import sys, swansphere.cli; swansphere.cli.build_parser(); "
            "print('gradio' in sys.modules, 'matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == "False False"
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio fails
    monkeypatch.delitem(sys.modules, "swansphere.demo.app", raising=False)
    assert main(["demo"]) == 2
    error = capsys.readouterr().err
    assert error.strip() == ("swansphere: error: the demo needs Gradio: pip install "
                             "'swansphere[demo]'")
