'use strict';
// Everything the benchmark prints or saves: the terminal table, the targets, docs/benchmark.md and its two SVG
// charts (hand-written SVG, no chart library).
const fs = require('fs');
const path = require('path');
const { throughputChart, latencyChart } = require('./charts');

// ---- formatting ----

function rate(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : n >= 1e7 ? 1 : 2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)} k`;
  return n.toFixed(0);
}

function num(n, digits = 1) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  if (n >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(digits);
}

function us(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  if (n < 10) return n.toFixed(2);
  if (n < 100) return n.toFixed(1);
  return Math.round(n).toLocaleString('en-US');
}

function ratio(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  if (n >= 100) return `${Math.round(n)}×`;
  if (n >= 10) return `${n.toFixed(1)}×`;
  return `${n.toFixed(2)}×`;
}

function bytes(n) {
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

/** Fixed-width table: `align` per column is 'l' or 'r'. */
function table(header, rows, align) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const fmt = (cells) =>
    cells
      .map((c, i) => (align[i] === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].map((l) => `  ${l}`).join('\n');
}

function mdTable(header, rows, align) {
  const sep = align.map((a) => (a === 'r' ? '---:' : ':---'));
  const line = (cells) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}

// ---- sections ----

const mark = (r) => (r.noisy ? '*' : '');
const status = (r) => (r.skipped ? `skipped: ${r.skipped}` : r.error ? `FAILED: ${firstLine(r.error)}` : null);
const firstLine = (s) => String(s).split('\n')[0].slice(0, 120);

/** Share of the messages sent that a consumer never got (broadcast receivers that were lapped). */
function lostShare(r) {
  if (!r.lost) return '0';
  const share = (100 * r.lost) / (r.lost + r.received);
  return `${share < 1 ? share.toFixed(2) : share.toFixed(1)}%`;
}

/** `fanout`: the rows have N consumers ('consumers') or N producers ('producers') and no C baseline; else false. */
function throughputSection(rows, fanout) {
  // Each ratio is this row's msgs/s over the reference's in the same round (median over rounds): native-c with a
  // busy-spinning consumer, and the Unix socket with batched writes. Fan-out and many-to-one have no C baseline.
  const refs = fanout ? ['vs unix-socket'] : ['vs native-c', 'vs unix-socket'];
  const column = fanout === 'producers' ? 'producers' : 'consumers';
  const header = [
    'payload',
    ...(fanout ? [column] : []),
    'contender',
    'strategy',
    'msgs/s',
    'MB/s',
    'errors',
    'lost',
    ...refs,
  ];
  const align = ['l', ...(fanout ? ['r'] : []), 'l', 'l', 'r', 'r', 'r', 'r', ...refs.map(() => 'r')];
  let prev = null;
  const body = rows.map((r) => {
    const group = `${r.payloadBytes}/${r[column]}`;
    const first = group !== prev;
    prev = group;
    const s = status(r);
    const ratios = fanout ? [r.vsSocket] : [r.vsC, r.vsSocket];
    return [
      first ? bytes(r.payloadBytes) : '',
      ...(fanout ? [first ? r[column] : ''] : []),
      r.contender + mark(r),
      r.strategy,
      s ? s : rate(r.msgsPerSec),
      s ? '' : num(r.mbPerSec, r.mbPerSec < 100 ? 1 : 0),
      s ? '' : r.errors,
      s ? '' : lostShare(r),
      ...ratios.map((x) => (s ? '' : ratio(x))),
    ];
  });
  return { header, align, body };
}

/** The schedule a latency row was measured at; "(re-run n×)" when saturated attempts made it back off. */
function interval(r) {
  return `${us(r.intervalUs)}${r.attempts > 1 ? ` (re-run ${r.attempts - 1}×)` : ''}`;
}

/** What a saturated row says instead of percentiles: it measured a queue. */
function saturatedCell(r) {
  return `SATURATED: ${r.saturation?.reason || 'the schedule outran it'}`;
}

function latencySection(rows, wake) {
  const header = wake
    ? [
        'contender',
        'strategy',
        'interval µs',
        'p50',
        'p99',
        'p99.9',
        'max',
        'samples',
        'errors',
        'vs shmring',
        'vs floor',
      ]
    : [
        'payload',
        'contender',
        'strategy',
        'interval µs',
        'p50',
        'p99',
        'p99.9',
        'max',
        'samples',
        'errors',
        'vs shmring',
        'shmring vs C',
      ];
  const align = wake
    ? ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']
    : ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'];
  let prev = null;
  const body = rows.map((r) => {
    const first = r.payloadBytes !== prev;
    prev = r.payloadBytes;
    const s = status(r);
    const cells = s
      ? [s, '', '', '', '', '', '', '', '']
      : r.saturated
        ? [interval(r), saturatedCell(r), '', '', '', '', r.errors, '', '']
        : [
            interval(r),
            us(r.p50Us),
            us(r.p99Us),
            us(r.p999Us),
            us(r.maxUs),
            r.samples,
            r.errors,
            ratio(r.vsShmring),
            ratio(wake ? r.vsC : r.shmringVsC),
          ];
    return wake
      ? [r.contender + mark(r), r.strategy, ...cells]
      : [first ? bytes(r.payloadBytes) : '', r.contender + mark(r), r.strategy, ...cells];
  });
  return { header, align, body };
}

function microSection(rows) {
  const header = ['call (32 B)', 'contender', 'ns/msg', 'msgs/s', '±', 'what else it includes'];
  const align = ['l', 'l', 'r', 'r', 'r', 'l'];
  const body = rows.map((r) =>
    status(r)
      ? [status(r), '', '', '', '', '']
      : [r.op, r.contender, num(r.nsPerOp, 1), rate(r.msgsPerSec), `${r.rme.toFixed(1)}%`, r.note || ''],
  );
  return { header, align, body };
}

function gcSection(rows) {
  const header = ['contender', 'messages', 'GCs (producer + consumer)', 'errors', 'msgs/s'];
  const align = ['l', 'r', 'r', 'r', 'r'];
  const body = rows.map((r) =>
    status(r)
      ? [r.contender, status(r), '', '', '']
      : [r.contender, num(r.messages, 0), r.gcs ?? '-', r.errors, rate(r.msgsPerSec)],
  );
  return { header, align, body };
}

function sections(result) {
  const rows = result.results;
  const of = (id) => rows.filter((r) => r.case === id);
  const caseInfo = (id) => result.cases.find((c) => c.id === id) || { title: id, prose: '' };
  const out = [];
  const add = (id, legend, section) => {
    const rs = of(id);
    if (rs.length) out.push({ id, title: caseInfo(id).title, prose: caseInfo(id).prose, legend, ...section(rs) });
  };
  add(
    'throughput',
    "msgs/s delivered; strategy = how the consumer waits (spin: polls back to back; default: the library's BackoffIdleStrategy); lost = share a lapped broadcast receiver never got; vs native-c / vs unix-socket = msgs/s ÷ that reference's (native-c busy-spin; Unix socket, batched writes) in the same round",
    (rs) => throughputSection(rs, false),
  );
  add(
    'fanout',
    "msgs/s per consumer (the slowest); vs unix-socket = msgs/s ÷ the Unix socket's in the same round; there is no C fan-out baseline",
    (rs) => throughputSection(rs, 'consumers'),
  );
  add(
    'many-to-one',
    "msgs/s from all N producers together; vs unix-socket = msgs/s ÷ the Unix socket server's (N clients) in the same round",
    (rs) => throughputSection(rs, 'producers'),
  );
  add(
    'rtt',
    'µs from the intended send time; vs shmring = p50 ÷ shmring p50 with the same kind of waiting (higher = slower); shmring vs C = shmring p50 ÷ native-c p50',
    (rs) => latencySection(rs, false),
  );
  add(
    'wake',
    'µs from the intended send time to the consumer running; vs floor = p50 ÷ native-c (raw futex) p50',
    (rs) => latencySection(rs, true),
  );
  add(
    'micro',
    'benchmark.js, mean over its samples; per message (rows doing several messages per call are divided by them)',
    microSection,
  );
  add('gc', 'PerformanceObserver "gc" entries started while messages moved', gcSection);
  return out;
}

function targetValue(v, unit) {
  if (v === null) return 'not measured';
  if (unit === '×') return ratio(v);
  if (unit === 'ns') return `${num(v, 1)} ns`;
  if (unit === 'µs') return `${us(v)} µs`;
  return String(v);
}

/** One goal as table cells: status, measure, this run, target, also. */
function targetLine(t) {
  const bound = (g) => (t.unit === 'count' ? String(g) : t.unit === '×' ? ratio(g) : `${g} ${t.unit}`);
  const goal = `${t.cmp === '>=' ? '≥' : '≤'} ${bound(t.goal)}${t.stretch ? ` (stretch ${bound(t.stretch)})` : ''}`;
  const status = t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED';
  return { status, text: t.text, value: targetValue(t.value, t.unit) + (t.noisy ? '*' : ''), goal, also: t.also || '' };
}

const TARGET_GROUPS = [
  { title: 'Targets (ratios taken within this run)', issue: 10 },
  { title: 'Many-to-one targets (ratios taken within this run)', issue: 14 },
  { title: 'Standing goals', issue: null },
];

// ---- terminal ----// ---- terminal ----

function header(result) {
  const m = result.machine;
  return [
    `shmring benchmark — ${result.date.replace('T', ' ').slice(0, 16)} UTC — ${result.command}`,
    `${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${result.node} (${result.profile} profile, ${result.durationSec} s)`,
    'Read the ratios: each is taken within one round (contenders interleaved); absolute numbers drift with the VM.',
  ].join('\n');
}

function text(result) {
  const parts = [header(result)];
  for (const s of sections(result)) {
    parts.push(`\n${s.title}\n  (${s.legend})\n${table(s.header, s.body, s.align)}`);
  }
  for (const g of TARGET_GROUPS) {
    const ts = result.targets.filter((t) => t.issue === g.issue).map(targetLine);
    const cells = ts.map((t) => [t.status, t.text, t.value, t.goal, t.also]);
    parts.push(
      `\n${g.title}\n${table(['', 'measure', 'this run', 'target', 'also'], cells, ['l', 'l', 'r', 'r', 'l'])}`,
    );
  }
  if (result.results.some((r) => r.noisy)) {
    parts.push('\n* another process used more than a quarter of a core during this run: treat its numbers with care');
  }
  if (result.results.some((r) => r.saturated)) {
    parts.push('SATURATED: the schedule outran the contender even after backing off; it measured a queue, not latency');
  }
  return `${parts.join('\n')}\n`;
}

// ---- docs/benchmark.md ----

function markdown(result) {
  const m = result.machine;
  const lines = [
    '# shmring benchmark',
    '',
    `Measured ${result.date.slice(0, 10)} (${result.date.slice(11, 16)} UTC) with \`${result.command}\` ` +
      `(${result.profile} profile, ${result.durationSec} s) on ${m.cpu}, ${m.cores} cores, ${m.kernel}, ` +
      `Node ${result.node} (V8 ${m.v8}). Regenerate with \`npm run bench -- --save\`.`,
    '',
    '> Only ratios mean anything across machines and even across minutes: this 2-core VM drifts between a fast and ' +
      'a slow state every few minutes. Every round runs each contender once (order rotated between rounds), every ' +
      'ratio is taken within a round, and the median over rounds is shown.',
    '',
    '![Throughput by payload, 1 producer → 1 consumer (log scale)](benchmark-throughput.svg)',
    '',
    '![Round-trip and wake-up latency percentiles (log scale)](benchmark-latency.svg)',
    '',
  ];
  const badge = (status) => (status === 'met' ? '✅ met' : status === 'MISSED' ? '❌ missed' : 'n/a');
  for (const g of TARGET_GROUPS) {
    const ts = result.targets.filter((t) => t.issue === g.issue).map(targetLine);
    const cells = ts.map((t) => [badge(t.status), t.text, t.value, t.goal, t.also]);
    lines.push(
      `## ${g.title}`,
      '',
      mdTable(['', 'measure', 'this run', 'target', 'also'], cells, ['l', 'l', 'r', 'r', 'l']),
      '',
    );
  }
  for (const s of sections(result)) {
    lines.push(`## ${s.title}`, '', s.prose, '', `_${s.legend}._`, '', mdTable(s.header, s.body, s.align), '');
  }
  if (result.results.some((r) => r.noisy)) {
    lines.push('\\* another process used more than a quarter of a core during this run.', '');
  }
  if (result.results.some((r) => r.saturated)) {
    lines.push(
      '`SATURATED`: the schedule outran the contender even after backing off; what it measured was a queue, ' +
        'so no latency is shown (see Method).',
      '',
    );
  }
  // The analysis does not change with the numbers: it is prose kept beside the harness.
  const analysis = path.join(__dirname, 'analysis.md');
  if (fs.existsSync(analysis)) lines.push(fs.readFileSync(analysis, 'utf8').trimEnd(), '');
  lines.push(
    '## Contenders',
    '',
    mdTable(
      ['id', 'what', 'version'],
      result.contenders.map((c) => [`\`${c.id}\``, c.label, c.version]),
      ['l', 'l', 'l'],
    ),
    '',
    '## Method',
    '',
    '- Every case × contender runs in fresh processes (`bench/child.js`, or the C baseline `shmring_baseline`): ' +
      'each side prints `ready`, the harness sends `go` to the consumers first, then the producer.',
    '- Every message carries a sequence number in its first and last 4 bytes; consumers check each one (and the ' +
      'length). `errors` counts wrong, repeated or missing messages and must be 0; broadcast gaps count as loss.',
    '- Throughput runs for a fixed time after a warm-up; msgs/s counts post-warm-up messages from the first measured ' +
      'send to the end marker reaching the (slowest) consumer.',
    "- The consumer's strategy is a dimension of the throughput rows: `spin` polls back to back " +
      '(`sub.poll(handler, 256)`); `default` is what a user writes, `const idle = new BackoffIdleStrategy(); ' +
      "idle.idle(sub.poll(handler, 256))`, with the library's exported class and its default arguments. Fan-out " +
      'consumers use `default` (3 or 5 processes on 2 cores). `shmring-inproc` offers and polls on one thread ' +
      '(256 offers, then a poll of up to 256): the same work without a second process, so the gap to the other rows ' +
      'is what crossing processes costs. `vs native-c` and `vs unix-socket` are msgs/s ratios to those references ' +
      'within the same round, median over rounds.',
    '- Latency: one message in flight. Back-to-back round trips warm up and set the interval = max(2 µs, 4 × median, ' +
      '1.5 × mean of their second half); paced round trips then warm up the paced path (discarded); then the pinger ' +
      'sends at intended times `t0 + i × interval` and each sample is reply time − intended send time, so a stall ' +
      'delays every sample behind it instead of hiding (no coordinated omission). Percentiles from an HdrHistogram ' +
      '(`hdr-histogram-js`, 3 significant digits, capped at the exact max).',
    '- Saturation: a schedule faster than the contender can answer measures a queue, not latency. Each latency run ' +
      'is judged (`bench/saturation.js`): saturated if the pinger made fewer than 95 % of the scheduled sends, if ' +
      "the median of the run's last third is above the interval and more than 2× the first third's, or if the " +
      'median sample is above the interval (most replies came after the next send was due). A saturated ' +
      'run is re-run with the interval at least 4× longer (wake: sends 4× further apart), at most twice; the ' +
      '`interval µs` column shows the schedule kept and `(re-run n×)` how often it backed off. A row still saturated ' +
      'is shown as `SATURATED` with the reason and no percentiles; so is a run with fewer than 30 samples (a ' +
      'schedule set from round trips of milliseconds on a busy machine), which cannot be judged.',
    "- Micro rows are benchmark.js in one process. The rows the targets use keep the other side's work " +
      "out of the timing: the ring is drained (offer, tryClaim) or filled (poll) in each cycle's setup, and each " +
      'call does 64 messages, reported per message. `tryClaim + commit, 4 Int32 fields` writes through an ' +
      '`Int32Array` over the mapping made once (`words[(claim.buffer.byteOffset + claim.offset >> 2) + k]`).',
    "- The C baseline (`bench/native/baseline_ring.c`, CMake target `shmring_baseline`) is SPSC with shmring's " +
      'reliable-mode protocol: 8-byte-aligned length-prefixed records, payload written plainly, then one release ' +
      'store of the record length commits it (the next slot zeroed first); the consumer spins on that length word, ' +
      'copies each payload out and checks its sequence numbers; spin waits use the CPU pause hint. Its futex mode ' +
      'sleeps like shmring (waiter count, wake sequence word); its wake mode is a bare FUTEX_WAIT/FUTEX_WAKE pair ' +
      'between two processes: the raw futex wake floor.',
    '- shmring consumers read in place (zero copy) and check the sequence numbers, while the C consumer copies every ' +
      "payload out: at 64 KiB that copy is most of the C consumer's work. `shmring-claim` copies the payload into " +
      'the claimed space, as an encoder would.',
    '- A run during which other processes used more than a quarter of a core (from `/proc/stat`) is re-run once ' +
      'the machine is quiet; if it is still disturbed it is marked `*`.',
    '',
  );
  return lines.join('\n');
}

function save(result, docsDir) {
  fs.mkdirSync(docsDir, { recursive: true });
  const files = {
    'benchmark.md': markdown(result),
    'benchmark-throughput.svg': throughputChart(result),
    'benchmark-latency.svg': latencyChart(result),
  };
  const written = [];
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(docsDir, name);
    fs.writeFileSync(file, content);
    written.push(file);
  }
  return written;
}

module.exports = { text, save, markdown, rate, us, bytes };
