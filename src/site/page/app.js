// chiffre's page, the Read tab and the page's JavaScript API (window.chiffre).
//
// The engine (engine.js, chiffre_web.wasm) runs in this page: a drawing or a dropped picture is
// handed to it as RGBA pixels and read exactly as `chiffre predict` reads a picture file (the
// engine's own preprocessing and number reading). While drawing, the reading is redone at most
// once per animation frame; what every layer makes of the chosen digit is drawn when the stroke
// ends. The Learn tab is learn.js; it hands the network it trains to `chiffreApp.useModel`.
"use strict";

/* global t, setLanguage, currentLanguage, formatNumber, ChiffreEngine, ChiffreError */

const BRUSH = 0.075; // pen width, as a fraction of the pad's height: a marker
// ?engine=simd128 runs the SIMD128 build even where relaxed SIMD is there (to compare them).
const engineChoice = new URLSearchParams(location.search).get("engine") || "auto";

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });
const boxes = $("boxes");

const state = {
  engine: null,
  models: [], // models/index.json
  modelName: "",
  hasGate: true,
  reading: null,
  chosen: 0,
  drawing: false,
  last: null,
  hasInk: false,
  frame: 0,
  // How the picture read maps onto the pad: pad = offset + scale × picture pixel.
  view: { scale: 1, dx: 0, dy: 0 },
  picture: null, // an opened picture's ImageData, read as it is
};

// --- messages -----------------------------------------------------------------------------
function fatal(key, values) {
  const el = $("fatal");
  el.textContent = t(key, values);
  el.hidden = false;
}
function errorKey(e) {
  return e instanceof ChiffreError ? `error.${e.code}` : "error.load";
}

// --- the bars -----------------------------------------------------------------------------
const barRows = [];
for (let d = 0; d < 10; d++) {
  const li = document.createElement("li");
  li.innerHTML = `<span class="label">${d}</span><span class="track"><span class="fill"></span></span><span class="pct">–</span>`;
  $("bars").appendChild(li);
  barRows.push(li);
}
function showBars(probabilities) {
  const best = probabilities ? probabilities.indexOf(Math.max(...probabilities)) : -1;
  barRows.forEach((li, d) => {
    const p = probabilities ? probabilities[d] : 0;
    li.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    li.querySelector(".pct").textContent = probabilities ? `${formatNumber(100 * p, 1)} %` : "–";
    li.classList.toggle("top", d === best);
  });
}

// --- drawing ------------------------------------------------------------------------------
function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  state.hasInk = false;
  state.picture = null;
  state.view = { scale: 1, dx: 0, dy: 0 };
  state.reading = null;
  showReading();
}
function point(event) {
  const rect = pad.getBoundingClientRect();
  return {
    x: ((event.clientX - rect.left) * pad.width) / rect.width,
    y: ((event.clientY - rect.top) * pad.height) / rect.height,
  };
}
function stroke(from, to) {
  ctx.strokeStyle = "#000";
  ctx.lineWidth = BRUSH * pad.height;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
}
pad.addEventListener("pointerdown", (event) => {
  if (event.button > 0) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  if (state.picture) clearPad(); // drawing starts afresh over an opened picture
  state.drawing = true;
  state.last = point(event);
  stroke(state.last, state.last);
  state.hasInk = true;
  schedule();
});
pad.addEventListener("pointermove", (event) => {
  if (!state.drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const e of events.length ? events : [event]) {
    const p = point(e);
    stroke(state.last, p);
    state.last = p;
  }
  schedule();
});
function endStroke(event) {
  if (!state.drawing) return;
  state.drawing = false;
  if (pad.hasPointerCapture(event.pointerId)) pad.releasePointerCapture(event.pointerId);
  readNow(true);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
$("clear").addEventListener("click", clearPad);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") clearPad();
});

