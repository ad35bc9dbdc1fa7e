// The tab "The tutorial's example": the 9×9 X (or another X, or an O), the three 3×3 features cut
// from the X, each feature map (hover or tap a cell: its window on the image and the nine products
// whose mean it is), ReLU, 2×2 max-pooling, flattening; then the tiny CNN that learns X against O.
// Every number comes from the engine (chiffre_core::tutorial, through engine.js).
"use strict";

/* global t, formatNumber */

(function tutorial() {
  const $ = (id) => document.getElementById(id);
  let which = 0;
  let example = null;
  let learned = null;

  const number = (v) => formatNumber(v + 0, 2);

  /** A grid of numbers as a table of cells, coloured from blue (−1) through white to red (+1). */
  function table(grid, options = {}) {
    const el = document.createElement("table");
    el.className = `grid${options.small ? " small" : ""}`;
    for (let r = 0; r < grid.rows; r++) {
      const tr = el.insertRow();
      for (let c = 0; c < grid.cols; c++) {
        const v = grid.values[r * grid.cols + c];
        const td = tr.insertCell();
        td.textContent = options.ink ? "" : number(v);
        const a = Math.min(1, Math.abs(v));
        td.style.background = options.ink
          ? (v > 0 ? "#1d1d1f" : "#fff")
          : v >= 0 ? `rgba(192, 57, 43, ${a * 0.75})` : `rgba(26, 95, 180, ${a * 0.75})`;
        td.dataset.r = r;
        td.dataset.c = c;
      }
    }
    return el;
  }

  function figure(title, content) {
    const fig = document.createElement("figure");
    const cap = document.createElement("figcaption");
    cap.textContent = title;
    fig.append(cap, content);
    return fig;
  }

  /** Shows the window of map cell (r, c) of feature f on the image, and its nine products. */
  function explain(f, r, c) {
    const image = example.image;
    const feature = example.features[f].grid;
    for (const td of $("xo-image").querySelectorAll("td")) {
      const inside = td.dataset.r - r >= 0 && td.dataset.r - r < 3 && td.dataset.c - c >= 0 && td.dataset.c - c < 3;
      td.classList.toggle("window", inside);
    }
    const products = { rows: 3, cols: 3, values: [] };
    for (let i = 0; i < 9; i++) {
      products.values.push(image.values[(r + Math.floor(i / 3)) * image.cols + c + (i % 3)] * feature.values[i]);
    }
    const sum = products.values.reduce((a, b) => a + b, 0);
    const box = $("xo-products");
    box.replaceChildren(
      figure(t("xo.products", { f: f + 1, r: r + 1, c: c + 1 }), table(products, { small: true })),
    );
    const p = document.createElement("p");
    p.textContent = t("xo.mean", { sum: number(sum), mean: number(sum / 9) });
    box.appendChild(p);
  }

  function show() {
    if (!example) return;
    $("xo-image").replaceChildren(table(example.image, { ink: false }));
    const features = $("xo-features");
    features.replaceChildren();
    example.features.forEach((f, i) => features.appendChild(figure(`${i + 1}. ${t(`xo.feature${i}`)}`, table(f.grid, { small: true }))));
    const steps = $("xo-steps");
    steps.replaceChildren();
    example.maps.forEach((map, f) => {
      const row = document.createElement("div");
      row.className = "xo-row";
      const mapTable = table(map, { small: true });
      mapTable.classList.add("explained");
      for (const td of mapTable.querySelectorAll("td")) {
        const go = () => explain(f, Number(td.dataset.r), Number(td.dataset.c));
        td.addEventListener("mouseenter", go);
        td.addEventListener("click", go);
        td.tabIndex = 0;
        td.addEventListener("focus", go);
      }
      row.append(
        figure(`${t("xo.map")} ${f + 1}`, mapTable),
        figure(t("xo.relu"), table(example.relu[f], { small: true })),
        figure(t("xo.pool"), table(example.pooled[f], { small: true })),
      );
      steps.appendChild(row);
    });
    $("xo-flat").textContent = example.flat.map(number).join("  ");
    $("xo-flat-title").textContent = t("xo.flat", { n: example.flat.length });
    explain(0, 0, 0);
    showLearned();
  }

  function showLearned() {
    const box = $("xo-learned");
    box.replaceChildren();
    if (!learned) return;
    const p = document.createElement("p");
    p.textContent = t("xo.result", {
      acc: formatNumber(100 * learned.accuracy, 1),
      tested: learned.tested,
      first: number(learned.loss[0]),
      last: number(learned.loss[1]),
    });
    const row = document.createElement("div");
    row.className = "xo-row";
    learned.filters.forEach((g, i) => row.appendChild(figure(`${t("xo.filter")} ${i + 1}`, table(g, { small: true }))));
    box.append(p, row);
  }

  function load(k) {
    which = k;
    for (const [i, id] of ["xo-x", "xo-x2", "xo-o"].entries()) $(id).setAttribute("aria-pressed", String(i === k));
    example = window.chiffre.engine.tutorial(which);
    show();
  }

  $("xo-x").addEventListener("click", () => load(0));
  $("xo-x2").addEventListener("click", () => load(1));
  $("xo-o").addEventListener("click", () => load(2));
  $("xo-train").addEventListener("click", () => {
    learned = window.chiffre.engine.tutorialXo(Number($("xo-seed").value) || 1);
    showLearned();
  });
  document.addEventListener("chiffre:language", show);
  window.chiffre.ready.then(() => load(0)).catch(() => {
    // The page already says why the engine is not there.
  });
})();
