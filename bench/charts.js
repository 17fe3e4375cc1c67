'use strict';
// Two SVG charts for docs/benchmark.md, written by hand (no chart dependency): throughput by payload (grouped bars,
// log scale) and latency percentiles (one line per contender from p50 to max, log scale).

const FONT = 'font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const COLORS = {
  'native-c': '#555555',
  shmring: '#1f6feb',
  'shmring-batch': '#0b3d91',
  'shmring-claim': '#58a6ff',
  'shmring-broadcast': '#8250df',
  'shmring-async': '#bf3989',
  postMessage: '#d1242f',
  'postMessage-batch': '#fb8f44',
  'unix-socket': '#1a7f37',
};
const colorOf = (id) => COLORS[id] || '#999999';
/** A bar series: a contender, split by consumer strategy where it has more than one (default: lighter). */
const seriesOf = (r) => (r.strategy === 'default' ? `${r.contender} (default idle)` : r.contender);
const opacityOf = (series) => (series.endsWith('(default idle)') ? 0.5 : 1);

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f1 = (n) => Math.round(n * 10) / 10;

function svg(width, height, body) {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>\n` +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>\n${body.join('\n')}\n</svg>\n`
  );
}

function text(x, y, s, attrs = '') {
  return `<text x="${f1(x)}" y="${f1(y)}" ${attrs}>${esc(s)}</text>`;
}

function logScale(min, max, from, to) {
  const lo = Math.log10(min);
  const hi = Math.log10(max);
  return (v) => from + ((Math.log10(Math.max(v, min)) - lo) / (hi - lo)) * (to - from);
}

function decadeLabel(v, unit) {
  if (unit === 'rate') {
    if (v >= 1e9) return `${v / 1e9}G`;
    if (v >= 1e6) return `${v / 1e6}M`;
    if (v >= 1e3) return `${v / 1e3}k`;
    return String(v);
  }
  if (v >= 1000) return `${v / 1000} ms`;
  return `${v} µs`;
}

