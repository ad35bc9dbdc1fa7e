// The static site of `chiffre site` in a real browser: headless Chromium (Debian's, driven by
// playwright-core) on a plain static file server on loopback. It checks that the page loads with
// no request outside its own origin; that `window.chiffre.read` gives the digits and
// probabilities `chiffre predict --json` gives (within 1e-5) for user-style PNG pictures; that
// drawing a digit reads it; that the French page shows French; that a model file that is not one
// gets a clear message; and that `window.chiffre.train` trains the perceptron for one epoch in
// the page's worker to at least 90 %. Screenshots in English and French.
//
// Environment: CHIFFRE_BIN, CHIFFRE_SITE (the folder `chiffre site` wrote), CHIFFRE_MODEL (the
// model in it), CHIFFRE_PICTURES (the PNG pictures), SCREENSHOT_DIR, CHROMIUM.
// tests/browser/run.sh sets them; run that rather than this file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, readdirSync, existsSync, statSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
const bin = process.env.CHIFFRE_BIN || path.join(root, "target/release/chiffre");
const site = process.env.CHIFFRE_SITE;
const model = process.env.CHIFFRE_MODEL;
const pictures = process.env.CHIFFRE_PICTURES;
const shots = process.env.SCREENSHOT_DIR || path.join(root, "target/browser");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
};

let server;
let origin;
let browser;
let context;
const outside = [];

/** A static file server (what `python3 -m http.server` does), plus the test pictures under /pictures/. */
function startServer() {
  server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const file = url.pathname.startsWith("/pictures/")
      ? path.join(pictures, path.basename(url.pathname))
      : path.join(site, url.pathname === "/" ? "index.html" : path.normalize(url.pathname));
    if (!file.startsWith(site) && !file.startsWith(pictures)) {
      res.writeHead(403).end();
      return;
    }
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

before(async () => {
  assert.ok(site && model && pictures, "CHIFFRE_SITE, CHIFFRE_MODEL and CHIFFRE_PICTURES must be set");
  mkdirSync(shots, { recursive: true });
  origin = await startServer();
  browser = await chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, locale: "en-GB" });
  // Every request of the pages and of their workers: none may leave the site's origin.
  context.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) outside.push(url);
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function openPage(query = "") {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${origin}/${query}`);
  await page.evaluate(() => window.chiffre.ready);
  return { page, errors };
}

/** Draws a polyline on the pad with the mouse, points in 0..1 of its size. */
async function draw(page, points) {
  const box = await page.locator("#pad").boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 4 });
  await page.mouse.up();
}

for (const [query, kind] of [["", "relaxed-simd"], ["?engine=simd128", "simd128"]]) test(`the page reads pictures as chiffre predict --json does (${kind}), with nothing from another origin`, async () => {
  const { page, errors } = await openPage(query);
  assert.equal(await page.evaluate(() => window.chiffre.engine.kind), kind, "the build the browser runs");
  const names = readdirSync(pictures).filter((n) => /\.(png|jpg)$/.test(n)).sort();
  assert.ok(names.length >= 30, `a few dozen pictures, got ${names.length}`);
  const cli = execFileSync(bin, ["predict", "--json", "--model", model, ...names.map((n) => path.join(pictures, n))], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  })
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  const byName = new Map(cli.map((r) => [path.basename(r.path), r]));
  // Each file read twice: as a file (readFile: the engine's own decoder, as chiffre predict) and, when
  // opaque PNG, as the pixels of a canvas (read(ImageData); a canvas premultiplies alpha and decodes
  // JPEG its own way, so transparent pictures and JPEGs are compared as files only).
  const readings = await page.evaluate(async (names) => {
    const out = {};
    for (const name of names) {
      const blob = await (await fetch(`/pictures/${name}`)).blob();
      out[name] = { file: await window.chiffre.readFile(blob) };
      if (name.endsWith(".png") && !name.includes("transparent")) {
        const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const c = canvas.getContext("2d", { willReadFrequently: true });
        c.drawImage(bitmap, 0, 0);
        out[name].pixels = window.chiffre.read(c.getImageData(0, 0, bitmap.width, bitmap.height));
      }
    }
    return out;
  }, names);
  let worst = 0;
  let worstName = "";
  let right = 0;
  let compared = 0;
  for (const name of names) {
    const want = byName.get(name);
    assert.ok(want, `chiffre predict read ${name}`);
    for (const [how, got] of Object.entries(readings[name])) {
      compared += 1;
      assert.equal(got.number, want.number, `${name} (${how}): the number`);
      assert.equal(got.digits.length, want.digits.length, `${name} (${how}): how many digits`);
      got.digits.forEach((d, k) => {
        assert.equal(d.digit, want.digits[k].digit, `${name} (${how}): digit ${k}`);
        assert.deepEqual(d.box, want.digits[k].box, `${name} (${how}): box of digit ${k}`);
        d.probabilities.forEach((p, j) => {
          const gap = Math.abs(p - want.digits[k].probabilities[j]);
          if (gap > worst) [worst, worstName] = [gap, `${name} (${how})`];
        });
      });
      if (want.digit !== undefined) assert.equal(got.digit, want.digit, `${name} (${how}): the single digit`);
    }
    if (String(readings[name].file.digit) === name.match(/label(\d)/)[1]) right += 1;
  }
  console.log(`# ${kind}: ${names.length} user-style pictures (${compared} readings): the page and chiffre predict agree; largest probability difference ${worst.toExponential(2)} (${worstName}); ${right} read right`);
  assert.ok(worst <= 1e-5, `probabilities differ by ${worst}`);
  assert.ok(right >= names.length * 0.8, `${right} of ${names.length} read right`);
  assert.deepEqual(outside, [], "requests outside the site's origin");
  assert.deepEqual(errors, []);
  await page.close();
});

