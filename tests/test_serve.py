"""The inpainting web page: its HTTP API (Flask test client) and one real browser session."""

import base64
import io
import json
import re
import select
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genfill_jax import serve, strategies
from genfill_jax.inpaint import Inpainter

import xla_flags
from synthetic import photo as _photo

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def inpainter(tiny_trained_run):
  return Inpainter.from_workdir(str(tiny_trained_run))


@pytest.fixture(scope="module")
def client(inpainter):
  return serve.create_app(inpainter).test_client()


def _png(array):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="PNG")
  return buffer.getvalue()


def _upload(**files):
  return {field: (io.BytesIO(data), f"{field}.png") for field, data in files.items()}


def _decoded(response):
  assert response.status_code == 200, response.get_json()
  assert response.mimetype == "image/png"
  return np.asarray(Image.open(io.BytesIO(response.data)))


def test_page_and_info_are_served(client, inpainter):
  page = client.get("/")
  assert page.status_code == 200 and page.mimetype == "text/html"
  html = page.get_data(as_text=True)
  for element in ("file-input", "brush-size", "tool-erase", "undo", "clear", "find-holes",
                  "inpaint", "toggle-before", "download", "busy", "error"):
    assert f'id="{element}"' in html
  assert client.get("/app.js").mimetype == "text/javascript"
  assert client.get("/app.css").mimetype == "text/css"
  info = client.get("/api/info").get_json()
  assert info["step"] == inpainter.step == 2
  assert info["training_image_size"] == 32
  assert info["max_upload_bytes"] == serve.DEFAULT_MAX_UPLOAD_MB * 2**20
  assert info["strategies"] == list(strategies.STRATEGIES)
  assert info["strategy"] == inpainter.config.inference.strategy == "crop"


def test_inpaint_keeps_known_pixels_and_paints_the_holes(client):
  image = _photo(37, 50)
  mask = np.zeros((37, 50), bool)
  mask[10:20, 15:35] = True
  result = _decoded(client.post(
      "/api/inpaint", data=_upload(image=_png(image), mask=_png(mask.astype(np.uint8) * 255))))
  assert result.shape == image.shape and result.dtype == np.uint8
  np.testing.assert_array_equal(result[~mask], image[~mask])
  assert np.any(result[mask] != image[mask])


def test_inpaint_takes_a_strategy_and_refuses_an_unknown_one(client):
  image = _photo(40, 300)
  mask = np.zeros((40, 300), bool)
  mask[10:20, 15:200] = True
  upload = lambda strategy: client.post("/api/inpaint", data=_upload(
      image=_png(image), mask=_png(mask.astype(np.uint8) * 255)) | {"strategy": strategy})
  for strategy in strategies.STRATEGIES:
    result = _decoded(upload(strategy))
    np.testing.assert_array_equal(result[~mask], image[~mask])
  refused = upload("tiles")
  assert refused.status_code == 400 and "unknown strategy 'tiles'" in refused.get_json()["error"]


def test_find_holes_returns_the_predictors_mask_at_the_images_size(client, inpainter):
  image = _photo(45, 61, seed=3)
  mask = _decoded(client.post("/api/find-holes", data=_upload(image=_png(image))))
  assert mask.shape == (45, 61)
  assert set(np.unique(mask)) <= {0, 255}
  np.testing.assert_array_equal(mask == 255, inpainter.find_holes(image))


def test_image_endpoint_returns_what_the_model_sees(client):
  gray16 = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 100)
  decoded = _decoded(client.post("/api/image", data=_upload(image=_png(gray16))))
  assert decoded.shape == (20, 30, 3)
  np.testing.assert_array_equal(decoded[..., 0], (gray16 >> 8).astype(np.uint8))


@pytest.mark.parametrize("endpoint", ["/api/image", "/api/find-holes", "/api/inpaint"])
def test_non_image_upload_is_a_400_naming_the_field(client, endpoint):
  response = client.post(endpoint, data=_upload(image=b"this is not a picture"))
  assert response.status_code == 400
  assert "upload 'image': not a readable image" in response.get_json()["error"]


def test_missing_or_mismatched_mask_is_a_400(client):
  image = _png(_photo(20, 24))
  missing = client.post("/api/inpaint", data=_upload(image=image))
  assert missing.status_code == 400
  assert "missing file field 'mask'" in missing.get_json()["error"]
  wrong = client.post("/api/inpaint", data=_upload(
      image=image, mask=_png(np.zeros((24, 20), np.uint8))))
  assert wrong.status_code == 400
  assert "mask is 20x24 pixels but the image is 24x20" in wrong.get_json()["error"]


def test_oversize_upload_is_a_413(inpainter):
  client = serve.create_app(inpainter, max_upload_bytes=2000).test_client()
  big = _png(_photo(64, 64))  # noisy pixels: well over 2000 bytes as PNG
  assert len(big) > 2000
  response = client.post("/api/inpaint", data=_upload(image=big, mask=big))
  assert response.status_code == 413
  assert "over the limit of" in response.get_json()["error"]
  small = client.post("/api/image", data=_upload(image=_png(_photo(4, 4))))
  assert small.status_code == 200