function shortRate(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`;
  return n.toFixed(0);
}

function legend(items, x, y, width) {
  const out = [];
  let cx = x;
  let cy = y;
  for (const { label, color, opacity = 1 } of items) {
    const w = 18 + label.length * 6.6 + 14;
    if (cx + w > x + width) {
      cx = x;
      cy += 18;
    }
    out.push(
      `<rect x="${f1(cx)}" y="${f1(cy - 10)}" width="12" height="12" rx="2" fill="${color}" fill-opacity="${opacity}"/>`,
    );
    out.push(text(cx + 17, cy, label, 'font-size="12" fill="#24292f"'));
    cx += w;
  }
  return { out, bottom: cy + 8 };
}

/** Grouped bars: msgs/s by payload size for 1 producer -> 1 consumer, one bar per contender, log scale. */
function throughputChart(result) {
  const rows = result.results.filter((r) => r.case === 'throughput' && Number.isFinite(r.msgsPerSec));
  const width = 960;
  const body = [];
  body.push(
    text(
      20,
      28,
      'Throughput, 1 producer → 1 consumer process (messages/s, log scale; higher is better)',
      'font-size="16" font-weight="600" fill="#24292f"',
    ),
  );
  if (rows.length === 0) {
    body.push(text(20, 60, 'no throughput results in this run', 'font-size="13" fill="#57606a"'));
    return svg(width, 80, body);
  }
  const contenders = [...new Set(rows.map(seriesOf))];
  const payloads = [...new Set(rows.map((r) => r.payloadBytes))].sort((a, b) => a - b);
  const lg = legend(
    contenders.map((c) => ({ label: c, color: colorOf(c.split(' ')[0]), opacity: opacityOf(c) })),
    20,
    54,
    width - 40,
  );
  body.push(...lg.out);
  const top = lg.bottom + 22;
  const left = 64;
  const right = width - 20;
  const bottom = top + 300;
  const height = bottom + 56;
  const values = rows.map((r) => r.msgsPerSec);
  const min = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const max = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const y = logScale(min, max, bottom, top);
  for (let v = min; v <= max * 1.001; v *= 10) {
    body.push(`<line x1="${left}" x2="${right}" y1="${f1(y(v))}" y2="${f1(y(v))}" stroke="#d0d7de" stroke-width="1"/>`);
    body.push(text(left - 8, y(v) + 4, decadeLabel(v, 'rate'), 'font-size="11" fill="#57606a" text-anchor="end"'));
  }
  const groupWidth = (right - left) / payloads.length;
  const barWidth = Math.min(26, (groupWidth * 0.84) / contenders.length);
  payloads.forEach((payload, g) => {
    const gx = left + g * groupWidth + (groupWidth - barWidth * contenders.length) / 2;
    contenders.forEach((c, i) => {
      const r = rows.find((x) => x.payloadBytes === payload && seriesOf(x) === c);
      if (!r) return;
      const x = gx + i * barWidth;
      const yv = y(r.msgsPerSec);
      body.push(
        `<rect x="${f1(x + 1)}" y="${f1(yv)}" width="${f1(barWidth - 2)}" height="${f1(bottom - yv)}" fill="${colorOf(r.contender)}" fill-opacity="${opacityOf(c)}">` +
          `<title>${esc(`${c}, ${payload} B: ${shortRate(r.msgsPerSec)} msgs/s`)}</title></rect>`,
      );
      body.push(
        text(
          x + barWidth / 2 + 3,
          yv - 4,
          shortRate(r.msgsPerSec),
          `font-size="9" fill="#24292f" transform="rotate(-90 ${f1(x + barWidth / 2 + 3)} ${f1(yv - 4)})"`,
        ),
      );
    });
    const label = payload >= 1024 ? `${payload / 1024} KiB` : `${payload} B`;
    const cx = left + g * groupWidth + groupWidth / 2;
    body.push(text(cx, bottom + 20, label, 'font-size="13" font-weight="600" fill="#24292f" text-anchor="middle"'));
    const shm =
      rows.find((x) => x.payloadBytes === payload && x.contender === 'shmring' && x.strategy === 'default') ||
      rows.find((x) => x.payloadBytes === payload && x.contender === 'shmring');
    if (shm && Number.isFinite(shm.vsC)) {
      body.push(
        text(
          cx,
          bottom + 38,
          `shmring (${shm.strategy}) = ${shm.vsC.toFixed(2)}× C`,
          'font-size="11" fill="#1f6feb" text-anchor="middle"',
        ),
      );
    }
  });
  body.push(`<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#57606a"/>`);
  return svg(width, height, body);
}

const MARKERS = [
  { key: 'p50Us', label: 'p50', draw: (x, y, c) => `<circle cx="${f1(x)}" cy="${f1(y)}" r="5" fill="${c}"/>` },
  {
    key: 'p99Us',
    label: 'p99',
    draw: (x, y, c) =>
      `<rect x="${f1(x - 4)}" y="${f1(y - 4)}" width="8" height="8" fill="#ffffff" stroke="${c}" stroke-width="2"/>`,
  },
  {
    key: 'p999Us',
    label: 'p99.9',
    draw: (x, y, c) =>
      `<path d="M${f1(x)} ${f1(y - 6)} L${f1(x + 6)} ${f1(y)} L${f1(x)} ${f1(y + 6)} L${f1(x - 6)} ${f1(y)} Z" fill="#ffffff" stroke="${c}" stroke-width="2"/>`,
  },
  {
    key: 'maxUs',
    label: 'max',
    draw: (x, y, c) =>
      `<path d="M${f1(x - 5)} ${f1(y - 5)} L${f1(x + 5)} ${f1(y + 5)} M${f1(x + 5)} ${f1(y - 5)} L${f1(x - 5)} ${f1(y + 5)}" stroke="${c}" stroke-width="2"/>`,
  },
];