test("drawing a digit reads it, in English; a file that is not a model gets a clear message", async () => {
  const { page, errors } = await openPage("?lang=en");
  await draw(page, [[0.5, 0.15], [0.5, 0.5], [0.5, 0.85]]);
  await page.waitForFunction(() => document.getElementById("number").textContent === "1");
  await draw(page, [[0.75, 0.2], [0.68, 0.3], [0.66, 0.55], [0.7, 0.8], [0.78, 0.85], [0.86, 0.75], [0.88, 0.45], [0.84, 0.22], [0.75, 0.2]]);
  await page.waitForFunction(() => document.getElementById("number").textContent === "10");
  assert.equal(await page.locator("#inputs canvas").count(), 2, "each digit's 28×28 input is shown");
  assert.ok((await page.locator("#maps canvas").count()) > 10, "the layers' outputs are drawn");
  assert.equal(await page.locator("#tab-read").textContent(), "Read");
  await page.screenshot({ path: path.join(shots, "site-read-en.png"), fullPage: true });
  await page.setInputFiles("#model-file", { name: "notes.safetensors", mimeType: "application/octet-stream", buffer: Buffer.from("not a model at all") });
  await page.waitForFunction(() => document.getElementById("message").textContent.includes("not a model"));
  assert.deepEqual(errors, []);
  await page.close();
});

test("the French page shows French, and the switch goes back to English", async () => {
  const { page, errors } = await openPage("?lang=fr");
  assert.equal(await page.getAttribute("html", "lang"), "fr");
  assert.equal(await page.locator("#tab-read").textContent(), "Lire");
  assert.equal(await page.locator("#tab-learn").textContent(), "Apprendre");
  assert.match(await page.locator("body").innerText(), /Vos chiffres[\s\S]*Le réseau lit[\s\S]*Ce que le réseau a vu/);
  await draw(page, [[0.5, 0.15], [0.5, 0.5], [0.5, 0.85]]);
  await page.waitForFunction(() => document.getElementById("number").textContent === "1");
  assert.match(await page.locator("#confidence").textContent(), /^sûr à \d+,\d %$/);
  assert.match(await page.locator("#maps").innerText(), /couche de convolution[\s\S]*correction ReLU[\s\S]*mise à plat/);
  await page.screenshot({ path: path.join(shots, "site-read-fr.png"), fullPage: true });
  await page.click("#tab-learn");
  assert.match(await page.locator("#learn").innerText(), /rétropropagation[\s\S]*descente de gradient par mini-lots/);
  await page.click("#lang");
  assert.equal(await page.locator("#tab-read").textContent(), "Read");
  assert.deepEqual(errors, []);
  await page.close();
});