// --- pictures -----------------------------------------------------------------------------
async function openPicture(file) {
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const bitmap = await createImageBitmap(file);
    // PNG and JPEG are decoded by the engine itself, exactly as `chiffre predict` decodes them;
    // other formats the browser shows are read from the canvas (transparency then approximated).
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const c = canvas.getContext("2d", { willReadFrequently: true });
    c.drawImage(bitmap, 0, 0);
    state.picture = { bytes, imageData: c.getImageData(0, 0, bitmap.width, bitmap.height), name: file.name };
    // Shown on the pad, whole and centred, over white.
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    state.view = { scale, dx: (pad.width - bitmap.width * scale) / 2, dy: (pad.height - bitmap.height * scale) / 2 };
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    ctx.drawImage(bitmap, state.view.dx, state.view.dy, bitmap.width * scale, bitmap.height * scale);
    state.hasInk = true;
    readNow(true);
  } catch (e) {
    state.reading = null;
    showReading(t("error.picture", { message: `${file.name}: ${e.message || e}` }));
  }
}
$("file").addEventListener("change", () => {
  if ($("file").files[0]) openPicture($("file").files[0]);
  $("file").value = "";
});
const drop = $("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  const file = event.dataTransfer.files[0];
  if (file) openPicture(file);
});

// --- reading ------------------------------------------------------------------------------
function schedule() {
  if (!state.frame) state.frame = requestAnimationFrame(() => readNow(false));
}
function readNow(inspect) {
  if (state.frame) cancelAnimationFrame(state.frame);
  state.frame = 0;
  if (!state.engine || !state.hasInk) return;
  try {
    state.reading = readPicture();
    state.chosen = Math.min(state.chosen, Math.max(0, state.reading.digits.length - 1));
    showReading();
    if (inspect) showMaps();
  } catch (e) {
    state.reading = null;
    showReading(t("error.picture", { message: e.message }));
  }
}

/** The reading of the opened picture (its file, or else its pixels) or of the drawing. */
function readPicture() {
  const picture = state.picture;
  if (!picture) return state.engine.read(ctx.getImageData(0, 0, pad.width, pad.height));
  try {
    return state.engine.readFile(picture.bytes);
  } catch (e) {
    if (/^\x89PNG|^\xff\xd8/.test(String.fromCharCode(...picture.bytes.subarray(0, 4)))) throw e;
    return state.engine.read(picture.imageData);
  }
}

function drawGray(canvas, values, w, h, lo, hi) {
  canvas.width = w;
  canvas.height = h;
  const c = canvas.getContext("2d");
  const img = c.createImageData(w, h);
  const span = hi - lo || 1;
  for (let i = 0; i < w * h; i++) {
    const v = Math.max(0, Math.min(255, Math.round((255 * (values[i] - lo)) / span)));
    img.data.set([v, v, v, 255], 4 * i);
  }
  c.putImageData(img, 0, 0);
}

