"""gcp-storage-emulator, plus the object generations that TensorStore relies on.

Run as `python gcs_emulator_server.py PORT BUCKET`: an in-memory bucket on 127.0.0.1.

TensorStore (Orbax's array store) reads each object's generation from the
`x-goog-generation` header of a download and writes OCDBT manifests with
`ifGenerationMatch` preconditions, as Cloud Storage serves them. The emulator
keeps a generation per object but neither sends the header nor checks
preconditions, so OCDBT checkpoints fail against it ("Malformed
StorageGeneration"). This wraps its handlers with both, as Cloud Storage
documents them: a failed match is 412, a read whose `ifGenerationNotMatch`
equals the current generation is 304, and generation 0 means "does not exist".
"""

import sys
from http import HTTPStatus

from gcp_storage_emulator import server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects


def _generation(storage, bucket_name: str, object_name: str) -> str:
  try:
    return str(storage.get_file_obj(bucket_name, object_name)["generation"])
  except NotFound:
    return "0"


def _precondition_status(request, generation: str) -> HTTPStatus | None:
  match = request.query.get("ifGenerationMatch")
  if match and match[0] != generation:
    return HTTPStatus.PRECONDITION_FAILED
  not_match = request.query.get("ifGenerationNotMatch")
  if not_match and not_match[0] == generation:
    return HTTPStatus.NOT_MODIFIED if request.method == "GET" else (
        HTTPStatus.PRECONDITION_FAILED)
  return None


def _object_name(request) -> str | None:
  if "object_id" in request.params:
    return request.params["object_id"]
  if "name" in request.query:
    return request.query["name"][0]
  data = request.data
  return data.get("meta", {}).get("name") if isinstance(data, dict) else None


def _with_generations(handler):
  def handle(request, response, storage, *args, **kwargs):
    bucket_name, object_name = request.params.get("bucket_name"), _object_name(request)
    if object_name is not None:
      status = _precondition_status(request, _generation(storage, bucket_name, object_name))
      if status is not None:
        response.status = status
        return None
    result = handler(request, response, storage, *args, **kwargs)
    if object_name is not None and response.status in (HTTPStatus.OK,
                                                       HTTPStatus.PARTIAL_CONTENT):
      generation = _generation(storage, bucket_name, object_name)
      if generation != "0":
        response["x-goog-generation"] = generation
        response["x-goog-metageneration"] = "1"
    return result
  return handle


_WRAPPED = (objects.download, objects.get, objects.insert, objects.delete)


def _patch_routes() -> None:
  for _, methods in server.HANDLERS:
    for method, handler in methods.items():
      if handler in _WRAPPED:
        methods[method] = _with_generations(handler)


if __name__ == "__main__":
  port, bucket = int(sys.argv[1]), sys.argv[2]
  _patch_routes()
  server.create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket).run()
