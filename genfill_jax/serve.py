"""Inpaint by drawing: a local web page and HTTP API backed by a trained run.

`python main.py --workdir=W --mode=serve` serves the page in genfill_jax/web/
and four endpoints (formats in the README):

  GET  /api/info        the run: step, training image size, upload limits,
                        high-resolution strategies and the default (JSON)
  POST /api/image       image -> the image as the model sees it (RGB PNG)
  POST /api/find-holes  image -> the hole predictor's mask (PNG, white = hole)
  POST /api/inpaint     image + mask (+ strategy) -> the filled image (RGB PNG)

Uploads are multipart/form-data files named 'image' and 'mask'. Everything is
decoded and encoded in memory: no path from a request is ever opened, and the
page's three files are read once at start-up.
"""

import http
import io
import threading

import flask
import numpy as np
from etils import epath
from PIL import Image
from werkzeug import serving

from genfill_jax import strategies
from genfill_jax.data import sources
from genfill_jax.inpaint import ImageTooLarge, Inpainter, check_pixel_count

DEFAULT_MAX_UPLOAD_MB = 20
WEB_DIR = epath.Path(__file__).parent / "web"
_PAGE_FILES = {  # URL path -> (file in WEB_DIR, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}


class RequestError(Exception):
  """A request that cannot be served; becomes a JSON {"error": message} response."""

  def __init__(self, message: str, status: http.HTTPStatus = http.HTTPStatus.BAD_REQUEST):
    super().__init__(message)
    self.status = status


def _uploaded_image(field: str) -> Image.Image:
  upload = flask.request.files.get(field)
  if upload is None:
    raise RequestError(f"missing file field {field!r} (send multipart/form-data)")
  try:
    return sources.decode_image(upload.stream, f"upload {field!r}")
  except sources.UnreadableImage as error:
    raise RequestError(str(error)) from error


def _read_image(inpainter: Inpainter) -> np.ndarray:
  image = sources.to_rgb_uint8(_uploaded_image("image"))
  try:
    check_pixel_count(*image.shape[:2], inpainter.max_pixels, "upload 'image'")
  except ImageTooLarge as error:
    raise RequestError(str(error), http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE) from error
  return image


def _read_mask(image_shape: tuple[int, ...]) -> np.ndarray:
  mask = sources.to_hole_mask(_uploaded_image("mask"))
  if mask.shape != image_shape[:2]:
    raise RequestError(f"mask is {mask.shape[1]}x{mask.shape[0]} pixels but the image is "
                       f"{image_shape[1]}x{image_shape[0]}; they must match")
  return mask


def _png_response(array: np.ndarray) -> flask.Response:
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="PNG")
  return flask.Response(buffer.getvalue(), mimetype="image/png")


def create_app(inpainter: Inpainter,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 2**20) -> flask.Flask:
  """The Flask app serving the page and the API for `inpainter`."""
  app = flask.Flask(__name__, static_folder=None)
  app.config["MAX_CONTENT_LENGTH"] = max_upload_bytes
  pages = {url: ((WEB_DIR / name).read_bytes(), content_type)
           for url, (name, content_type) in _PAGE_FILES.items()}
  # One computation at a time: the model already uses every core, and the
  # Inpainter's compiled-program cache is not meant for concurrent first calls.
  model_lock = threading.Lock()

  def page(url):
    body, content_type = pages[url]
    return flask.Response(body, content_type=content_type)

  for url in pages:
    app.add_url_rule(url, f"page{url}", lambda url=url: page(url))

  @app.get("/api/info")
  def info():
    return flask.jsonify(
        step=inpainter.step,
        training_image_size=inpainter.config.data.image_size,
        max_upload_bytes=max_upload_bytes,
        max_pixels=inpainter.max_pixels,
        strategies=list(strategies.STRATEGIES),
        strategy=inpainter.config.inference.strategy,
    )

  @app.post("/api/image")
  def normalized_image():
    return _png_response(_read_image(inpainter))

  @app.post("/api/find-holes")
  def find_holes():
    image = _read_image(inpainter)
    with model_lock:
      mask = inpainter.find_holes(image)
    return _png_response(mask.astype(np.uint8) * 255)

  @app.post("/api/inpaint")
  def inpaint():
    image = _read_image(inpainter)
    mask = _read_mask(image.shape)
    strategy = flask.request.form.get("strategy") or inpainter.config.inference.strategy
    if strategy not in strategies.STRATEGIES:
      raise RequestError(f"unknown strategy {strategy!r}; expected one of "
                         f"{', '.join(strategies.STRATEGIES)}")
    with model_lock:
      result, _ = inpainter(image, mask, strategy)
    return _png_response(result)

  @app.errorhandler(RequestError)
  def request_error(error: RequestError):
    return flask.jsonify(error=str(error)), error.status

  @app.errorhandler(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
  def too_large(_):
    return flask.jsonify(
        error=f"upload over the limit of {max_upload_bytes / 2**20:g} MB"), 413

  @app.errorhandler(http.HTTPStatus.NOT_FOUND)
  def not_found(_):
    return flask.jsonify(error=f"no such page: {flask.request.path}"), 404

  return app


def make_server(app: flask.Flask, host: str, port: int) -> serving.BaseWSGIServer:
  """A threaded WSGI server for `app` on host:port (port 0: any free port)."""
  return serving.make_server(host, port, app, threaded=True)


def serve(workdir: str, host: str, port: int, max_upload_mb: float,
          overrides: dict | None = None) -> None:
  """Restores the run in `workdir` and serves the page until Ctrl-C.

  overrides: config fields for inference (e.g. {"inference.strategy": "resize"}).
  """
  inpainter = Inpainter.from_workdir(workdir, overrides=overrides)
  server = make_server(create_app(inpainter, int(max_upload_mb * 2**20)), host, port)
  print(f"genfill_jax: serving step {inpainter.step} of {workdir} at "
        f"http://{host}:{server.server_port}/ (Ctrl-C stops)", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
