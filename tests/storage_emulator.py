"""A Cloud Storage emulator on loopback (gcp-storage-emulator with object generations,
gcs_emulator_server.py) and the settings that point gcsfs, TensorStore and Orbax at
it, for tests of gs:// workdirs."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path


def _free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


class Bucket:
  """One emulated bucket, read over the emulator's JSON API (no client-side caches)."""

  def __init__(self, url: str, name: str):
    self.url, self.name = url, name

  def environment(self) -> dict[str, str]:
    """What a process needs to reach the emulator as gs://<name>."""
    return {
        "STORAGE_EMULATOR_HOST": self.url,  # gcsfs (epath's gs:// backend)
        "TENSORSTORE_GCS_HTTP_URL": self.url,  # TensorStore (Orbax's arrays)
        "GOOGLE_AUTH_TOKEN_FOR_TESTING": "emulator",  # TensorStore: no credential lookup
        # gcsfs first probes the bucket's layout over gRPC, which the emulator does
        # not serve (a 60 s timeout); this turns the probe off.
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    }

  def objects(self, prefix: str = "") -> dict[str, int]:
    """{object name: size in bytes} of every object under `prefix`."""
    query = urllib.parse.urlencode({"prefix": prefix})
    with urllib.request.urlopen(f"{self.url}/storage/v1/b/{self.name}/o?{query}") as reply:
      items = json.load(reply).get("items", [])
    return {item["name"]: int(item["size"]) for item in items}

  def read(self, name: str) -> bytes:
    quoted = urllib.parse.quote(name, safe="")
    with urllib.request.urlopen(
        f"{self.url}/download/storage/v1/b/{self.name}/o/{quoted}?alt=media") as reply:
      return reply.read()


@contextlib.contextmanager
def running_emulator(bucket_name: str = "genfill-test"):
  """Serves an in-memory bucket on 127.0.0.1 while the block runs; yields a Bucket."""
  port = _free_port()
  descriptor, name = tempfile.mkstemp(suffix=".emulator.log")
  os.close(descriptor)
  log = Path(name)
  with log.open("w") as stream:
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("gcs_emulator_server.py")), str(port),
         bucket_name],
        stdout=stream, stderr=subprocess.STDOUT)
  bucket = Bucket(f"http://127.0.0.1:{port}", bucket_name)
  try:
    deadline = time.monotonic() + 60
    while True:
      try:
        bucket.objects()
        break
      except OSError:
        assert server.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    yield bucket
  finally:
    server.kill()
    server.wait()
    log.unlink(missing_ok=True)
