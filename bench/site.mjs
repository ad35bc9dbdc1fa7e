// Measures the page of `chiffre site` in headless Chromium (bench/site.sh runs it): the first
// reading after load, inference in the page (batches of 1000 MNIST test images, and one image at
// a time), and training in the page's worker (the tutorial's CNN and `fast`, one epoch each, batch
// 64, every MNIST training image), then the test accuracy. Prints one JSON object per run.
//
//   node bench/site.mjs SITE_DIR [RUNS]        (ENGINE=simd128: that build even with relaxed SIMD)
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { readFileSync, existsSync, statSync } from "node:fs";
import path from "node:path";

const require = createRequire(path.resolve(import.meta.dirname, "../tests/browser/package.json"));
const { chromium } = require("playwright-core");
const site = path.resolve(process.argv[2] || "");
const runs = Number(process.argv[3] || 1);
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm" };

const server = createServer((req, res) => {
  const file = path.join(site, new URL(req.url, "http://x").pathname === "/" ? "index.html" : path.normalize(new URL(req.url, "http://x").pathname));
  if (!file.startsWith(site) || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" });
  res.end(readFileSync(file));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
console.log(JSON.stringify({ browser: browser.version(), origin }));

for (let run = 1; run <= runs; run++) {
  const page = await browser.newPage();
  const t0 = Date.now();
  await page.goto(origin + (process.env.ENGINE ? `/?engine=${process.env.ENGINE}` : "/"));
  await page.evaluate(() => window.chiffre.ready);
  const firstReading = await page.evaluate(() => {
    const c = new OffscreenCanvas(280, 140).getContext("2d");
    c.fillStyle = "#fff";
    c.fillRect(0, 0, 280, 140);
    c.fillStyle = "#000";
    c.fillRect(130, 20, 14, 100);
    window.chiffre.read(c.getImageData(0, 0, 280, 140));
    const at = performance.now();
    const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
    const bytes = entries.reduce((sum, e) => sum + (e.encodedBodySize || 0), 0);
    return { at, bytes, engine: window.chiffre.engine.kind };
  });
  const inference = await page.evaluate(async () => {
    const gz = await (await fetch("mnist/t10k-images-idx3-ubyte.gz")).body.pipeThrough(new DecompressionStream("gzip"));
    const bytes = new Uint8Array(await new Response(gz).arrayBuffer());
    const n = 1000;
    const inputs = new Float32Array(n * 784);
    for (let i = 0; i < n * 784; i++) inputs[i] = bytes[16 + i] / 255;
    const engine = window.chiffre.engine;
    engine.predictBatch(inputs); // warm-up
    const rates = [];
    for (let k = 0; k < 5; k++) {
      const t = performance.now();
      engine.predictBatch(inputs);
      rates.push(n / ((performance.now() - t) / 1000));
    }
    const one = inputs.subarray(0, 784);
    for (let k = 0; k < 200; k++) engine.predict(one);
    const times = [];
    for (let k = 0; k < 2000; k++) {
      const t = performance.now();
      engine.predict(one);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    rates.sort((a, b) => a - b);
    // performance.now() is coarsened in a page: the mean of a block is the finer measure.
    const t = performance.now();
    for (let k = 0; k < 2000; k++) engine.predict(one);
    return { batch1000_images_per_s: rates, one_image_mean_ms: (performance.now() - t) / 2000, one_image_p50_ms: times[1000] };
  });
  const training = {};
  for (const arch of (process.env.ARCHS || "cnn,fast").split(",").filter(Boolean)) {
    training[arch] = await page.evaluate((arch) => window.chiffre.train({ arch, epochs: 1, batchSize: arch === "cnn" ? 64 : null, seed: 1 }), arch);
  }
  console.log(JSON.stringify({ run, engine: firstReading.engine, first_reading_ms_after_navigation: Math.round(firstReading.at), first_load_bytes: firstReading.bytes, wall_s: (Date.now() - t0) / 1000, inference, training }));
  await page.close();
}
await browser.close();
server.close();
