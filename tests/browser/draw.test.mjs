// The page of `chiffre serve` in a real browser: headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) draws a "1" and a "0" with
// pointer events on the canvas and checks the digit the page shows, writes a
// three-digit number and checks the number, boxes and digits shown; it opens
// a picture file through the file input, checks the page on a phone's width,
// and takes screenshots.
//
// Environment: CHIFFRE_BIN (the binary), CHIFFRE_MODEL (a trained model),
// SCREENSHOT_DIR (where the screenshots go), CHROMIUM (the browser).
// tests/browser/run.sh sets them; run that rather than this file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
const bin = process.env.CHIFFRE_BIN || path.join(root, "target/release/chiffre");
const model = process.env.CHIFFRE_MODEL;
const shots = process.env.SCREENSHOT_DIR || path.join(root, "target/browser");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

let server;
let url;
let browser;
let serverLog = "";

/** Starts `chiffre serve` on a free loopback port; resolves with its URL. */
function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(bin, ["serve", "--model", model, "--addr", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const found = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (found) resolve(found[0]);
    });
    server.stderr.on("data", (chunk) => (serverLog += chunk));
    server.on("exit", (code) => reject(new Error(`chiffre serve exited (${code}) before listening:\n${serverLog}`)));
    setTimeout(() => reject(new Error(`chiffre serve did not start in 20 s:\n${out}\n${serverLog}`)), 20_000);
  });
}

before(async () => {
  assert.ok(model, "CHIFFRE_MODEL must name a trained model");
  mkdirSync(shots, { recursive: true });
  url = await startServer();
  // The flags this machine needs: no sandbox as root, and no background
  // connections (the network is closed).
  browser = await chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGINT");
});

/** Draws a polyline on the pad with the mouse (pointer events), points in 0..1 of its side. */
async function draw(page, points) {
  const box = await page.locator("#pad").boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  const [x0, y0] = at(points[0]);
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (const p of points.slice(1)) {
    const [x, y] = at(p);
    await page.mouse.move(x, y, { steps: 3 });
  }
  await page.mouse.up();
}

/** Waits until the page has the answer to its last drawing, and returns the digit shown. */
async function settledDigit(page) {
  await page.waitForFunction(() => {
    const result = document.getElementById("result");
    return result.getAttribute("aria-busy") === "false" && document.getElementById("digit").textContent !== "?";
  }, null, { timeout: 15_000 });
  return (await page.locator("#digit").textContent()).trim();
}

async function openPage(viewport) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Answers 4xx are part of the game (a first dot holds no digit yet); script errors are not.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("model-info").textContent.includes("parameters"));
  return { page, errors };
}

test("a drawn 1 and a drawn 0 are read as 1 and 0", async () => {
  const { page, errors } = await openPage({ width: 1100, height: 1000 });
  // A "1": one vertical stroke, slightly slanted, as a hand draws it.
  const one = Array.from({ length: 12 }, (_, i) => [0.5 + 0.03 * (1 - i / 11), 0.18 + (0.64 * i) / 11]);
  await draw(page, one);
  assert.equal(await settledDigit(page), "1");
  const top = await page.locator("#bars li.top .label").textContent();
  assert.equal(top, "1", "the highlighted bar is the digit shown");
  assert.equal(await page.locator("#bars li").count(), 10);
  assert.ok(await page.locator("#maps-panel").isVisible(), "the feature maps are shown");
  assert.equal(await page.locator("#maps canvas").count(), 64, "32 convolution + 32 pooling maps");
  assert.ok(!(await page.locator("#chips").isVisible()), "no list of digits for a single digit");
  const seenInk = await page.evaluate(() => {
    const data = document.getElementById("seen").getContext("2d").getImageData(0, 0, 28, 28).data;
    let ink = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] > 128) ink++;
    return ink;
  });
  assert.ok(seenInk > 20, `the 28×28 input shows the stroke (${seenInk} bright pixels)`);
  await page.screenshot({ path: path.join(shots, "serve-1.png"), fullPage: true });

  // Clear with the keyboard: the button is focusable and Enter presses it.
  await page.locator("#clear").focus();
  await page.keyboard.press("Enter");
  assert.equal((await page.locator("#digit").textContent()).trim(), "?");

  // A "0": an oval, closed, drawn in one stroke.
  const zero = Array.from({ length: 41 }, (_, i) => {
    const a = (2 * Math.PI * i) / 40 - Math.PI / 2;
    return [0.5 + 0.22 * Math.cos(a), 0.5 + 0.32 * Math.sin(a)];
  });
  await draw(page, zero);
  assert.equal(await settledDigit(page), "0");
  await page.screenshot({ path: path.join(shots, "serve-0.png"), fullPage: true });
  assert.deepEqual(errors, [], "no errors in the page");
  await page.close();
});

