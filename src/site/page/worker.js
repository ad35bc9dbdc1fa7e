// Training in a Web Worker, so that the page stays responsive.
//
// The worker has its own engine (engine.js, chiffre_web.wasm). It fetches the MNIST files of
// the site once, begins a run, then trains a chunk of batches at a time: each chunk is timed
// with the browser's clock and sized to take about CHUNK_MS, and between two chunks the worker
// yields, so that "pause" and "stop" are answered at once. It reports the progress after each
// chunk, the first layer's weights and one test digit's feature maps every FILTERS_MS, and at the
// end the test accuracy and the network as a model file.
//
// Messages in: {type: "train", settings, engine ("simd128" to force that build)}, {type: "pause"}, {type: "resume"}, {type: "stop"}.
// Messages out: {type: "status", key, values}, {type: "progress", progress, imagesPerSecond,
// seconds}, {type: "filters", filters, maps}, {type: "done", result, model}, {type: "error", key, message}.
"use strict";

/* global ChiffreEngine */
importScripts("engine.js");

const CHUNK_MS = 100;
const FILTERS_MS = 1000;
// The test image whose feature maps are redrawn as the network learns (a 7).
const WATCHED = 0;
const FILES = [
  "mnist/train-images-idx3-ubyte.gz",
  "mnist/train-labels-idx1-ubyte.gz",
  "mnist/t10k-images-idx3-ubyte.gz",
  "mnist/t10k-labels-idx1-ubyte.gz",
];

let engine = null;
let dataLoaded = false;
let paused = false;
let stopped = false;
let running = false;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function loadData() {
  if (dataLoaded) return;
  const buffers = [];
  let total = 0;
  for (const url of FILES) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    total += bytes.length;
    buffers.push(bytes);
    postMessage({ type: "status", key: "status.data", values: { mb: (total / 1e6).toFixed(1) } });
  }
  buffers.forEach((bytes, i) => engine.data(i, bytes));
  dataLoaded = true;
}

async function train(settings, engineChoice) {
  running = true;
  paused = false;
  stopped = false;
  let stage = "load";
  try {
    if (!engine) engine = await ChiffreEngine.create(engineChoice);
    stage = "data";
    await loadData();
    stage = "settings";
    engine.trainBegin(settings);
    stage = "training";
    let batches = 1;
    let trainMs = 0;
    let images = 0;
    let lastSeen = 0;
    let lastFilters = -Infinity;
    for (;;) {
      if (stopped) break;
      if (paused) {
        await sleep(50);
        continue;
      }
      const t0 = performance.now();
      const progress = engine.trainStep(batches);
      const ms = performance.now() - t0;
      trainMs += ms;
      images += progress.seen >= lastSeen ? progress.seen - lastSeen : progress.seen;
      lastSeen = progress.seen === progress.total ? 0 : progress.seen;
      // The next chunk: about CHUNK_MS, growing or shrinking by at most a factor of 2.
      const perBatch = ms / batches;
      batches = Math.max(1, Math.min(batches * 2, Math.round(CHUNK_MS / Math.max(perBatch, 0.01))));
      const now = performance.now();
      postMessage({
        type: "progress",
        progress,
        imagesPerSecond: images / (trainMs / 1000),
        seconds: trainMs / 1000,
      });
      if (now - lastFilters > FILTERS_MS || progress.done) {
        postMessage({ type: "filters", filters: engine.trainFilters(), maps: engine.trainInspect(WATCHED) });
        lastFilters = now;
      }
      if (progress.done) break;
      await sleep(0);
    }
    postMessage({ type: "status", key: "status.testing", values: {} });
    await sleep(0);
    const result = engine.trainEvaluate(0);
    const model = engine.trainSave();
    postMessage(
      {
        type: "done",
        stopped,
        result: {
          test_accuracy: result.test_accuracy,
          test_loss: result.test_loss,
          count: result.count,
          train_seconds: trainMs / 1000,
          images_per_second: images / (trainMs / 1000),
          images,
        },
        model: model.buffer,
      },
      [model.buffer],
    );
  } catch (e) {
    postMessage({ type: "error", key: e.code ? `error.${e.code}` : `error.${stage}`, message: e.message });
  } finally {
    running = false;
  }
}

onmessage = (event) => {
  const m = event.data;
  if (m.type === "train" && !running) train(m.settings, m.engine);
  else if (m.type === "pause") paused = true;
  else if (m.type === "resume") paused = false;
  else if (m.type === "stop") stopped = true;
};
