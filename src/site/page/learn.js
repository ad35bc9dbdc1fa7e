// The Learn tab: settings, Train / Pause / Stop / Save, live curves and the first layer's weights.
//
// Training runs in worker.js; this file only draws what it reports. When a run ends, its
// network becomes the one the Read tab reads with, and Save offers it as a .safetensors file
// that `chiffre eval`, `predict` and `serve` read.
"use strict";

/* global t, formatNumber, drawGray */

(function learn() {
  const $ = (id) => document.getElementById(id);
  const curves = $("curves");
  let worker = null;
  let run = null; // {settings, points: [{x, loss, accuracy}], resolve, reject, epochs}
  let saved = null; // {bytes, name}
  let lastFilters = null;
  let statusKey = ["status.idle", {}];

  function status(key, values, isError) {
    statusKey = [key, values || {}, isError];
    $("status").textContent = t(key, values);
    $("status").classList.toggle("error", Boolean(isError));
  }

  function buttons(training) {
    $("train").disabled = training;
    $("pause").disabled = !training;
    $("stop").disabled = !training;
    $("save").disabled = training || !saved;
    $("pause").textContent = t("learn.pause");
    $("pause").dataset.i18n = "learn.pause";
    for (const el of $("settings").elements) el.disabled = training;
  }

  /** The form's settings, in the engine's terms; null fields are the network's own. */
  function formSettings() {
    const number = (id) => ($(id).value === "" ? null : Number($(id).value));
    return {
      arch: $("arch").value,
      optimizer: $("optimizer").value || null,
      lr: number("lr"),
      batchSize: number("batch"),
      epochs: number("epochs"),
      limit: number("limit"),
      seed: number("seed"),
    };
  }

  // --- drawing the curves -----------------------------------------------------------------
  function drawCurves() {
    const c = curves.getContext("2d");
    const [w, h] = [curves.width, curves.height];
    const [left, right, top, bottom] = [44, 44, 12, 28];
    c.clearRect(0, 0, w, h);
    c.font = "12px system-ui, sans-serif";
    c.strokeStyle = "#d9dce1";
    c.fillStyle = "#5f6368";
    c.strokeRect(left, top, w - left - right, h - top - bottom);
    const points = run ? run.points : [];
    const xMax = run ? run.total : 1;
    const lossMax = Math.max(0.5, ...points.map((p) => p.loss));
    for (let k = 0; k <= 4; k++) {
      const y = top + ((h - top - bottom) * k) / 4;
      c.fillText(formatNumber(lossMax * (1 - k / 4), 2), 4, y + 4);
      c.fillText(`${formatNumber(100 * (1 - k / 4), 0)} %`, w - right + 4, y + 4);
    }
    c.fillText(formatNumber(xMax, 0), w - right - 40, h - 8);
    c.fillText("0", left, h - 8);
    const plot = (key, colour, max) => {
      c.strokeStyle = colour;
      c.lineWidth = 2;
      c.beginPath();
      points.forEach((p, i) => {
        const x = left + ((w - left - right) * p.x) / xMax;
        const y = top + (h - top - bottom) * (1 - p[key] / max);
        if (i === 0) c.moveTo(x, y);
        else c.lineTo(x, y);
      });
      c.stroke();
    };
    plot("loss", "#c0392b", lossMax);
    plot("accuracy", "#1a5fb4", 1);
  }

  /** The first layer's weights: blue negative, red positive, each picture on the layer's range. */
  function drawFilters(filters) {
    lastFilters = filters;
    const box = $("filters");
    box.replaceChildren();
    const [n, fh, fw] = filters.shape;
    const span = Math.max(1e-6, ...filters.values.map(Math.abs));
    const maps = document.createElement("div");
    maps.className = "maps";
    for (let k = 0; k < n; k++) {
      const canvas = document.createElement("canvas");
      canvas.width = fw;
      canvas.height = fh;
      const c = canvas.getContext("2d");
      const img = c.createImageData(fw, fh);
      for (let p = 0; p < fh * fw; p++) {
        const v = filters.values[k * fh * fw + p] / span;
        const a = Math.round(255 * Math.min(1, Math.abs(v)));
        img.data.set(v >= 0 ? [255, 255 - a, 255 - a, 255] : [255 - a, 255 - a, 255, 255], 4 * p);
      }
      c.putImageData(img, 0, 0);
      maps.appendChild(canvas);
    }
    box.appendChild(maps);
  }

  /** The watched test digit and its maps: each channel on its own range, vectors as a strip. */
  function drawMaps(maps) {
    const box = $("learn-maps");
    box.replaceChildren();
    const input = document.createElement("canvas");
    drawGray(input, maps.input, 28, 28, 0, 1);
    input.style.width = input.style.height = "84px";
    box.appendChild(input);
    if (maps.shape.length === 3) {
      const [h, w, c] = maps.shape;
      for (let k = 0; k < Math.min(c, 64); k++) {
        const channel = new Float32Array(h * w);
        for (let p = 0; p < h * w; p++) channel[p] = maps.values[p * c + k];
        const canvas = document.createElement("canvas");
        drawGray(canvas, channel, w, h, Math.min(...channel), Math.max(...channel));
        canvas.style.width = canvas.style.height = "52px";
        box.appendChild(canvas);
      }
    } else {
      const canvas = document.createElement("canvas");
      drawGray(canvas, maps.values, maps.values.length, 1, Math.min(...maps.values), Math.max(...maps.values));
      canvas.style.width = "600px";
      canvas.style.height = "20px";
      box.appendChild(canvas);
    }
  }

  // --- the worker -------------------------------------------------------------------------
  function onMessage(event) {
    const m = event.data;
    if (!run) return;
    if (m.type === "status") {
      status(m.key, m.values);
    } else if (m.type === "progress") {
      const p = m.progress;
      run.total = p.total * run.epochs;
      run.points.push({ x: (p.epoch - 1) * p.total + p.seen, loss: p.loss, accuracy: p.accuracy });
      drawCurves();
      status("status.progress", {
        epoch: p.epoch,
        epochs: run.epochs,
        seen: formatNumber(p.seen, 0),
        total: formatNumber(p.total, 0),
        loss: formatNumber(p.loss, 4),
        acc: formatNumber(100 * p.accuracy, 2),
        rate: formatNumber(m.imagesPerSecond, 0),
      });
    } else if (m.type === "filters") {
      drawFilters(m.filters);
      drawMaps(m.maps);
    } else if (m.type === "done") {
      const r = m.result;
      const bytes = new Uint8Array(m.model);
      saved = { bytes, name: `chiffre-${run.settings.arch}.safetensors` };
      window.chiffreApp.useModel(bytes, saved.name);
      status("status.done", {
        acc: formatNumber(100 * r.test_accuracy, 2),
        count: formatNumber(r.count, 0),
        seconds: formatNumber(r.train_seconds, 1),
        rate: formatNumber(r.images_per_second, 0),
      });
      const finished = run;
      run = { ...run, resolve: null, reject: null };
      buttons(false);
      finished.resolve({
        test_accuracy: r.test_accuracy,
        test_loss: r.test_loss,
        train_seconds: r.train_seconds,
        images_per_second: r.images_per_second,
        stopped: m.stopped,
      });
    } else if (m.type === "error") {
      status(m.key, { message: m.message }, true);
      const failed = run;
      run = { ...run, resolve: null, reject: null };
      buttons(false);
      failed.reject(new Error(m.message));
    }
  }

  /** Trains with `options` ({arch, epochs, limit, batchSize, seed, optimizer, lr}). */
  function train(options) {
    if (run && run.resolve) return Promise.reject(new Error("a training run is already going"));
    if (!window.chiffreApp.state.mnist) {
      status("error.noData", {}, true);
      return Promise.reject(new Error(t("error.noData")));
    }
    const settings = { arch: options.arch || "cnn" };
    const copy = { optimizer: "optimizer", lr: "lr", batchSize: "batch_size", epochs: "epochs", limit: "limit", seed: "seed" };
    for (const [from, to] of Object.entries(copy)) {
      if (options[from] !== undefined && options[from] !== null) settings[to] = options[from];
    }
    if (!worker) {
      worker = new Worker("worker.js");
      worker.onmessage = onMessage;
    }
    // The form shows the run's settings, whoever started it (the Train button or chiffre.train).
    $("arch").value = settings.arch;
    $("optimizer").value = settings.optimizer || "";
    const shown = { lr: "lr", batch: "batch_size", epochs: "epochs", limit: "limit", seed: "seed" };
    // An empty field is the network's own setting, as when the form is sent.
    for (const [id, key] of Object.entries(shown)) $(id).value = settings[key] ?? "";
    return new Promise((resolve, reject) => {
      run = { settings, points: [], total: 1, epochs: settings.epochs || 1, resolve, reject };
      saved = null;
      buttons(true);
      drawCurves();
      window.chiffreApp.showTab("learn");
      worker.postMessage({ type: "train", settings, engine: window.chiffreApp.engineChoice });
    });
  }

  $("train").addEventListener("click", () => {
    train(formSettings()).catch(() => {
      // Shown in the status line already.
    });
  });
  $("pause").addEventListener("click", () => {
    const pausing = $("pause").dataset.i18n === "learn.pause";
    worker.postMessage({ type: pausing ? "pause" : "resume" });
    $("pause").dataset.i18n = pausing ? "learn.resume" : "learn.pause";
    $("pause").textContent = t($("pause").dataset.i18n);
    if (pausing) status("status.paused");
  });
  $("stop").addEventListener("click", () => {
    worker.postMessage({ type: "resume" });
    worker.postMessage({ type: "stop" });
    status("status.stopped");
  });
  $("save").addEventListener("click", () => {
    if (!saved) return;
    const url = URL.createObjectURL(new Blob([saved.bytes], { type: "application/octet-stream" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = saved.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  document.addEventListener("chiffre:language", () => {
    status(...statusKey);
    drawCurves();
    if (lastFilters) drawFilters(lastFilters);
  });

  status("status.idle");
  drawCurves();
  window.chiffreLearn = { train };
})();