test("a number written in three digits is read, with a box and a chip for each digit", async () => {
  const { page, errors } = await openPage({ width: 1100, height: 1000 });
  // "1", "0" and "7", side by side with gaps, on the wide drawing area.
  await draw(page, Array.from({ length: 12 }, (_, i) => [0.2 + 0.015 * (1 - i / 11), 0.2 + (0.6 * i) / 11]));
  await draw(page, Array.from({ length: 41 }, (_, i) => {
    const a = (2 * Math.PI * i) / 40 - Math.PI / 2;
    return [0.45 + 0.1 * Math.cos(a), 0.5 + 0.3 * Math.sin(a)];
  }));
  await draw(page, [[0.63, 0.2], [0.8, 0.2], [0.78, 0.3], [0.72, 0.55], [0.68, 0.8]]);
  await page.waitForFunction(() => document.querySelectorAll("#chips button").length === 3, null, { timeout: 15_000 });
  assert.equal(await settledDigit(page), "107");
  assert.equal(await page.locator("#chips button").count(), 3);
  // Each digit's box is drawn over the drawing.
  const boxInk = await page.evaluate(() => {
    const c = document.getElementById("boxes");
    const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return n;
  });
  assert.ok(boxInk > 500, `the boxes are drawn (${boxInk} pixels)`);
  // Choosing the third digit shows its probabilities: the top bar is a 7.
  await page.locator("#chips button").nth(2).click();
  assert.equal(await page.locator("#bars li.top .label").textContent(), "7");
  assert.match(await page.locator("#bars-title").textContent(), /^Digit 3 of 3: 7/);
  await page.screenshot({ path: path.join(shots, "serve-number.png"), fullPage: true });
  assert.deepEqual(errors, [], "no errors in the page");
  await page.close();
});

test("a scribble is not read as a digit", async () => {
  const { page, errors } = await openPage({ width: 1100, height: 1000 });
  // A dense scribble in a square: zigzags back and forth across it.
  const scribble = Array.from({ length: 60 }, (_, i) => [0.38 + 0.24 * ((i * 7) % 11) / 10, 0.15 + (0.7 * i) / 59]);
  await draw(page, scribble);
  await page.waitForFunction(() => document.getElementById("message").textContent.length > 0, null, { timeout: 15_000 });
  assert.match(await page.locator("#message").textContent(), /I don't see a digit/);
  assert.equal((await page.locator("#digit").textContent()).trim(), "–");
  await page.screenshot({ path: path.join(shots, "serve-not-a-digit.png"), fullPage: true });
  assert.deepEqual(errors, [], "no errors in the page");
  await page.close();
});

test("a picture opened from a file is read as the API reads it", async () => {
  const { page, errors } = await openPage({ width: 1100, height: 1000 });
  const file = path.join(root, "samples/seven-pen.png");
  const api = await fetch(new URL("api/predict", url), {
    method: "POST",
    headers: { "Content-Type": "image/png" },
    body: readFileSync(file),
  }).then((r) => r.json());
  await page.locator("#file").setInputFiles(file);
  assert.equal(await settledDigit(page), String(api.digit));
  assert.deepEqual(errors, []);
  await page.close();
});

test("the page fits a phone's width and the server is still healthy", async () => {
  const { page, errors } = await openPage({ width: 375, height: 740 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  const pad = await page.locator("#pad").boundingBox();
  assert.ok(pad.width > 200 && pad.x >= 0 && pad.x + pad.width <= 375, `the canvas fits: ${JSON.stringify(pad)}`);
  await draw(page, [[0.5, 0.2], [0.5, 0.8]]);
  assert.match(await settledDigit(page), /^[0-9]$/);
  await page.screenshot({ path: path.join(shots, "serve-phone.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
  const health = await fetch(new URL("healthz", url));
  assert.equal(health.status, 200);
  assert.ok(!serverLog.includes("panicked"), serverLog);
});
