// The WebAssembly half of the check run by tests/wasm/run.sh: loads the
// engine's .wasm (crates/chiffre-web, chiffre-core built for
// wasm32-unknown-unknown), gives it a model file, reads the first N MNIST
// test images through it, and compares each image's probabilities with the
// native engine's (one JSON array per line, from the `forward` example).
// Exits 1, saying where, on any difference beyond the tolerance; prints the
// accuracy of the WebAssembly answers.
//
// Usage: node forward.mjs ENGINE.wasm MODEL.safetensors MNIST_DIR N NATIVE.jsonl
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";

const [wasmPath, modelPath, mnistDir, countArg, nativePath] = process.argv.slice(2);
if (!nativePath) {
  console.error("usage: node forward.mjs ENGINE.wasm MODEL.safetensors MNIST_DIR N NATIVE.jsonl");
  process.exit(2);
}
const count = Number(countArg);
// matrixmultiply (in wasm) and gemm (native) add in different orders: the
// probabilities agree to float rounding, not bit for bit.
const TOLERANCE = 1e-4;

const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const e = instance.exports;
const memory = () => e.memory.buffer;
const message = () => new TextDecoder().decode(new Uint8Array(memory(), e.chiffre_error(), e.chiffre_error_len()));

// Without a model: -1 and a message, not a trap.
if (e.chiffre_predict() !== -1 || !message().includes("no model")) {
  console.error(`wasm: predicting without a model gave no error (${message()})`);
  process.exit(1);
}
// Garbage instead of a model file: refused with a message.
const junk = new TextEncoder().encode("not a model file");
let ptr = e.chiffre_alloc(junk.length);
new Uint8Array(memory(), ptr, junk.length).set(junk);
if (e.chiffre_load(ptr, junk.length) !== -1 || message().length === 0) {
  console.error("wasm: a junk model file was accepted");
  process.exit(1);
}
e.chiffre_free(ptr, junk.length);

const model = readFileSync(modelPath);
ptr = e.chiffre_alloc(model.length);
new Uint8Array(memory(), ptr, model.length).set(model);
if (e.chiffre_load(ptr, model.length) !== 0) {
  console.error(`wasm: the model did not load: ${message()}`);
  process.exit(1);
}
e.chiffre_free(ptr, model.length);

const images = gunzipSync(readFileSync(join(mnistDir, "t10k-images-idx3-ubyte.gz")));
const labels = gunzipSync(readFileSync(join(mnistDir, "t10k-labels-idx1-ubyte.gz")));
const native = readFileSync(nativePath, "utf8").trim().split("\n").map((line) => JSON.parse(line));
if (native.length !== count) {
  console.error(`native: ${native.length} lines, expected ${count}`);
  process.exit(1);
}

let right = 0;
let worst = 0;
for (let i = 0; i < count; i++) {
  const input = new Float32Array(memory(), e.chiffre_input(), 784);
  for (let p = 0; p < 784; p++) input[p] = images[16 + i * 784 + p] / 255;
  const digit = e.chiffre_predict();
  const probabilities = new Float32Array(memory(), e.chiffre_probabilities(), 10);
  for (let k = 0; k < 10; k++) {
    const difference = Math.abs(probabilities[k] - native[i][k]);
    worst = Math.max(worst, difference);
    if (!(difference <= TOLERANCE)) {
      console.error(`image ${i}, class ${k}: wasm ${probabilities[k]}, native ${native[i][k]}`);
      process.exit(1);
    }
  }
  if (digit === labels[8 + i]) right++;
}
// A whole picture, read with the engine's own preprocessing and number
// reading (as `chiffre predict` reads a file): two dark bars on white, well
// apart, are two marks, left to right, at the boxes the native test finds.
const [width, height] = [120, 60];
const picturePtr = e.chiffre_picture(width, height);
if (picturePtr === 0) {
  console.error(`wasm: no picture buffer: ${message()}`);
  process.exit(1);
}
const picture = new Float32Array(memory(), picturePtr, width * height);
for (let i = 0; i < width * height; i++) {
  const [x, y] = [i % width, Math.floor(i / width)];
  const ink = y >= 10 && y < 40 && ((x >= 20 && x < 26) || (x >= 80 && x < 86));
  picture[i] = ink ? 20 / 255 : 235 / 255;
}
const found = e.chiffre_read(width, height);
const reading = JSON.parse(new TextDecoder().decode(new Uint8Array(memory(), e.chiffre_reading(), e.chiffre_reading_len())));
const boxes = JSON.stringify(reading.digits.map((d) => d.box));
if (found !== 2 || boxes !== "[[20,10,6,30],[80,10,6,30]]" || reading.number.length !== 2) {
  console.error(`wasm: the two-bar picture read as ${found} digits: ${JSON.stringify(reading)} (${message()})`);
  process.exit(1);
}
// A blank picture: -1 and a message, not a trap.
new Float32Array(memory(), e.chiffre_picture(10, 10), 100).fill(1);
if (e.chiffre_read(10, 10) !== -1 || message().length === 0) {
  console.error("wasm: a blank picture gave no error");
  process.exit(1);
}

console.log(
  `wasm number reading: two marks at the native boxes (read as "${reading.number}"); wasm forward pass: ${count} MNIST test images, same probabilities as native (largest difference ${worst.toExponential(2)}), accuracy ${(right / count).toFixed(3)}`,
);