test("the tutorial's example, step by step, in French: maps, the nine products of a cell, the tiny CNN", async () => {
  const { page, errors } = await openPage("?lang=fr");
  await page.click("#tab-xo");
  await page.waitForFunction(() => document.querySelectorAll("#xo-image td").length === 81);
  assert.equal(await page.locator("#xo-steps table").count(), 9, "three maps, their ReLU and their pooling");
  // The diagonal \ sits on the X at row 2, column 2 of its map: a perfect match, 1,00 in French.
  const cell = page.locator("#xo-steps .xo-row").first().locator("table").first().locator("tr").nth(1).locator("td").nth(1);
  assert.equal(await cell.textContent(), "1,00");
  await cell.hover();
  assert.equal(await page.locator("#xo-image td.window").count(), 9, "the window of the cell is framed");
  assert.match(await page.locator("#xo-products").innerText(), /ligne 2, colonne 2[\s\S]*divisée par 9 : 1,00/);
  assert.match(await page.locator("#xo").innerText(), /correction ReLU[\s\S]*mise à plat : 48 valeurs/i);
  await page.click("#xo-train");
  assert.match(await page.locator("#xo-learned").innerText(), /\d+,\d % de bonnes réponses/);
  assert.equal(await page.locator("#xo-learned table").count(), 3, "the three learned filters");
  await page.click("#xo-o");
  assert.equal(await page.locator("#xo-o").getAttribute("aria-pressed"), "true");
  await page.screenshot({ path: path.join(shots, "site-tutorial-fr.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("bad input gets one clear message in the page's language, never a frozen page", async () => {
  // A picture file that is not a picture.
  const { page, errors } = await openPage("?lang=en");
  await page.setInputFiles("#file", { name: "notes.png", mimeType: "image/png", buffer: Buffer.from("hello, not a picture") });
  await page.waitForFunction(() => document.getElementById("message").textContent.startsWith("This picture cannot be read"));
  // Settings that diverge stop with the message the command line gives.
  const failure = await page.evaluate(() =>
    window.chiffre.train({ arch: "perceptron", optimizer: "sgd", lr: 1e37, limit: 1000 }).then(() => "trained", (e) => e.message),
  );
  assert.match(failure, /training diverged; try a smaller learning rate/);
  assert.match(await page.locator("#status").textContent(), /^Training stopped: .*diverged/);
  assert.equal(await page.locator("#train").isDisabled(), false, "the page can train again");
  const refused = await page.evaluate(() => window.chiffre.train({ arch: "resnet" }).then(() => "trained", (e) => e.message));
  assert.match(refused, /arch: expected one of perceptron, mlp, cnn, fast, best/);
  assert.deepEqual(errors, []);
  await page.close();
  // A browser without WebAssembly SIMD: said plainly, in French for a French reader.
  const old = await context.newPage();
  await old.addInitScript(() => {
    WebAssembly.validate = () => false;
  });
  await old.goto(`${origin}/?lang=fr`);
  await old.waitForFunction(() => !document.getElementById("fatal").hidden);
  assert.match(await old.locator("#fatal").textContent(), /^Ce navigateur est trop ancien pour le moteur : il n'a pas WebAssembly SIMD/);
  await old.close();
});

test("the page fits a phone's width, on every tab, and drawing works there", async () => {
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, locale: "fr-FR", hasTouch: true });
  const page = await phone.newPage();
  await page.goto(`${origin}/`);
  await page.evaluate(() => window.chiffre.ready);
  assert.equal(await page.getAttribute("html", "lang"), "fr", "the browser's language chooses French");
  for (const tab of ["#tab-read", "#tab-learn", "#tab-xo"]) {
    await page.click(tab);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `${tab}: the page is ${width} px wide on a 375 px screen`);
  }
  await page.click("#tab-read");
  await draw(page, [[0.5, 0.15], [0.5, 0.5], [0.5, 0.85]]);
  await page.waitForFunction(() => document.getElementById("number").textContent === "1");
  await page.screenshot({ path: path.join(shots, "site-phone-fr.png") });
  await phone.close();
});

test("chiffre.train trains the perceptron for one epoch in the page's worker to at least 90 %", async () => {
  const { page, errors } = await openPage("?lang=en");
  const result = await page.evaluate(() => window.chiffre.train({ arch: "perceptron", epochs: 1, seed: 1 }));
  console.log(`# perceptron, one epoch of 60,000 images in the page: test accuracy ${result.test_accuracy.toFixed(4)}, ${result.train_seconds.toFixed(2)} s, ${Math.round(result.images_per_second)} images/s`);
  assert.ok(result.test_accuracy >= 0.9, `test accuracy ${result.test_accuracy}`);
  assert.match(await page.locator("#status").textContent(), /^Test accuracy \d+\.\d+ %/);
  assert.ok((await page.locator("#filters canvas").count()) === 10, "the perceptron's ten weight pictures are drawn");
  assert.ok((await page.locator("#learn-maps canvas").count()) >= 2, "the watched digit and what the network makes of it");
  await page.screenshot({ path: path.join(shots, "site-learn-en.png"), fullPage: true });
  // The trained network now reads the drawings.
  await page.click("#tab-read");
  await draw(page, [[0.5, 0.15], [0.5, 0.5], [0.5, 0.85]]);
  await page.waitForFunction(() => /^\d$/.test(document.getElementById("number").textContent));
  assert.match(await page.locator("#model-info").textContent(), /chiffre-perceptron\.safetensors/);
  assert.deepEqual(outside, [], "requests outside the site's origin (the worker's included)");
  assert.deepEqual(errors, []);
  await page.close();
});
