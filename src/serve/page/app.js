// chiffre serve: draw a digit, watch the network read it.
//
// The drawing is sent as a PNG (at half size) to POST /api/predict?maps=1, where it goes
// through the same preprocessing as `chiffre predict`; the answer gives the
// probabilities, the 28×28 picture the network saw and the feature maps.
// While drawing, at most one request is in flight and they are at least
// THROTTLE_MS apart; the last stroke is always sent.
"use strict";

const THROTTLE_MS = 120;
// The drawing is sent at half size: the digit ends up 20 pixels tall anyway,
// the strokes stay far wider than a pixel, and the server's preprocessing
// (proportional to the pixels) does a quarter of the work.
const SEND_SIDE = 140;
const BRUSH = 0.075; // brush width, as a fraction of the canvas side: a marker

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const seen = document.getElementById("seen");
const result = document.getElementById("result");
const digitOut = document.getElementById("digit");
const confidenceOut = document.getElementById("confidence");
const message = document.getElementById("message");
const bars = document.getElementById("bars");
const mapsPanel = document.getElementById("maps-panel");
const mapsBox = document.getElementById("maps");
const fileInput = document.getElementById("file");
const drop = document.getElementById("drop");

let drawing = false;
let hasInk = false;
let last = null;
let inFlight = false;
let dirty = false;
let lastSent = 0;
let timer = null;
let pendingFile = null; // an uploaded file, sent as it is (not re-encoded)

// --- the probability bars -------------------------------------------------
const barRows = [];
for (let d = 0; d < 10; d++) {
  const li = document.createElement("li");
  li.innerHTML = `<span class="label">${d}</span><span class="track"><span class="fill"></span></span><span class="pct">–</span>`;
  li.setAttribute("aria-label", `digit ${d}: no reading yet`);
  bars.appendChild(li);
  barRows.push(li);
}

// --- drawing ----------------------------------------------------------------
function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
  pendingFile = null;
  dirty = false;
  showEmpty();
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
  ctx.lineWidth = BRUSH * pad.width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
}

pad.addEventListener("pointerdown", (event) => {
  if (event.button !== undefined && event.button > 0) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  pendingFile = null;
  last = point(event);
  stroke(last, last); // a dot where the pen lands
  hasInk = true;
  schedule();
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) {
    const p = point(e);
    stroke(last, p);
    last = p;
  }
  schedule();
});

function endStroke(event) {
  if (!drawing) return;
  drawing = false;
  if (pad.hasPointerCapture(event.pointerId)) pad.releasePointerCapture(event.pointerId);
  schedule();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

document.getElementById("clear").addEventListener("click", clearPad);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") clearPad();
});

// --- pictures from files ------------------------------------------------------
async function openFile(file) {
  if (!file) return;
  pendingFile = file;
  hasInk = true;
  try {
    const bitmap = await createImageBitmap(file);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const w = bitmap.width * scale;
    const h = bitmap.height * scale;
    ctx.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  } catch (_) {
    // The browser cannot show it; the server still says what it makes of it.
  }
  schedule();
}

fileInput.addEventListener("change", () => {
  openFile(fileInput.files[0]);
  fileInput.value = "";
});
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  openFile(event.dataTransfer.files[0]);
});

// --- asking the server, throttled ---------------------------------------------
function setBusy() {
  result.setAttribute("aria-busy", String(inFlight || dirty || timer !== null));
}

function schedule() {
  if (!hasInk) return;
  dirty = true;
  if (!inFlight && timer === null) {
    const wait = Math.max(0, lastSent + THROTTLE_MS - performance.now());
    timer = setTimeout(() => {
      timer = null;
      send();
    }, wait);
  }
  setBusy();
}

const sendCanvas = document.createElement("canvas");
sendCanvas.width = SEND_SIDE;
sendCanvas.height = SEND_SIDE;

function body() {
  if (pendingFile) return Promise.resolve([pendingFile, pendingFile.type || "application/octet-stream"]);
  const small = sendCanvas.getContext("2d");
  small.imageSmoothingEnabled = true;
  small.imageSmoothingQuality = "high";
  small.drawImage(pad, 0, 0, SEND_SIDE, SEND_SIDE);
  return new Promise((resolve) => sendCanvas.toBlob((blob) => resolve([blob, "image/png"]), "image/png"));
}