/**
 * One line per contender from p50 to max with a marker per percentile, log scale; RTT sections, then wake-up. A
 * saturated row (it measured a queue) gets its line of text instead of markers.
 */
function latencyChart(result) {
  const rows = result.results.filter(
    (r) => (r.case === 'rtt' || r.case === 'wake') && (Number.isFinite(r.p50Us) || r.saturated),
  );
  const width = 960;
  const body = [];
  body.push(
    text(
      20,
      28,
      'Latency percentiles, µs from the intended send time (log scale; lower is better)',
      'font-size="16" font-weight="600" fill="#24292f"',
    ),
  );
  if (rows.length === 0) {
    body.push(text(20, 60, 'no latency results in this run', 'font-size="13" fill="#57606a"'));
    return svg(width, 80, body);
  }
  let lx = 20;
  for (const m of MARKERS) {
    body.push(m.draw(lx + 6, 50, '#24292f'));
    body.push(text(lx + 16, 54, m.label, 'font-size="12" fill="#24292f"'));
    lx += 30 + m.label.length * 7;
  }
  const groups = [];
  for (const r of rows) {
    const title =
      r.case === 'wake'
        ? 'Wake-up of a sleeping consumer, one way (32 B)'
        : `Round trip, ${r.payloadBytes >= 1024 ? `${r.payloadBytes / 1024} KiB` : `${r.payloadBytes} B`}`;
    let g = groups.find((x) => x.title === title);
    if (!g) groups.push((g = { title, rows: [] }));
    g.rows.push(r);
  }
  const left = 210;
  const right = width - 30;
  const top = 80;
  const rowHeight = 22;
  const height = top + groups.reduce((h, g) => h + 28 + g.rows.length * rowHeight, 0) + 40;
  const all = rows.flatMap((r) => MARKERS.map((m) => r[m.key]).filter((v) => Number.isFinite(v) && v > 0));
  if (all.length === 0) all.push(1, 1000);
  const min = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const max = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const x = logScale(min, max, left, right);
  const axisBottom = height - 34;
  for (let v = min; v <= max * 1.001; v *= 10) {
    const label = v < 1 ? `${Number(v.toPrecision(1))} µs` : decadeLabel(v, 'us');
    body.push(`<line x1="${f1(x(v))}" x2="${f1(x(v))}" y1="${top - 6}" y2="${axisBottom}" stroke="#d0d7de"/>`);
    body.push(text(x(v), axisBottom + 16, label, 'font-size="11" fill="#57606a" text-anchor="middle"'));
  }
  let y = top;
  for (const g of groups) {
    body.push(text(20, y + 14, g.title, 'font-size="13" font-weight="600" fill="#24292f"'));
    y += 28;
    for (const r of g.rows) {
      const c = colorOf(r.contender);
      const cy = y + rowHeight / 2;
      body.push(
        text(left - 10, cy + 4, `${r.contender} (${r.strategy})`, 'font-size="12" fill="#24292f" text-anchor="end"'),
      );
      if (r.saturated) {
        body.push(
          text(
            left + 4,
            cy + 4,
            'saturated: the schedule outran it, no latency to show',
            'font-size="11" fill="#cf222e"',
          ),
        );
        y += rowHeight;
        continue;
      }
      body.push(
        `<line x1="${f1(x(r.p50Us))}" x2="${f1(x(r.maxUs))}" y1="${f1(cy)}" y2="${f1(cy)}" stroke="${c}" stroke-width="2" opacity="0.6"/>`,
      );
      for (const m of MARKERS.slice().reverse()) if (Number.isFinite(r[m.key])) body.push(m.draw(x(r[m.key]), cy, c));
      body.push(
        text(
          x(r.p50Us) - 9,
          cy + 4,
          r.p50Us < 10 ? r.p50Us.toFixed(2) : r.p50Us.toFixed(0),
          'font-size="10" fill="#24292f" text-anchor="end"',
        ),
      );
      y += rowHeight;
    }
  }
  return svg(width, height, body);
}

module.exports = { throughputChart, latencyChart };
