// genfill_jax page: open an image, paint the holes, inpaint with the served run.
//
// The image shown is always the server's decoding of the file (/api/image), so
// the mask painted here has exactly the size the model sees. The mask lives in
// its own canvas at the image's resolution; painted pixels (any alpha) are holes.
"use strict";

const MASK_COLOUR = [255, 40, 90];
const UNDO_LIMIT = 20;
const MAX_ZOOM = 8;  // small images are enlarged to fill the page, up to this factor

const $ = (id) => document.getElementById(id);
const imageCanvas = $("image-canvas");
const maskCanvas = $("mask-canvas");
const imageContext = imageCanvas.getContext("2d");
const maskContext = maskCanvas.getContext("2d", { willReadFrequently: true });

const state = {
  name: "image",       // the opened file's name, without extension
  imageBlob: null,     // PNG of the image the next Inpaint sends
  beforeBlob: null,    // after an Inpaint: what went in ...
  resultBlob: null,    // ... and what came back
  resultUrl: null,
  sentMaskBlob: null,  // the mask of the last Inpaint, as sent
  tool: "brush",
  undo: [],
  stroke: null,        // {x, y} while the pointer is down
  busy: false,
};

// ---- small helpers -------------------------------------------------------

function setState(name) {
  document.body.dataset.state = name;
  updateButtons();
}

function updateButtons() {
  const s = document.body.dataset.state;
  const hasImage = s !== "empty";
  for (const id of ["tool-brush", "tool-erase", "undo", "clear", "find-holes", "inpaint"]) {
    $(id).disabled = state.busy || !hasImage;
  }
  $("undo").disabled ||= state.undo.length === 0;
  $("toggle-before").disabled = state.busy || !state.resultBlob;
  $("toggle-before").textContent = s === "before" ? "Show after" : "Show before";
  $("download").classList.toggle("disabled", !state.resultBlob);
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

// Runs `work` with the busy overlay shown and the buttons disabled; errors
// (server messages included) end up in the red bar.
async function busy(text, work) {
  state.busy = true;
  $("busy-text").textContent = text;
  $("busy").hidden = false;
  clearError();
  updateButtons();
  try {
    return await work();
  } catch (error) {
    showError(error.message);
    return null;
  } finally {
    state.busy = false;
    $("busy").hidden = true;
    updateButtons();
  }
}

async function post(url, files, fields = {}) {
  const form = new FormData();
  for (const [field, blob] of Object.entries(files)) form.append(field, blob, `${field}.png`);
  for (const [field, value] of Object.entries(fields)) form.append(field, value);
  let response;
  try {
    response = await fetch(url, { method: "POST", body: form });
  } catch (error) {
    throw new Error(`the server did not answer (${error.message}); is it still running?`);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error || message;
    } catch (_) { /* not JSON: keep the status line */ }
    throw new Error(message);
  }
  return response.blob();
}

function canvasBlob(canvas) {
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

async function drawBlob(blob) {
  const bitmap = await createImageBitmap(blob);
  imageContext.drawImage(bitmap, 0, 0);
  bitmap.close();
}

// Shows the image as large as the page allows (the canvases keep the image's
// own resolution; only their on-screen size changes).
function fitToStage() {
  if (document.body.dataset.state === "empty") return;
  const box = $("stage").getBoundingClientRect();
  const zoom = Math.min((box.width - 24) / imageCanvas.width,
                        (box.height - 24) / imageCanvas.height, MAX_ZOOM);
  imageCanvas.style.width = `${Math.floor(imageCanvas.width * zoom)}px`;
  imageCanvas.style.height = `${Math.floor(imageCanvas.height * zoom)}px`;
}

window.addEventListener("resize", fitToStage);

// ---- opening an image ----------------------------------------------------

async function openFile(file) {
  await busy(`Opening ${file.name}…`, async () => {
    const png = await post("/api/image", { image: file });
    const bitmap = await createImageBitmap(png);
    for (const canvas of [imageCanvas, maskCanvas]) {
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
    }
    imageContext.drawImage(bitmap, 0, 0);
    bitmap.close();
    state.name = file.name.replace(/\.[^.]*$/, "") || "image";
    state.imageBlob = png;
    forgetResult();
    state.undo = [];
    $("drop-hint").hidden = true;
    $("canvas-wrap").hidden = false;
    setState("editing");
    fitToStage();
  });
}

function forgetResult() {
  if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
  Object.assign(state, { beforeBlob: null, resultBlob: null, resultUrl: null });
  $("download").removeAttribute("href");
}

$("file-input").addEventListener("change", (event) => {
  if (event.target.files.length) openFile(event.target.files[0]);
  event.target.value = "";  // opening the same file again fires 'change' again
});

const stage = $("stage");
stage.addEventListener("dragover", (event) => {
  event.preventDefault();
  stage.classList.add("dragging");
});
stage.addEventListener("dragleave", () => stage.classList.remove("dragging"));
stage.addEventListener("drop", (event) => {
  event.preventDefault();
  stage.classList.remove("dragging");
  const file = event.dataTransfer.files[0];
  if (file) openFile(file);
});

// ---- painting the mask ---------------------------------------------------

function rememberMask() {
  state.undo.push(maskContext.getImageData(0, 0, maskCanvas.width, maskCanvas.height));
  if (state.undo.length > UNDO_LIMIT) state.undo.shift();
  updateButtons();
}

function toImagePixels(event) {
  const box = maskCanvas.getBoundingClientRect();
  return {
    x: (event.clientX - box.left) * (maskCanvas.width / box.width),
    y: (event.clientY - box.top) * (maskCanvas.height / box.height),
    scale: maskCanvas.width / box.width,
  };
}

function paintSegment(from, to) {
  maskContext.save();
  maskContext.globalCompositeOperation = state.tool === "erase" ? "destination-out" : "source-over";
  maskContext.strokeStyle = `rgb(${MASK_COLOUR.join(",")})`;
  maskContext.lineWidth = Number($("brush-size").value) * to.scale;
  maskContext.lineCap = "round";
  maskContext.lineJoin = "round";
  maskContext.beginPath();
  maskContext.moveTo(from.x, from.y);
  maskContext.lineTo(to.x, to.y);
  maskContext.stroke();
  maskContext.restore();
}

maskCanvas.addEventListener("pointerdown", async (event) => {
  if (state.busy || event.button !== 0) return;
  if (document.body.dataset.state !== "editing") {
    // Painting after an Inpaint continues on the result.
    await drawBlob(state.resultBlob);
    setState("editing");
  }
  maskCanvas.setPointerCapture(event.pointerId);
  rememberMask();
  state.stroke = toImagePixels(event);
  paintSegment(state.stroke, state.stroke);
});

maskCanvas.addEventListener("pointermove", (event) => {
  if (!state.stroke) return;
  const point = toImagePixels(event);
  paintSegment(state.stroke, point);
  state.stroke = point;
});

for (const type of ["pointerup", "pointercancel"]) {
  maskCanvas.addEventListener(type, () => { state.stroke = null; });
}

function selectTool(tool) {
  state.tool = tool;
  $("tool-brush").classList.toggle("active", tool === "brush");
  $("tool-erase").classList.toggle("active", tool === "erase");
}

$("tool-brush").addEventListener("click", () => selectTool("brush"));
$("tool-erase").addEventListener("click", () => selectTool("erase"));
$("brush-size").addEventListener("input", (event) => {
  $("brush-size-value").textContent = event.target.value;
});

function undo() {
  const previous = state.undo.pop();
  if (previous) maskContext.putImageData(previous, 0, 0);
  updateButtons();
}

$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", () => {
  rememberMask();
  maskContext.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
});

