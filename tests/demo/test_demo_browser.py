"""The demo page in a real browser: Debian's Chromium, headless, driven by Selenium.

The app runs in this process on a free port. One test types a prompt, presses Generate, waits
for the audio player and the map, and downloads the AmbiX WAV through the browser; the other
uploads a file that is not a video and reads the message. With ``SWANSPHERE_SCREENSHOTS=DIR``
the tests save the screenshots that docs/demo.md shows. Without Chromium, its driver,
Selenium or Gradio they skip and say which is missing (``bash scripts/setup.sh`` as root
installs them all).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile
import torch

from swansphere.cli_args import DEFAULT_MODEL
from swansphere.spatial import read_foa, write_360_mp4

pytest.importorskip("gradio", reason="needs Gradio: pip install 'swansphere[demo]'")
pytest.importorskip("selenium", reason="needs Selenium: pip install 'swansphere[test]'")

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.wait import WebDriverWait

from swansphere.demo.app import build_app, start
from swansphere.demo.engine import DemoEngine

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = os.environ.get("SWANSPHERE_SCREENSHOTS")
WAIT_SECONDS = 90  # generous: the machine may be busy; nothing here measures speed
MAX_SCREENSHOT_BYTES = 300_000

pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="needs Debian's chromium and chromium-driver (apt-get install "
                              "chromium chromium-driver, or bash scripts/setup.sh as root)"),
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),  # its pandas calls
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def page_url(tmp_path_factory) -> Iterator[str]:
    engine = DemoEngine(tmp_path_factory.mktemp("demo-runs"))
    engine.pipeline(DEFAULT_MODEL)
    app = build_app(engine)
    url = start(app, port=_free_port(), block=False)
    yield url
    app.close()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("browser-downloads")


@pytest.fixture(scope="module")
def browser(downloads) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--autoplay-policy=no-user-gesture-required",
                     "--mute-audio"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as error:
        pytest.skip(f"chromium would not start under chromedriver: {error.msg}")
    yield driver
    driver.quit()


def _wait(driver, condition, seconds: float = WAIT_SECONDS):
    return WebDriverWait(driver, seconds).until(condition)


def _open(browser, url: str) -> None:
    browser.get(url)
    _wait(browser, until.element_to_be_clickable((By.CSS_SELECTOR, "#generate")))


def _screenshot(browser, name: str, full_page: bool = False) -> None:
    """Save a screenshot for the docs when asked to, as a small palette PNG."""
    if not SCREENSHOTS:
        return
    from PIL import Image

    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    if full_page:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, height + 120)
    path = folder / name
    browser.save_screenshot(str(path))
    with Image.open(path) as picture:
        picture.convert("RGB").quantize(colors=256).save(path, optimize=True)
    assert path.stat().st_size < MAX_SCREENSHOT_BYTES
    browser.set_window_size(1280, 1000)


def _message(browser) -> str:
    """The text of the error message that the page shows."""
    toast = _wait(browser, until.visibility_of_element_located(
        (By.CSS_SELECTOR, "[data-testid='toast-body']")))
    return " ".join(toast.text.split())


def test_a_prompt_plays_maps_and_downloads_ambix(browser, page_url, downloads):
    _open(browser, page_url)
    browser.find_element(By.CSS_SELECTOR, "#prompt textarea").send_keys(
        "a cello plays on the left")
    duration = browser.find_element(By.CSS_SELECTOR, "#duration input[type=number]")
    duration.clear()
    duration.send_keys("1", Keys.TAB)
    browser.find_element(By.CSS_SELECTOR, "#generate").click()

    player = _wait(browser, until.presence_of_element_located(
        (By.CSS_SELECTOR, "#binaural audio[src]")))
    assert player.get_attribute("src")
    picture = _wait(browser, until.visibility_of_element_located(
        (By.CSS_SELECTOR, "#energy-map img[src]")))
    _wait(browser, lambda _: picture.get_attribute("naturalWidth") not in (None, "0"))
    assert browser.find_element(By.CSS_SELECTOR, "#direction-track img[src]")
    link = _wait(browser, until.element_to_be_clickable(
        (By.CSS_SELECTOR, "#downloads a[download='ambix.wav']")))
    _screenshot(browser, "demo-generated.png", full_page=True)
    link.click()

    wav = downloads / "ambix.wav"
    _wait(browser, lambda _: wav.is_file() and not list(downloads.glob("*.crdownload")))
    info = soundfile.info(wav)
    assert (info.channels, info.subtype, info.samplerate, info.frames) == (4, "FLOAT", 16000,
                                                                           16000)
    foa, _ = read_foa(wav)  # the library's AmbiX checks: 4 channels, finite samples
    assert float(foa[0].abs().max()) > 0


def test_a_file_that_is_not_a_video_gets_a_message_not_a_traceback(browser, page_url,
                                                                   tmp_path):
    _open(browser, page_url)
    browser.find_element(By.CSS_SELECTOR, "#generate").click()
    assert "type a prompt or upload a 360° video" in _message(browser)
    browser.refresh()
    _open(browser, page_url)
    fake = tmp_path / "holiday.mp4"
    fake.write_text("these are not the frames you are looking for")
    browser.find_element(By.CSS_SELECTOR, "#video input[type=file]").send_keys(str(fake))
    message = _message(browser)
    assert "holiday.mp4 is not a readable video" in message
    assert "/gradio/" not in message  # the upload by its name, not the server's copy
    assert "Traceback" not in browser.page_source
    time.sleep(0.5)  # let the message finish sliding in before the picture
    _screenshot(browser, "demo-bad-video.png")


def test_a_video_comes_back_with_the_energy_laid_over_it(browser, page_url, tmp_path):
    video = write_360_mp4(tmp_path / "grid.mp4", torch.zeros(4, 16000), 16000,
                          panorama_size=(256, 128))  # the still grid panorama: front in orange
    _open(browser, page_url)
    browser.find_element(By.CSS_SELECTOR, "#prompt textarea").send_keys("a bell rings ahead")
    browser.find_element(By.CSS_SELECTOR, "#video input[type=file]").send_keys(str(video))
    _wait(browser, until.presence_of_element_located(
        (By.CSS_SELECTOR, "#video a[download='grid.mp4']")))
    duration = browser.find_element(By.CSS_SELECTOR, "#duration input[type=number]")
    duration.clear()
    duration.send_keys("1", Keys.TAB)
    browser.find_element(By.CSS_SELECTOR, "#generate").click()
    player = _wait(browser, until.presence_of_element_located(
        (By.CSS_SELECTOR, "#overlay video[src]")))
    _wait(browser, lambda _: browser.execute_script("return arguments[0].readyState", player)
          >= 1)  # the browser read the overlay's header: a playable MP4
    assert browser.execute_script("return arguments[0].videoWidth", player) == 256
    _screenshot(browser, "demo-video.png", full_page=True)