async function send() {
  if (!dirty || !hasInk) {
    setBusy();
    return;
  }
  dirty = false;
  inFlight = true;
  lastSent = performance.now();
  setBusy();
  try {
    const [blob, type] = await body();
    const response = await fetch("api/predict?maps=1", {
      method: "POST",
      headers: { "Content-Type": type },
      body: blob,
    });
    const answer = await response.json();
    if (!hasInk) {
      // Cleared while the request was out: show nothing.
    } else if (response.ok) {
      show(answer);
    } else {
      showError(answer.error || `error ${response.status}`);
    }
  } catch (error) {
    showError(`cannot reach the server: ${error.message}`);
  } finally {
    inFlight = false;
    if (dirty) schedule();
    setBusy();
  }
}

// --- showing the answer ---------------------------------------------------------
function showEmpty() {
  digitOut.textContent = "?";
  confidenceOut.textContent = "";
  message.textContent = "";
  barRows.forEach((li, d) => setBar(li, d, null));
  seen.getContext("2d").clearRect(0, 0, seen.width, seen.height);
  mapsPanel.hidden = true;
  setBusy();
}

function setBar(li, d, p, top) {
  li.querySelector(".fill").style.width = p === null ? "0" : `${(100 * p).toFixed(1)}%`;
  li.querySelector(".pct").textContent = p === null ? "–" : `${(100 * p).toFixed(1)} %`;
  li.classList.toggle("top", !!top);
  li.setAttribute("aria-label", p === null ? `digit ${d}: no reading yet` : `digit ${d}: ${(100 * p).toFixed(1)} percent`);
}

function show(answer) {
  digitOut.textContent = String(answer.digit);
  confidenceOut.textContent = `${(100 * answer.confidence).toFixed(1)} % sure`;
  message.textContent = "";
  answer.probabilities.forEach((p, d) => setBar(barRows[d], d, p, d === answer.digit));
  paintGray(seen, 28, 28, answer.input.map((v) => Math.round(255 * v)));
  showMaps(answer.maps || []);
}

function showError(text) {
  digitOut.textContent = "?";
  confidenceOut.textContent = "";
  message.textContent = text;
  barRows.forEach((li, d) => setBar(li, d, null));
  mapsPanel.hidden = true;
}

function paintGray(canvas, w, h, values) {
  canvas.width = w;
  canvas.height = h;
  const c = canvas.getContext("2d");
  const image = c.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = values[i];
    image.data[4 * i] = v;
    image.data[4 * i + 1] = v;
    image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  c.putImageData(image, 0, 0);
}

const mapGroups = new Map(); // label → {section, grid, canvases}

function showMaps(maps) {
  mapsPanel.hidden = maps.length === 0;
  for (const m of maps) {
    let group = mapGroups.get(m.label);
    if (!group) {
      const section = document.createElement("div");
      section.className = "maps-group";
      const title = document.createElement("h3");
      const grid = document.createElement("div");
      grid.className = "maps-grid";
      section.append(title, grid);
      mapsBox.appendChild(section);
      group = { title, grid, canvases: [] };
      mapGroups.set(m.label, group);
    }
    const [h, w, c] = m.shape;
    group.title.textContent = `${m.label} (layer ${m.index}): ${c} maps of ${h}×${w}`;
    while (group.canvases.length < c) {
      const canvas = document.createElement("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `${m.label}, map ${group.canvases.length + 1}`);
      group.grid.appendChild(canvas);
      group.canvases.push(canvas);
    }
    m.channels.forEach((values, i) => paintGray(group.canvases[i], w, h, values));
  }
}

// --- the model, once ------------------------------------------------------------
fetch("api/model")
  .then((r) => r.json())
  .then((m) => {
    const accuracy = typeof m.test_accuracy === "number" ? `, test accuracy ${(100 * m.test_accuracy).toFixed(2)} %` : "";
    document.getElementById("model-info").textContent =
      `Model: ${m.name} (${m.parameters.toLocaleString("en")} parameters${accuracy}).`;
  })
  .catch(() => {});

clearPad();