document.addEventListener("keydown", (event) => {
  if (document.body.dataset.state === "empty" || state.busy) return;
  if ((event.ctrlKey || event.metaKey) && event.key === "z") {
    event.preventDefault();
    undo();
  } else if (event.key === "b") {
    selectTool("brush");
  } else if (event.key === "e") {
    selectTool("erase");
  }
});

// The mask as the API wants it: opaque PNG, white = hole, black = keep.
function maskBlob() {
  const { width, height } = maskCanvas;
  const painted = maskContext.getImageData(0, 0, width, height).data;
  const out = new ImageData(width, height);
  for (let i = 0; i < painted.length; i += 4) {
    const value = painted[i + 3] > 0 ? 255 : 0;
    out.data[i] = out.data[i + 1] = out.data[i + 2] = value;
    out.data[i + 3] = 255;
  }
  const canvas = document.createElement("canvas");
  Object.assign(canvas, { width, height });
  canvas.getContext("2d").putImageData(out, 0, 0);
  return canvasBlob(canvas);
}

// A server mask (white = hole) painted into the overlay, replacing it.
async function showMask(blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = document.createElement("canvas");
  Object.assign(canvas, { width: bitmap.width, height: bitmap.height });
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  const data = pixels.data;
  for (let i = 0; i < data.length; i += 4) {
    const hole = data[i] > 127;
    [data[i], data[i + 1], data[i + 2]] = MASK_COLOUR;
    data[i + 3] = hole ? 255 : 0;
  }
  maskContext.putImageData(pixels, 0, 0);
}

function maskIsEmpty() {
  const data = maskContext.getImageData(0, 0, maskCanvas.width, maskCanvas.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return false;
  return true;
}

// ---- server work ---------------------------------------------------------

$("find-holes").addEventListener("click", () => busy("Finding holes…", async () => {
  const mask = await post("/api/find-holes", { image: state.imageBlob });
  rememberMask();
  await showMask(mask);
}));

$("inpaint").addEventListener("click", () => {
  if (maskIsEmpty()) {
    showError("Paint over the part to remove first (or press Find holes).");
    return;
  }
  busy("Inpainting…", async () => {
    const mask = await maskBlob();
    const result = await post("/api/inpaint", { image: state.imageBlob, mask },
                              { strategy: $("strategy").value });
    forgetResult();
    Object.assign(state, {
      beforeBlob: state.imageBlob,
      resultBlob: result,
      resultUrl: URL.createObjectURL(result),
      sentMaskBlob: mask,
      imageBlob: result,  // further edits continue on the result
    });
    await drawBlob(result);
    rememberMask();
    maskContext.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
    $("download").href = state.resultUrl;
    $("download").download = `${state.name}_inpainted.png`;
    setState("result");
  });
});

$("toggle-before").addEventListener("click", async () => {
  const showBefore = document.body.dataset.state !== "before";
  await drawBlob(showBefore ? state.beforeBlob : state.resultBlob);
  setState(showBefore ? "before" : "result");
});

// ---- start ---------------------------------------------------------------

async function loadInfo() {
  try {
    const info = await (await fetch("/api/info")).json();
    $("run-info").textContent =
      `checkpoint step ${info.step}, trained on ${info.training_image_size} px crops; ` +
      `uploads up to ${(info.max_upload_bytes / 2 ** 20).toFixed(0)} MB`;
    for (const strategy of info.strategies) {
      const option = new Option(strategy, strategy, false, strategy === info.strategy);
      $("strategy").add(option);
    }
  } catch (error) {
    $("run-info").textContent = "";
    showError(`cannot reach the server: ${error.message}`);
  }
}

// For scripts and the end-to-end test: the page's state and its mask export.
window.genfill = { state, maskBlob };

updateButtons();
loadInfo();
