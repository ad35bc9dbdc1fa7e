// chiffre's engine in the page: chiffre_web.wasm (crates/chiffre-web) behind a small class.
//
// The module exports plain functions over its memory (no generated glue): bytes and pictures
// are copied in at pointers it gives, answers are read back as JSON text or f32 arrays. The
// same class runs in the page (reading) and in the Web Worker (training); each has its own
// instance and memory. Views of the memory are made after every call, since it may grow.
"use strict";

/* exported ChiffreEngine, ChiffreError */

// A module of one function using SIMD128 (i8x16.splat, i8x16.popcnt): a browser that validates
// it runs the engine, which is built with SIMD128.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

// The same with i8x16.relaxed_swizzle: a browser that validates it has relaxed SIMD, and gets the
// engine built with it (fused multiply-add in the matrix multiply: about 30 % faster).
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15,
  253, 128, 2, 11,
]);

/** An error of the engine or of its loading; `code` names the kind for the page's messages. */
class ChiffreError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

class ChiffreEngine {
  /**
   * Fetches and instantiates the engine: chiffre_web_relaxed.wasm when the browser has relaxed SIMD
   * and the site has that build (unless `choice` is "simd128"), else chiffre_web.wasm. A
   * ChiffreError ("no-wasm", "no-simd", "load") when it cannot.
   */
  static async create(choice) {
    if (typeof WebAssembly !== "object") {
      throw new ChiffreError("no-wasm", "this browser has no WebAssembly");
    }
    if (!WebAssembly.validate(SIMD_PROBE)) {
      throw new ChiffreError("no-simd", "this browser has no WebAssembly SIMD");
    }
    const urls = ["chiffre_web.wasm"];
    if (choice !== "simd128" && WebAssembly.validate(RELAXED_PROBE)) urls.unshift("chiffre_web_relaxed.wasm");
    let failure = null;
    for (const url of urls) {
      try {
        const response = await fetch(url);
        if (response.status === 404 && url !== urls[urls.length - 1]) continue; // a site without that build
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
        const module = await WebAssembly.compile(await response.arrayBuffer());
        const instance = await WebAssembly.instantiate(module, {});
        return new ChiffreEngine(instance.exports, url.includes("relaxed") ? "relaxed-simd" : "simd128");
      } catch (e) {
        failure = failure || e;
      }
    }
    throw new ChiffreError("load", failure ? failure.message : "no engine");
  }

  constructor(exports, kind) {
    this.x = exports;
    /** Which build runs: "relaxed-simd" or "simd128". */
    this.kind = kind;
  }

  // --- memory ------------------------------------------------------------------------
  bytes(ptr, len) {
    return new Uint8Array(this.x.memory.buffer, ptr, len);
  }
  floats(ptr, len) {
    return new Float32Array(this.x.memory.buffer, ptr, len);
  }
  text(ptr, len) {
    return new TextDecoder().decode(this.bytes(ptr, len));
  }
  error() {
    return this.text(this.x.chiffre_error(), this.x.chiffre_error_len());
  }
  answer() {
    return JSON.parse(this.text(this.x.chiffre_answer(), this.x.chiffre_answer_len()));
  }
  /** Calls `f(ptr, len)` with `data` (bytes) copied into the module; frees them after. */
  withBytes(data, f) {
    const len = data.byteLength;
    const ptr = this.x.chiffre_alloc(len);
    this.bytes(ptr, len).set(data instanceof Uint8Array ? data : new Uint8Array(data));
    try {
      return f(ptr, len);
    } finally {
      this.x.chiffre_free(ptr, len);
    }
  }
  check(status, code) {
    if (status < 0) throw new ChiffreError(code, this.error());
    return status;
  }

  // --- reading -----------------------------------------------------------------------
  /** Loads a model file (an ArrayBuffer or Uint8Array of a .safetensors file). */
  load(data) {
    this.check(this.withBytes(data, (p, n) => this.x.chiffre_load(p, n)), "model");
  }

  /**
   * Reads every digit of `image` (an ImageData, or {width, height, data} with RGBA bytes) as
   * `chiffre predict --json` reads a picture file: {number, digits: [{digit, confidence,
   * probabilities, top, digit_probability, box, line}], separators, and for one digit also its
   * fields at the top level}. Each digit also gets `input`: the 28×28 picture the network read.
   */
  read(image) {
    const { width, height, data } = image;
    const ptr = this.x.chiffre_picture_rgba(width, height);
    if (!ptr) throw new ChiffreError("picture", this.error());
    this.bytes(ptr, width * height * 4).set(data);
    return this.lastReading(this.check(this.x.chiffre_read_rgba(width, height), "picture"));
  }