function showReading(error) {
  const reading = state.reading;
  const digits = reading ? reading.digits : [];
  const number = $("number");
  $("message").textContent = error || (state.hasGate ? "" : t("result.noGate"));
  $("message").classList.toggle("error", Boolean(error));
  number.classList.remove("not-digit");
  if (!reading || digits.length === 0) {
    number.textContent = "–";
    $("confidence").textContent = state.hasInk || error ? "" : t("result.empty");
  } else if (digits.length === 1 && digits[0].digit === null) {
    number.textContent = t("result.notDigit");
    number.classList.add("not-digit");
    $("confidence").textContent = "";
  } else {
    number.textContent = reading.number;
    const least = Math.min(...digits.map((d) => (d.digit === null ? 0 : d.confidence)));
    $("confidence").textContent = t("result.confidence", { p: formatNumber(100 * least, 1) });
  }
  // One chip per digit: choosing one shows its probabilities and its maps.
  const chips = $("chips");
  chips.replaceChildren();
  if (digits.length > 1) {
    digits.forEach((d, k) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = d.digit === null ? "?" : String(d.digit);
      b.setAttribute("aria-pressed", String(k === state.chosen));
      b.addEventListener("click", () => {
        state.chosen = k;
        showReading();
        showMaps();
      });
      li.appendChild(b);
      chips.appendChild(li);
    });
  }
  const chosen = digits[state.chosen];
  $("bars-title").textContent =
    digits.length > 1 ? t("result.digitOf", { k: state.chosen + 1, n: digits.length }) : "";
  showBars(chosen ? chosen.probabilities : null);
  // The inputs the network saw.
  const inputs = $("inputs");
  inputs.replaceChildren();
  digits.forEach((d) => {
    const fig = document.createElement("figure");
    const canvas = document.createElement("canvas");
    drawGray(canvas, d.input, 28, 28, 0, 1);
    const caption = document.createElement("figcaption");
    caption.textContent = d.digit === null ? t("result.notDigitMark") : String(d.digit);
    fig.append(canvas, caption);
    inputs.appendChild(fig);
  });
  // The boxes over the drawing.
  const b = boxes.getContext("2d");
  b.clearRect(0, 0, boxes.width, boxes.height);
  const v = state.view;
  digits.forEach((d, k) => {
    const [x, y, w, h] = d.box;
    b.strokeStyle = d.digit === null ? "#b3261e" : k === state.chosen ? "#1a5fb4" : "#7f9cc4";
    b.lineWidth = 2;
    b.strokeRect(v.dx + x * v.scale - 3, v.dy + y * v.scale - 3, w * v.scale + 6, h * v.scale + 6);
  });
}

/** Every layer's output for the chosen digit: feature maps as small pictures, vectors as a strip. */
function showMaps() {
  const box = $("maps");
  box.replaceChildren();
  if (!state.reading || !state.reading.digits[state.chosen]) return;
  let layers;
  try {
    layers = state.engine.inspect(state.chosen);
  } catch (e) {
    return;
  }
  layers.forEach((layer, i) => {
    const div = document.createElement("div");
    div.className = "layer";
    const h3 = document.createElement("h3");
    const name = t(`layer.${layer.kind}`);
    h3.innerHTML = `${i + 1}. ${name} <small>${layer.shape.join(" × ")}</small>`;
    const maps = document.createElement("div");
    maps.className = "maps";
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of layer.values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    if (layer.shape.length === 3) {
      const [h, w, c] = layer.shape;
      const zoom = Math.max(1, Math.round(52 / Math.max(h, w)));
      for (let k = 0; k < Math.min(c, 64); k++) {
        const channel = new Float32Array(h * w);
        for (let p = 0; p < h * w; p++) channel[p] = layer.values[p * c + k];
        let clo = Infinity;
        let chi = -Infinity;
        for (const v of channel) {
          clo = Math.min(clo, v);
          chi = Math.max(chi, v);
        }
        const canvas = document.createElement("canvas");
        drawGray(canvas, channel, w, h, clo, chi);
        canvas.style.width = `${w * zoom}px`;
        canvas.style.height = `${h * zoom}px`;
        maps.appendChild(canvas);
      }
    } else {
      const n = layer.values.length;
      const canvas = document.createElement("canvas");
      drawGray(canvas, layer.values, n, 1, lo, hi);
      canvas.style.width = `${Math.min(1000, Math.max(200, n * (n <= 16 ? 24 : 2)))}px`;
      canvas.style.height = "14px";
      maps.appendChild(canvas);
    }
    div.append(h3, maps);
    box.appendChild(div);
  });
}

