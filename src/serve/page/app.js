// chiffre serve: draw a digit or a number, watch the network read it.
//
// The drawing is sent as a PNG (at half size) to POST /api/predict?maps=1, where it is
// read as `chiffre predict` reads a picture: every digit found, each preprocessed
// MNIST-style. The answer gives the number, each digit's box, probabilities and
// 28×28 input, and, for a single digit, the feature maps. The boxes are drawn
// over the drawing; choosing a digit shows its probabilities and input.
// While drawing, at most one request is in flight and they are at least
// THROTTLE_MS apart; the last stroke is always sent.
"use strict";

const THROTTLE_MS = 120;
// The drawing is sent at half size: the digit ends up 20 pixels tall anyway,
// the strokes stay far wider than a pixel, and the server's preprocessing
// (proportional to the pixels) does a quarter of the work.
const SEND_W = 280;
const SEND_H = 140;
const BRUSH = 0.075; // brush width, as a fraction of the canvas height: a marker

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
const boxes = document.getElementById("boxes");
const chips = document.getElementById("chips");
const barsTitle = document.getElementById("bars-title");

let drawing = false;
let hasInk = false;
let last = null;
let inFlight = false;
let dirty = false;
let lastSent = 0;
let timer = null;
let pendingFile = null; // an uploaded file, sent as it is (not re-encoded)
// How the picture sent maps onto the pad: pad = offset + scale × picture pixel.
let view = { scale: 1, dx: 0, dy: 0 };
let shownDigits = []; // the digits of the last answer

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
  ctx.lineWidth = BRUSH * pad.height;
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
    view = { scale, dx: (pad.width - w) / 2, dy: (pad.height - h) / 2 };
    ctx.drawImage(bitmap, view.dx, view.dy, w, h);
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
sendCanvas.width = SEND_W;
sendCanvas.height = SEND_H;

function body() {
  if (pendingFile) return Promise.resolve([pendingFile, pendingFile.type || "application/octet-stream"]);
  view = { scale: pad.width / SEND_W, dx: 0, dy: 0 };
  const small = sendCanvas.getContext("2d");
  small.imageSmoothingEnabled = true;
  small.imageSmoothingQuality = "high";
  small.drawImage(pad, 0, 0, SEND_W, SEND_H);
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
  showChips([]);
  setBusy();
}

// --- the digits of a number: boxes over the drawing, one chip each --------------
function drawBoxes(selected) {
  const c = boxes.getContext("2d");
  c.clearRect(0, 0, boxes.width, boxes.height);
  shownDigits.forEach((d, k) => {
    const [x, y, w, h] = d.box;
    const on = k === selected && shownDigits.length > 1;
    c.strokeStyle = on ? "#2f6fde" : "#f07800";
    c.lineWidth = on ? 4 : 2;
    const m = 4; // a little room around the ink
    c.strokeRect(view.dx + view.scale * x - m, view.dy + view.scale * y - m, view.scale * w + 2 * m, view.scale * h + 2 * m);
  });
}

function select(k) {
  const d = shownDigits[k];
  if (!d) return;
  d.probabilities.forEach((p, digit) => setBar(barRows[digit], digit, p, digit === d.digit));
  paintGray(seen, 28, 28, d.input.map((v) => Math.round(255 * v)));
  barsTitle.textContent =
    d.digit === null
      ? `Mark ${k + 1} of ${shownDigits.length}: not a digit (${(100 * d.digit_probability).toFixed(1)} % a digit)`
      : `Digit ${k + 1} of ${shownDigits.length}: ${d.digit}, ${(100 * d.confidence).toFixed(1)} % sure`;
  chips.querySelectorAll("button").forEach((b, i) => b.setAttribute("aria-pressed", String(i === k)));
  drawBoxes(k);
}

function showChips(digits) {
  shownDigits = digits;
  chips.replaceChildren();
  const several = digits.length > 1;
  chips.hidden = !several;
  barsTitle.hidden = !several;
  digits.forEach((d, k) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-pressed", "false");
    const name = d.digit === null ? "not a digit" : String(d.digit);
    button.setAttribute("aria-label", `mark ${k + 1}: ${name}, ${(100 * d.confidence).toFixed(0)} percent`);
    const input = document.createElement("canvas");
    paintGray(input, 28, 28, d.input.map((v) => Math.round(255 * v)));
    const label = document.createElement("span");
    label.className = "d";
    label.textContent = d.digit === null ? "?" : String(d.digit);
    const pct = document.createElement("span");
    pct.className = "p";
    pct.textContent = `${(100 * d.confidence).toFixed(0)} %`;
    button.append(input, label, pct);
    for (const event of ["click", "mouseenter", "focus"]) button.addEventListener(event, () => select(k));
    li.appendChild(button);
    chips.appendChild(li);
  });
  drawBoxes(several ? 0 : -1);
}

function setBar(li, d, p, top) {
  li.querySelector(".fill").style.width = p === null ? "0" : `${(100 * p).toFixed(1)}%`;
  li.querySelector(".pct").textContent = p === null ? "–" : `${(100 * p).toFixed(1)} %`;
  li.classList.toggle("top", !!top);
  li.setAttribute("aria-label", p === null ? `digit ${d}: no reading yet` : `digit ${d}: ${(100 * p).toFixed(1)} percent`);
}

function show(answer) {
  message.textContent = "";
  const digits = answer.digits || [];
  showChips(digits);
  if (answer.digit !== undefined) {
    // One mark: its probabilities, its input and the feature maps.
    if (answer.digit === null) {
      // The network's "not a digit" gate: say so rather than guess.
      digitOut.textContent = "–";
      confidenceOut.textContent = `${(100 * answer.digit_probability).toFixed(1)} % a digit`;
      message.textContent = "I don't see a digit.";
    } else {
      digitOut.textContent = String(answer.digit);
      confidenceOut.textContent = `${(100 * answer.confidence).toFixed(1)} % sure`;
    }
    answer.probabilities.forEach((p, d) => setBar(barRows[d], d, p, d === answer.digit));
    paintGray(seen, 28, 28, answer.input.map((v) => Math.round(255 * v)));
    showMaps(answer.maps || []);
    return;
  }
  // A number: the text, then the first digit chosen.
  digitOut.textContent = answer.number.replace(/\n/g, " / ");
  const least = Math.min(...digits.map((d) => d.confidence));
  const unread = digits.filter((d) => d.digit === null).length;
  confidenceOut.textContent = `${digits.length} marks, the least sure at ${(100 * least).toFixed(1)} %`;
  if (unread > 0) message.textContent = `I don't see a digit in ${unread === 1 ? "one mark" : `${unread} marks`} (?).`;
  mapsPanel.hidden = true;
  select(0);
}

function showError(text) {
  digitOut.textContent = "?";
  confidenceOut.textContent = "";
  message.textContent = text;
  showChips([]);
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
