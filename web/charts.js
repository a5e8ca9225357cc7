// Tiny inline-SVG charts. Each chart is role="img" with a <title> and a
// <desc> giving its numbers, and scales with its container (viewBox).
import { s } from "./dom.js";

let uid = 0;

// Vertical bars: data = [{label, value}], one bar per item, the value
// written above each bar and the label below.
export function barChart(data, title) {
  const id = `chart${++uid}`;
  const w = Math.max(240, data.length * 56);
  const hgt = 160;
  const top = 20, bottom = 24;
  const max = Math.max(1, ...data.map((d) => d.value));
  const bw = w / Math.max(1, data.length);
  const svg = s("svg", {
    class: "chart", viewBox: `0 0 ${w} ${hgt}`, role: "img",
    "aria-labelledby": `${id}-t ${id}-d`, preserveAspectRatio: "xMidYMid meet",
  },
  s("title", { id: `${id}-t` }, title),
  s("desc", { id: `${id}-d` }, data.map((d) => `${d.label}: ${d.value}`).join(", ")),
  s("line", { x1: 0, x2: w, y1: hgt - bottom, y2: hgt - bottom, class: "axis" }));
  data.forEach((d, i) => {
    const bh = ((hgt - top - bottom) * d.value) / max;
    const x = i * bw + bw * 0.2;
    const y = hgt - bottom - bh;
    svg.append(
      s("g", { class: "bar" },
        s("title", {}, `${d.label}: ${d.value}`),
        s("rect", { x, y, width: bw * 0.6, height: Math.max(bh, 0.5), rx: 2 }),
        s("text", { x: x + bw * 0.3, y: y - 5, "text-anchor": "middle", class: "val" }, String(d.value)),
        s("text", { x: x + bw * 0.3, y: hgt - 7, "text-anchor": "middle", class: "lbl" }, d.label)),
    );
  });
  return svg;
}

// A horizontal progress bar of `fraction` (0..1), labelled `label`.
export function progressBar(fraction, label) {
  const f = Math.max(0, Math.min(1, fraction || 0));
  return s("svg", {
    class: "progress", viewBox: "0 0 100 8", preserveAspectRatio: "none",
    role: "img", "aria-label": label,
  },
  s("title", {}, label),
  s("rect", { x: 0, y: 0, width: 100, height: 8, rx: 2, class: "track" }),
  s("rect", { x: 0, y: 0, width: 100 * f, height: 8, rx: 2, class: "fill" }));
}

// A timeline of dated figures: items = [{start, end, label}] with years
// (numbers; end undefined = open), drawn as bars on one year axis.
export function timeline(items, title, { from, to } = {}) {
  const id = `chart${++uid}`;
  const years = items.flatMap((x) => [x.start, x.end].filter((y) => y));
  const y0 = from ?? Math.min(...years);
  const y1 = Math.max(to ?? 0, ...years) + 1;
  const w = 320, rowH = 22, top = 4, axisH = 18;
  const hgt = top + items.length * rowH + axisH;
  const X = (y) => ((y - y0) / Math.max(1, y1 - y0)) * (w - 36) + 18;
  const svg = s("svg", {
    class: "chart timeline", viewBox: `0 0 ${w} ${hgt}`, role: "img",
    "aria-labelledby": `${id}-t ${id}-d`,
  },
  s("title", { id: `${id}-t` }, title),
  s("desc", { id: `${id}-d` }, items.map((x) => x.text).join("; ")));
  items.forEach((it, i) => {
    const x = X(it.start ?? y0);
    const xe = X(it.end ? it.end + (it.end === it.start ? 1 : 0) : y1);
    const y = top + i * rowH;
    svg.append(s("g", { class: "span" },
      s("title", {}, it.text),
      s("rect", { x, y, width: Math.max(2, xe - x), height: rowH - 6, rx: 3 }),
      s("text", { x: x + 4, y: y + rowH - 10, class: "in" }, it.label)));
  });
  const step = Math.ceil((y1 - y0 + 1) / 8);
  for (let yr = y0; yr <= y1; yr += step) {
    svg.append(s("text", { x: X(yr), y: hgt - 4, "text-anchor": "middle", class: "lbl" }, String(yr)));
  }
  return svg;
}