// --- models -------------------------------------------------------------------------------
async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
function describeModel(name, bytes, hasGate) {
  state.modelName = name;
  state.hasGate = hasGate;
  $("model-info").textContent = `${name} (${formatNumber(bytes / 1024, 0)} KiB), WebAssembly ${state.engine.kind}`;
}
async function chooseModel(index) {
  const m = state.models[index];
  const bytes = await fetchBytes(m.file);
  state.engine.load(bytes);
  describeModel(m.name, bytes.length, m.not_a_digit);
  readNow(true);
}
$("model-choice").addEventListener("change", () =>
  chooseModel(Number($("model-choice").value)).catch((e) => fatal(errorKey(e), { message: e.message })),
);
$("model-file").addEventListener("change", async () => {
  const file = $("model-file").files[0];
  $("model-file").value = "";
  if (!file) return;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    state.engine.load(bytes);
    describeModel(file.name, bytes.length, true);
    $("message").textContent = "";
    readNow(true);
  } catch (e) {
    showReading(t("error.model", { message: e.message }));
  }
});

// --- tabs and language ----------------------------------------------------------------------
function showTab(name) {
  for (const tab of ["read", "learn", "xo"]) {
    $(tab).hidden = tab !== name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
  }
}
$("tab-read").addEventListener("click", () => showTab("read"));
$("tab-learn").addEventListener("click", () => showTab("learn"));
$("tab-xo").addEventListener("click", () => showTab("xo"));
$("lang").addEventListener("click", () => setLanguage(currentLanguage() === "fr" ? "en" : "fr"));
document.addEventListener("chiffre:language", () => {
  showReading();
  showMaps();
});

// --- start --------------------------------------------------------------------------------
async function start() {
  setLanguage(currentLanguage());
  clearPad();
  state.engine = await ChiffreEngine.create(engineChoice);
  const index = await (await fetch("models/index.json")).json();
  state.models = index.models;
  state.mnist = index.mnist;
  const select = $("model-choice");
  state.models.forEach((m, i) => select.add(new Option(`${m.name} (${formatNumber(m.parameters, 0)})`, String(i))));
  await chooseModel(0);
}

const ready = start();
ready.catch((e) => fatal(errorKey(e), { message: e.message }));

/** What learn.js needs from this page. */
window.chiffreApp = {
  state,
  engineChoice,
  showTab,
  /** Reads with a network trained in the page (a model file's bytes). */
  useModel(bytes, name) {
    state.engine.load(bytes);
    describeModel(name, bytes.length, false);
    readNow(true);
  },
};

/**
 * The page's API, for scripts and other pages (see the README):
 * - `ready`: a Promise, resolved when the engine and the model are loaded;
 * - `read(imageData)`: the object of one line of `chiffre predict --json` for those pixels;
 * - `readFile(file)`: the same for a picture file (PNG, JPEG), decoded as `chiffre predict` decodes it;
 * - `train({arch, epochs, limit, batchSize, seed, optimizer, lr})`: a Promise of
 *   {test_accuracy, train_seconds, images_per_second} (training in the worker, the page's curves
 *   updated as usual; the network trained then reads the drawings);
 * - `language` and `setLanguage("en" | "fr")`.
 */
window.chiffre = {
  ready: ready.then(() => undefined),
  read(imageData) {
    if (!state.engine) throw new Error("chiffre is not ready: wait for chiffre.ready");
    const reading = state.engine.read(imageData);
    for (const d of reading.digits) d.input = Array.from(d.input);
    return reading;
  },
  /** The object of `chiffre predict --json` for a picture file (a Blob, File, ArrayBuffer or Uint8Array; PNG or JPEG). */
  async readFile(file) {
    if (!state.engine) throw new Error("chiffre is not ready: wait for chiffre.ready");
    const bytes = file instanceof Blob ? new Uint8Array(await file.arrayBuffer()) : new Uint8Array(file);
    const reading = state.engine.readFile(bytes);
    for (const d of reading.digits) d.input = Array.from(d.input);
    return reading;
  },
  train(options) {
    return window.chiffreLearn.train(options || {});
  },
  /** The engine itself (see engine.js): predict(pixels), predictBatch(inputs), inspect(k)… */
  get engine() {
    return state.engine;
  },
  get language() {
    return currentLanguage();
  },
  setLanguage,
};
