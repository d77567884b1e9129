// The demo's model and drawing, shared by the page (demo.js) and the terminal (cli.mjs):
// runtime-neutral ESM, no DOM, no Node APIs.

import { randomF32 as seeded } from '../../bench/harness.mjs';

/** Deterministic uniform values in [-scale, scale): the benchmarks' generator. */
export { seeded };

export function tokenize(sentence) {
  return sentence.toLowerCase().match(/[\p{L}\p{N}']+|[^\s\p{L}\p{N}]/gu) ?? [];
}

const hash = (word) => [...word].reduce((h, c) => Math.imul(h ^ c.codePointAt(0), 16777619), 2166136261) >>> 0;

/** [L, E]: a seeded embedding per distinct word (same word, same vector) + positional encoding. */
export function embed(tokens, E, pe) {
  const x = new Float32Array(tokens.length * E);
  tokens.forEach((word, p) => {
    const e = seeded(E, hash(word));
    for (let c = 0; c < E; c++) x[p * E + c] = e[c] + pe[p * E + c];
  });
  return x;
}

/** nn.MultiheadAttention weights, seeded; queries and keys scaled up so heads have character. */
export function demoWeights(E, seed = 1) {
  const s = 1 / Math.sqrt(E);
  const inProjWeight = seeded(3 * E * E, seed, 3 * s);
  for (let i = 2 * E * E; i < 3 * E * E; i++) inProjWeight[i] /= 3; // values at the usual scale
  return {
    inProjWeight, inProjBias: seeded(3 * E, seed + 1, 0.1),
    outProjWeight: seeded(E * E, seed + 2, s), outProjBias: seeded(E, seed + 3, 0.1),
  };
}

// A perceptual colour ramp (viridis, 5 stops), t in [0, 1].
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
export function colour(t) {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
  const c = STOPS[i].map((v, k) => Math.round(v + (STOPS[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** An SVG heatmap of data [rows, cols] (values mapped from [min, max] to the ramp). */
export function heatmapSvg({ data, rows, cols, rowLabels = [], colLabels = [], title = '', cell = 22, min, max }) {
  let lo = min ?? Infinity, hi = max ?? -Infinity;
  if (min === undefined || max === undefined) for (const v of data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const left = rowLabels.length ? 8 + 7 * Math.max(...rowLabels.map((l) => String(l).length)) : 4;
  const top = 22 + (colLabels.length ? 7 * Math.max(...colLabels.map((l) => String(l).length)) : 0);
  const width = left + cols * cell + 4, height = top + rows * cell + 4;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`,
    `<text x="${left}" y="13" font-weight="600">${escape(title)}</text>`];
  colLabels.forEach((l, j) => parts.push(`<text transform="translate(${left + j * cell + cell / 2 + 4},${top - 4}) rotate(-90)">${escape(l)}</text>`));
  rowLabels.forEach((l, i) => parts.push(`<text x="${left - 4}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${escape(l)}</text>`));
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = data[i * cols + j];
      parts.push(`<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell - 1}" height="${cell - 1}" fill="${colour(hi > lo ? (v - lo) / (hi - lo) : 0)}"><title>${v.toFixed(3)}</title></rect>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

/** FLOPs of one self-attention layer with projections. */
export const layerFlops = (L, E) => 4 * 2 * L * E * E + 4 * L * L * E;

/**
 * Draws a heatmap of data [rows, cols] on a 2D canvas context (the canvas is resized to fit), for
 * maps too large for SVG (a 256-character text is 65,536 cells). Values map from [min, max] to the
 * ramp, or with `perRow` from [0, the row's largest value] (attention rows: a late query spreads
 * its weight over many keys, and would look black next to the first one's single 1). Labels are
 * drawn when a cell is at least 8 px. Returns { left, top, cell }, to map a pointer to a cell.
 */
export function drawHeatmap(ctx, { data, rows, cols, rowLabels = [], colLabels = [], cell, min = 0, max = 1, perRow = false }) {
  const labels = cell >= 8 && (rowLabels.length || colLabels.length);
  const left = labels ? 14 : 0, top = labels ? 14 : 0;
  const canvas = ctx.canvas;
  canvas.width = left + cols * cell;
  canvas.height = top + rows * cell;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < rows; i++) {
    let lo = min, hi = max;
    if (perRow) {
      lo = 0;
      hi = 0;
      for (let j = 0; j < cols; j++) hi = Math.max(hi, data[i * cols + j]);
    }
    for (let j = 0; j < cols; j++) {
      ctx.fillStyle = colour(hi > lo ? (data[i * cols + j] - lo) / (hi - lo) : 0);
      ctx.fillRect(left + j * cell, top + i * cell, cell, cell);
    }
  }
  if (labels) {
    ctx.fillStyle = '#222';
    ctx.font = `${Math.min(12, cell)}px monospace`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    colLabels.forEach((l, j) => ctx.fillText(l, left + j * cell + cell / 2, top / 2));
    rowLabels.forEach((l, i) => ctx.fillText(l, left / 2, top + i * cell + cell / 2));
  }
  return { left, top, cell };
}
