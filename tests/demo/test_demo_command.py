"""``swansphere demo`` as a user starts it: a real process that serves the page, stops on
Ctrl+C, and refuses a wrong model with one line before any page opens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("gradio", reason="needs Gradio: pip install 'swansphere[demo]'")

START_SECONDS = 120  # imports and the model load; generous for a busy machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "swansphere.cli", "demo", *arguments]


def _page(url: str, process: subprocess.Popen) -> str:
    """The page's HTML once the server answers (fails if the process dies first)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # not up yet, or busy
            time.sleep(0.5)
    raise AssertionError(f"the demo did not answer at {url} in {START_SECONDS} s")


def test_the_command_serves_the_page_and_stops_on_ctrl_c():
    port = _free_port()
    process = subprocess.Popen(_command("--port", str(port)), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        html = _page(f"http://127.0.0.1:{port}/", process)
        assert "SwanSphere demo" in html
        # the page can answer a moment before the line is printed: stop once the user saw it
        first_line = process.stdout.readline()
        process.send_signal(signal.SIGINT)
        error = process.communicate(timeout=60)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert first_line.startswith(f"swansphere demo: open http://127.0.0.1:{port}/ in a browser")
    assert process.returncode == 0 and "Traceback" not in error


class _LaunchedApp:
    """Stands in for a launched Gradio app: Ctrl+C lands in ``block_thread`` before Gradio's
    own handler (``interrupt``) or not at all."""

    local_url = "http://127.0.0.1:1/"

    def __init__(self, interrupt: bool) -> None:
        self.interrupt, self.closed = interrupt, False

    def launch(self, **options) -> None:
        pass

    def block_thread(self) -> None:
        if self.interrupt:
            raise KeyboardInterrupt

    def close(self, verbose: bool = True) -> None:
        self.closed = True


@pytest.mark.parametrize("interrupt", [True, False])
def test_ctrl_c_at_any_moment_of_the_wait_closes_the_server_and_returns(interrupt, capsys):
    from swansphere.demo.app import start

    app = _LaunchedApp(interrupt)
    try:
        url = start(app)
    except KeyboardInterrupt:  # would stop pytest itself
        pytest.fail("Ctrl+C escaped start() and left the server open")
    assert url == app.local_url and app.closed
    assert "Ctrl+C stops it" in capsys.readouterr().out


class _SignalledApp(_LaunchedApp):
    """Its wait gets a real SIGINT and sleeps: only a handler that raises ends it early."""

    def block_thread(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
        self.missed = True


def test_ctrl_c_stops_the_demo_even_where_sigint_was_ignored_at_start():
    from swansphere.demo.app import start

    app = _SignalledApp(interrupt=True)
    app.missed = False
    original = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job's inheritance
    try:
        start(app)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # put back as it was
    finally:
        signal.signal(signal.SIGINT, original)
    assert app.closed and not app.missed


def test_a_wrong_model_is_one_line_before_the_page_opens():
    result = subprocess.run(_command("--model", "no-such-model", "--port", str(_free_port())),
                            capture_output=True, text=True, timeout=START_SECONDS)
    assert result.returncode == 2
    assert result.stderr.startswith("swansphere: error: no model at 'no-such-model'")
    assert len(result.stderr.strip().splitlines()) == 1