def test_too_many_pixels_is_a_413(tiny_trained_run):
  limited = Inpainter.from_workdir(str(tiny_trained_run), max_pixels=32 * 32)
  client = serve.create_app(limited).test_client()
  response = client.post("/api/find-holes", data=_upload(image=_png(_photo(40, 40))))
  assert response.status_code == 413
  assert "40x40 pixels is over the limit of 1,024" in response.get_json()["error"]


@pytest.mark.parametrize("path", ["/index.html", "/../config.json", "/static/app.js",
                                  "/app.js/../../inpaint.py", "/api/nothing"])
def test_no_other_path_is_served(client, path):
  response = client.get(path)
  assert response.status_code == 404
  assert "no such page" in response.get_json()["error"]


def test_main_serves_a_run_on_localhost(tiny_trained_run):
  server = subprocess.Popen(
      [sys.executable, "main.py", f"--workdir={tiny_trained_run}", "--mode=serve", "--port=0"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
      env=xla_flags.environment(1))
  try:
    # Printed once the model is restored and the port bound.
    ready, _, _ = select.select([server.stdout], [], [], 120)
    assert ready, "no 'serving' line within 120 s"
    line = server.stdout.readline()
    match = re.search(r"serving step 2 of .* at (http://127\.0\.0\.1:\d+/)", line)
    assert match, line
    with urllib.request.urlopen(match.group(1) + "api/info", timeout=30) as response:
      assert json.load(response)["step"] == 2
  finally:
    server.terminate()
    server.wait(timeout=30)


def _browser(user_data_dir):
  from selenium import webdriver  # only this test needs selenium
  from selenium.webdriver.chrome.service import Service

  for program in (CHROMIUM, CHROMEDRIVER):
    assert shutil.which(program), (
        f"{program} not found: install Debian's chromium and chromium-driver, as .ci/run does")
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  # Headless, and quiet on this machine's closed network (no background requests).
  for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-background-networking", "--disable-sync",
               "--disable-component-update", "--disable-quic", "--window-size=1100,800",
               f"--user-data-dir={user_data_dir}"):
    options.add_argument(flag)
  return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


_READ_BLOBS = """
const done = arguments[arguments.length - 1];
const read = (blob) => new Promise((resolve) => {
  const reader = new FileReader();
  reader.onload = () => resolve(reader.result.split(',')[1]);
  reader.readAsDataURL(blob);
});
const s = window.genfill.state;
Promise.all([read(s.resultBlob), read(s.sentMaskBlob)]).then(done);
"""


def test_browser_paints_a_stroke_and_gets_it_filled(inpainter, tmp_path, monkeypatch):
  from selenium.webdriver.common.action_chains import ActionChains
  from selenium.webdriver.common.by import By
  from selenium.webdriver.support.ui import Select, WebDriverWait

  strategies_used = []
  inpaint_call = Inpainter.__call__

  def recording_call(self, image, mask=None, strategy=None):
    strategies_used.append(strategy)
    return inpaint_call(self, image, mask, strategy)

  monkeypatch.setattr(Inpainter, "__call__", recording_call)

  photo = _photo(96, 128, seed=7)
  photo_path = tmp_path / "photo.png"
  photo_path.write_bytes(_png(photo))
  server = serve.make_server(serve.create_app(inpainter), "127.0.0.1", 0)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  browser = _browser(tmp_path / "chromium-profile")
  try:
    wait = WebDriverWait(browser, 60)
    state = lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-state")
    browser.get(f"http://127.0.0.1:{server.server_port}/")
    wait.until(lambda _: "checkpoint step 2" in browser.find_element(By.ID, "run-info").text)
    browser.find_element(By.ID, "file-input").send_keys(str(photo_path))
    wait.until(lambda _: state() == "editing")
    choice = Select(browser.find_element(By.ID, "strategy"))
    assert [option.get_attribute("value") for option in choice.options] == list(
        strategies.STRATEGIES)
    assert choice.first_selected_option.get_attribute("value") == "crop"  # the run's default
    choice.select_by_value("resize")

    canvas = browser.find_element(By.ID, "mask-canvas")
    width, height = canvas.size["width"], canvas.size["height"]
    assert width > 128 * 2  # enlarged to fill the page
    ActionChains(browser).move_to_element_with_offset(canvas, -width // 3, -height // 10) \
        .click_and_hold().move_by_offset(width // 3, height // 6) \
        .move_by_offset(width // 4, height // 20).release().perform()
    browser.find_element(By.ID, "inpaint").click()
    wait.until(lambda _: state() == "result")
    assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None

    result_png, mask_png = browser.execute_async_script(_READ_BLOBS)
    result = np.asarray(Image.open(io.BytesIO(base64.b64decode(result_png))))
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(mask_png))).convert("L")) > 127
    assert result.shape == photo.shape
    assert 0.01 < mask.mean() < 0.5  # a brush stroke, not nothing and not everything
    np.testing.assert_array_equal(result[~mask], photo[~mask])
    assert np.any(result[mask] != photo[mask])
    assert browser.find_element(By.ID, "download").get_attribute("href").startswith("blob:")
    assert strategies_used == ["resize"]
  finally:
    browser.quit()
    server.shutdown()