  /** The ten probabilities of one ready 28×28 input (784 values, ink 0–1, MNIST-style). */
  predict(pixels) {
    this.floats(this.x.chiffre_input(), 784).set(pixels);
    this.check(this.x.chiffre_predict(), "picture");
    return this.floats(this.x.chiffre_probabilities(), 10).slice();
  }

  /** The probabilities (n × 10) of n ready inputs (n × 784 values), read in one batched pass. */
  predictBatch(inputs) {
    const n = inputs.length / 784;
    const ptr = this.x.chiffre_batch(n);
    if (!ptr) throw new ChiffreError("picture", this.error());
    this.floats(ptr, n * 784).set(inputs);
    this.check(this.x.chiffre_predict_batch(n), "picture");
    return this.floats(this.x.chiffre_probabilities(), n * 10).slice();
  }

  /**
   * Reads a picture file (PNG or JPEG; an ArrayBuffer or Uint8Array of its bytes) exactly as
   * `chiffre predict --json` reads it: the same decoder (no canvas, which premultiplies alpha and
   * may manage colour), the same conversion, the same reading. Each digit also gets `input`.
   */
  readFile(bytes) {
    const found = this.check(this.withBytes(bytes, (p, n) => this.x.chiffre_read_file(p, n)), "picture");
    return this.lastReading(found);
  }

  lastReading(found) {
    const reading = JSON.parse(this.text(this.x.chiffre_reading(), this.x.chiffre_reading_len()));
    const inputs = this.floats(this.x.chiffre_inputs(), found * 784);
    reading.digits.forEach((d, k) => {
      d.input = inputs.slice(k * 784, (k + 1) * 784);
    });
    return reading;
  }

  /** What every layer makes of digit `k` of the last reading: [{kind, shape, values}]. */
  inspect(k) {
    this.check(this.x.chiffre_inspect(k), "picture");
    const layout = this.answer();
    const all = this.floats(this.x.chiffre_values(), this.x.chiffre_values_len());
    return layout.map((layer) => {
      const size = layer.shape.reduce((a, b) => a * b, 1);
      return { kind: layer.kind, shape: layer.shape, values: all.slice(layer.offset, layer.offset + size) };
    });
  }

  // --- the tutorial's example -----------------------------------------------------------
  /** The worked example on picture `which` (0: the X, 1: another X, 2: an O): {image, features, maps, relu, pooled, flat}. */
  tutorial(which) {
    this.check(this.x.chiffre_tutorial(which), "picture");
    return this.answer();
  }
  /** The tiny CNN learning X against O: {accuracy, tested, filters, loss: [first, last]}. */
  tutorialXo(seed) {
    this.check(this.x.chiffre_tutorial_x_or_o(BigInt(seed)), "training");
    return this.answer();
  }

  // --- training ----------------------------------------------------------------------
  /** MNIST file `index` (0 train images, 1 train labels, 2 test images, 3 test labels), gzipped or not. */
  data(index, bytes) {
    this.check(this.withBytes(bytes, (p, n) => this.x.chiffre_data(index, p, n)), "data");
  }
  /** Begins a run: {arch, optimizer, lr, batch_size, epochs, limit, seed} (all but arch optional). */
  trainBegin(settings) {
    const json = new TextEncoder().encode(JSON.stringify(settings));
    this.check(this.withBytes(json, (p, n) => this.x.chiffre_train_begin(p, n)), "settings");
  }
  /** Up to `batches` steps: {epoch, seen, total, loss, accuracy, steps, done}; throws when training diverges. */
  trainStep(batches) {
    this.check(this.x.chiffre_train_step(batches), "training");
    return this.answer();
  }
  /** {test_accuracy, test_loss, count} on the first `limit` test images (all when 0). */
  trainEvaluate(limit) {
    this.check(this.x.chiffre_train_evaluate(limit || 0), "training");
    return this.answer();
  }
  /** The first layer's weights as pictures: {shape: [n, h, w], values}. */
  trainFilters() {
    this.check(this.x.chiffre_train_filters(), "training");
    return this.answer();
  }
  /** What the network being trained makes of test image `index`: {label, input, kind, shape, values}. */
  trainInspect(index) {
    this.check(this.x.chiffre_train_inspect(index), "training");
    return this.answer();
  }
  /** The trained network as a model file (a Uint8Array, a copy). */
  trainSave() {
    this.check(this.x.chiffre_train_save(), "training");
    return this.bytes(this.x.chiffre_bytes(), this.x.chiffre_bytes_len()).slice();
  }
}
