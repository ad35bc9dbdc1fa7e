// The TensorFlow.js side of issue 18's comparison, in the same headless Chromium as bench/site.mjs:
// the tutorial's CNN (Chollet's MNIST CNN, 93,322 parameters, RMSprop 1e-3, batch 64) built in
// TensorFlow.js and trained on real MNIST batches on each backend (cpu, webgl, wasm), then
// inference on the wasm backend (batches of 1000, and one image at a time). Prints one JSON object.
// bench/tfjs.sh installs TensorFlow.js from npm in a throw-away folder and runs this.
//
//   node bench/tfjs.mjs NODE_MODULES_DIR MNIST_DIR
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { readFileSync, existsSync, statSync } from "node:fs";
import path from "node:path";

const require = createRequire(path.resolve(import.meta.dirname, "../tests/browser/package.json"));
const { chromium } = require("playwright-core");
const modules = path.resolve(process.argv[2]);
const mnist = path.resolve(process.argv[3] || "data/mnist");
const files = {
  "/tf.min.js": path.join(modules, "@tensorflow/tfjs/dist/tf.min.js"),
  "/tf-backend-wasm.min.js": path.join(modules, "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js"),
};
const wasmDir = path.join(modules, "@tensorflow/tfjs-backend-wasm/dist");
const server = createServer((req, res) => {
  const url = new URL(req.url, "http://x").pathname;
  let file = files[url];
  if (!file && url.startsWith("/wasm/")) file = path.join(wasmDir, path.basename(url));
  if (!file && url.startsWith("/mnist/")) file = path.join(mnist, path.basename(url));
  if (url === "/") {
    res.writeHead(200, { "content-type": "text/html" });
    return res.end('<!doctype html><script src="tf.min.js"></script><script src="tf-backend-wasm.min.js"></script>');
  }
  if (!file || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
  const type = file.endsWith(".wasm") ? "application/wasm" : file.endsWith(".js") ? "text/javascript" : "application/octet-stream";
  res.writeHead(200, { "content-type": type });
  res.end(readFileSync(file));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--no-first-run", "--disable-background-networking", "--enable-unsafe-swiftshader"],
});
const page = await browser.newPage();
page.on("console", (m) => process.stderr.write(`[page] ${m.text()}\n`));
await page.goto(origin);
const result = await page.evaluate(async () => {
  const tf = window.tf;
  tf.wasm.setWasmPaths("/wasm/");
  const gunzip = async (url) =>
    new Uint8Array(await new Response((await fetch(url)).body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
  const images = await gunzip("/mnist/train-images-idx3-ubyte.gz");
  const labels = await gunzip("/mnist/train-labels-idx1-ubyte.gz");
  const batch = 64;
  const take = (n) => {
    const x = new Float32Array(n * 784);
    for (let i = 0; i < n * 784; i++) x[i] = images[16 + i] / 255;
    return [tf.tensor4d(x, [n, 28, 28, 1]), tf.oneHot(tf.tensor1d(Array.from(labels.subarray(8, 8 + n)), "int32"), 10)];
  };
  const cnn = () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: "relu" }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 64, activation: "relu" }));
    m.add(tf.layers.dense({ units: 10, activation: "softmax" }));
    m.compile({ optimizer: tf.train.rmsprop(1e-3), loss: "categoricalCrossentropy" });
    return m;
  };
  const out = { tfjs: tf.version.tfjs, parameters: cnn().countParams(), training: {}, inference: {} };
  for (const backend of ["wasm", "webgl", "cpu"]) {
    try {
      if (!(await tf.setBackend(backend))) throw new Error("not available");
      await tf.ready();
      const m = cnn();
      const [x, y] = take(batch);
      await m.trainOnBatch(x, y); // warm-up (and kernel compilation)
      const steps = backend === "cpu" ? 3 : 5;
      const t = performance.now();
      for (let k = 0; k < steps; k++) await m.trainOnBatch(x, y);
      out.training[backend] = { images_per_second: (steps * batch) / ((performance.now() - t) / 1000) };
      tf.dispose([x, y]);
    } catch (e) {
      out.training[backend] = { error: String(e.message || e).slice(0, 200) };
    }
  }
  await tf.setBackend("wasm");
  await tf.ready();
  const m = cnn();
  const [x] = take(1000);
  m.predict(x).dataSync();
  const rates = [];
  for (let k = 0; k < 5; k++) {
    const t = performance.now();
    m.predict(x).dataSync();
    rates.push(1000 / ((performance.now() - t) / 1000));
  }
  const one = x.slice([0, 0, 0, 0], [1, 28, 28, 1]);
  for (let k = 0; k < 50; k++) m.predict(one).dataSync();
  const t = performance.now();
  for (let k = 0; k < 500; k++) m.predict(one).dataSync();
  out.inference = { backend: "wasm", batch1000_images_per_s: rates.sort((a, b) => a - b), one_image_mean_ms: (performance.now() - t) / 500 };
  return out;
});
console.log(JSON.stringify({ browser: browser.version(), ...result }));
await browser.close();
server.close();
