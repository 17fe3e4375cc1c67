#!/usr/bin/env node
'use strict';
// `npm run bench`: runs every case (bench/cases/) x contender (bench/contenders/) in fresh processes, interleaving
// contenders within each round, and prints one table. Flags:
//   --quick         reduced profile (well under a minute), used by test/bench.test.ts
//   --json FILE     also write the results as JSON
//   --save          regenerate docs/benchmark.md and its SVG charts
//   --filter REGEX  only runs whose key matches, e.g. 'throughput/.*/32B', 'rtt', 'native-c|shmring/'
//                   (key: <case>/<contender>/<payload>B/[<producers>p/]<consumers>c/<strategy>)
//   --list          print the run keys and exit
const fs = require('fs');
const path = require('path');
const { ensureBuilt, ROOT } = require('./build');
const cases = require('./cases');
const { contenders } = require('./contenders');
const measures = require('./measure');
const runner = require('./runner');
const report = require('./report');
const { targets } = require('./targets');
const { machineInfo } = require('./machine');

const USAGE = 'usage: node bench/run.js [--quick] [--json FILE] [--save] [--filter REGEX] [--list]';
/** Another process using more than this many cores during a run marks the row as noisy. */
const NOISE_CORES = 0.25;

function parseArgs(argv) {
  const opts = { quick: false, json: null, save: false, filter: null, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--save') opts.save = true;
    else if (a === '--list') opts.list = true;
    else if (a === '--json') opts.json = argv[++i];
    else if (a.startsWith('--json=')) opts.json = a.slice(7);
    else if (a === '--filter') opts.filter = argv[++i];
    else if (a.startsWith('--filter=')) opts.filter = a.slice(9);
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`unknown argument ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  if (opts.json === undefined || opts.filter === undefined) {
    console.error(USAGE);
    process.exit(2);
  }
  return opts;
}

const runKey = (c, point, run) =>
  `${c.id}/${run.contender}/${point.payloadBytes}B/${point.producers ? `${point.producers}p/` : ''}` +
  `${point.consumers}c/${run.strategy}`;
const refKey = (run) => `${run.contender}|${run.strategy}`;

/** Every run in execution order: per point, `rounds` rounds, contenders rotated by one each round. */
function planJobs(profile, filter) {
  const jobs = [];
  for (const c of cases) {
    c.points(profile).forEach((point, pointIndex) => {
      const runs = point.runs.filter((run) => !filter || filter.test(runKey(c, point, run)));
      for (let round = 0; round < point.rounds; round++) {
        for (let k = 0; k < runs.length; k++) {
          const run = runs[(k + round) % runs.length];
          jobs.push({ c, point, pointIndex, run, round, key: runKey(c, point, run) });
        }
      }
    });
  }
  return jobs;
}

function progress(enabled) {
  const started = Date.now();
  let shown = false;
  return {
    update(done, total, label) {
      if (!enabled) return;
      const width = 24;
      const filled = Math.round((done / total) * width);
      const secs = Math.round((Date.now() - started) / 1000);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${secs}s ${label}`;
      process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 100) - 1)}`);
      shown = true;
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

/** A latency run whose schedule outran its contender is re-run at a slower schedule at most this many times. */
const MAX_BACK_OFFS = 2;

/**
 * Runs one job; a latency run judged saturated (bench/saturation.js: queueing, not latency) is re-run with the
 * case's slower schedule (`c.backOff`, null when none is worth a run) until it is not, at most MAX_BACK_OFFS times.
 * A run still saturated keeps its verdict and loses its percentiles: what it measured is the queue, and it must not
 * be printed as latency.
 */
async function runJob(job, index) {
  let overrides = {};
  const attempts = [];
  for (;;) {
    const m = await runAttempt(job, index, overrides);
    if (!m.saturation) return m;
    attempts.push({ intervalUs: m.intervalUs, saturated: m.saturation.saturated, reason: m.saturation.reason });
    if (!m.saturation.saturated) return { ...m, attempts };
    const params = { ...job.point.params, ...overrides };
    const slower = attempts.length <= MAX_BACK_OFFS && job.c.backOff ? job.c.backOff(params, m) : null;
    if (!slower) return { ...m, attempts, saturated: true, p50Us: null, p99Us: null, p999Us: null, maxUs: null };
    overrides = { ...overrides, ...slower };
  }
}

async function runAttempt(job, index, overrides) {
  const entry = contenders.get(job.run.contender);
  const runAs = job.c.runAs || job.c.scenario;
  const unavailable = entry.impl.unavailable();
  if (unavailable) return { skip: unavailable };
  const params = {
    ...job.point.params,
    ...overrides,
    name: runner.runName(index),
    payloadBytes: job.point.payloadBytes,
    consumers: job.point.consumers,
    strategy: job.run.strategy,
    samplesFile: runner.tempPath(index, '.samples'),
  };
  // The contender's options as its children will see them (bench/child.js merges them the same way).
  const plan = entry.impl.plan(job.run.contender, runAs, { ...params, ...entry.options });
  if (!plan) return { skip: `${job.run.contender} has no ${runAs} mode for this case` };
  const p = job.point.params;
  const timeoutMs =
    30_000 + 4 * (p.durationMs || 0) + (p.count ? p.count / 1000 : 0) + (runAs === 'micro' ? 120_000 : 0);
  const outcome = await runner.runPlan(plan, { timeoutMs });
  if (process.env.SHMRING_BENCH_DEBUG) process.stderr.write(`\n${job.key} ${JSON.stringify(outcome)}\n`);
  if (outcome.skip) return { skip: outcome.skip };
  if (outcome.error) return { error: outcome.error };
  const base = {
    noisy: outcome.othersCores > NOISE_CORES,
    othersCores: outcome.othersCores,
    processes: plan.procs.length,
  };
  if (job.c.measure === 'micro') return { ...base, micro: outcome.results.filter((r) => r.kind === 'micro') };
  const m = measures[job.c.measure](outcome.results, params);
  if (m.error) return { error: m.error };
  return { ...base, ...m, strategy: entry.impl.strategyOf(runAs, { ...params, ...entry.options }) };
}

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

/** The compared value of a round: msgs/s for throughput, p50 for latency. */
const valueOf = (c, m) => (c.measure === 'throughput' ? m.msgsPerSec : m.p50Us);

/** One row per case x point x run, rounds folded: medians of values and of per-round ratios. */
function aggregate(jobs, outcomes) {
  const groups = new Map();
  jobs.forEach((job, i) => {
    const id = `${job.c.id}#${job.pointIndex}`;
    if (!groups.has(id)) groups.set(id, { c: job.c, point: job.point, runs: new Map() });
    const g = groups.get(id);
    const k = refKey(job.run);
    if (!g.runs.has(k)) g.runs.set(k, { run: job.run, rounds: [] });
    g.runs.get(k).rounds[job.round] = outcomes[i];
  });
  const rows = [];
  for (const g of groups.values()) {
    const { c, point } = g;
    for (const { run, rounds } of g.runs.values()) {
      const ok = rounds.filter((m) => m && !m.skip && !m.error);
      const failed = rounds.find((m) => m && (m.skip || m.error));
      const entry = contenders.get(run.contender);
      if (c.measure === 'micro') {
        for (const r of ok[0]?.micro || []) {
          rows.push(
            row(c, point, run, {
              contender: r.contender,
              op: r.op,
              opId: r.id ?? null,
              perCall: r.perCall ?? 1,
              spills: r.spills ?? 0,
              strategy: 'in-process',
              msgsPerSec: r.hz,
              mbPerSec: (r.hz * point.payloadBytes) / 1e6,
              nsPerOp: r.nsPerOp,
              rme: r.rme,
              note: r.note,
              errors: 0,
            }),
          );
        }
        if (!ok.length && failed) rows.push(row(c, point, run, { skipped: failed.skip, error: failed.error }));
        continue;
      }
      if (!ok.length) {
        rows.push(
          row(c, point, run, {
            strategy: entry.impl.strategyOf(c.runAs || c.scenario, {
              ...point.params,
              strategy: run.strategy,
              ...entry.options,
            }),
            skipped: failed?.skip ?? null,
            error: failed?.error ?? null,
          }),
        );
        continue;
      }
      const ratioTo = (key) => {
        const ref = key && g.runs.get(key);
        if (!ref) return null;
        return median(
          rounds.map((m, r) => {
            const other = ref.rounds[r];
            if (!m || m.skip || m.error || !other || other.skip || other.error) return null;
            return valueOf(c, m) / valueOf(c, other);
          }),
        );
      };
      const shmringKey = point.ref.shmring(run);
      const cKey = point.ref.c(run);
      const shmringRun = shmringKey && g.runs.get(shmringKey);
      let shmringVsC = null;
      if (shmringRun && cKey && g.runs.get(cKey)) {
        const cRun = g.runs.get(cKey);
        shmringVsC = median(
          shmringRun.rounds.map((m, r) => {
            const other = cRun.rounds[r];
            if (!m || m.skip || m.error || !other || other.skip || other.error) return null;
            return valueOf(c, m) / valueOf(c, other);
          }),
        );
      }
      const sum = (f) => (ok.every((m) => typeof m[f] === 'number') ? ok.reduce((s, m) => s + m[f], 0) : null);
      const fields = {
        strategy: ok[0].strategy,
        processes: ok[0].processes,
        rounds: ok.length,
        errors: sum('errors') + (failed ? 1 : 0),
      };
      if (c.measure === 'throughput') {
        const msgsPerSec = median(ok.map((m) => m.msgsPerSec));
        Object.assign(fields, {
          msgsPerSec,
          mbPerSec: (msgsPerSec * point.payloadBytes) / 1e6,
          lost: sum('lost'),
          sent: sum('sent'),
          received: sum('received'),
          messages: sum('messages'),
          gcs: sum('gcs'),
        });
      } else {
        // Rounds that stayed saturated measured a queue: their samples are left out, and a row of only those is
        // marked saturated with no percentiles.
        const fine = ok.filter((m) => !m.saturated);
        const all = new Float64Array(fine.reduce((n, m) => n + m.rawSamples.length, 0));
        let at = 0;
        for (const m of fine) {
          all.set(m.rawSamples, at);
          at += m.rawSamples.length;
        }
        const shown = fine.length ? fine : ok;
        Object.assign(fields, measures.percentiles(all), {
          saturated: fine.length === 0,
          saturation: (ok.find((m) => m.saturated) || shown[0]).saturation,
          attempts: Math.max(...ok.map((m) => (m.attempts ? m.attempts.length : 1))),
          intervalUs: median(shown.map((m) => m.intervalUs)),
          lost: sum('lost'),
          sent: sum('sent'),
          received: sum('received'),
        });
        if (ok[0].notAsleep !== undefined && ok[0].notAsleep !== null) fields.notAsleep = sum('notAsleep');
      }
      fields.vsShmring = ratioTo(shmringKey);
      fields.vsC = ratioTo(cKey);
      fields.vsSocket = point.ref.socket ? ratioTo(point.ref.socket(run)) : null;
      // Per-round values (null where the round failed), so any two rows of a point can be compared round by round.
      fields.roundValues = rounds.map((m) => (!m || m.skip || m.error ? null : valueOf(c, m)));
      fields.shmringVsC = shmringVsC;
      fields.noisy = ok.some((m) => m.noisy);
      fields.othersCores = Math.max(...ok.map((m) => m.othersCores));
      if (failed) fields.error = failed.error || failed.skip;
      rows.push(row(c, point, run, fields));
    }
  }
  return rows;
}

function row(c, point, run, fields) {
  return {
    contender: run.contender,
    scenario: c.scenario,
    case: c.id,
    payloadBytes: point.payloadBytes,
    consumers: point.consumers,
    producers: point.producers ?? 1,
    strategy: run.strategy,
    msgsPerSec: null,
    mbPerSec: null,
    p50Us: null,
    p99Us: null,
    p999Us: null,
    maxUs: null,
    errors: null,
    ...fields,
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let filter = null;
  if (opts.filter) {
    try {
      filter = new RegExp(opts.filter);
    } catch (err) {
      console.error(`--filter: ${err.message}`);
      process.exit(2);
    }
  }
  const profile = { quick: opts.quick };
  const jobs = planJobs(profile, filter);
  if (opts.list) {
    for (const key of new Set(jobs.map((j) => j.key))) console.log(key);
    return;
  }
  if (jobs.length === 0) {
    console.error(`--filter ${opts.filter} matches no run (see --list)`);
    process.exit(2);
  }
  ensureBuilt((line) => process.stderr.write(`${line}\n`));

  const onSignal = (signal) => {
    runner.killAll();
    runner.removeFiles(true);
    process.stderr.write(`\ninterrupted (${signal})\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = Date.now();
  const bar = progress(process.stderr.isTTY);
  const outcomes = [];
  let retryBudgetMs = opts.quick ? 10_000 : 20_000;
  let lastCase = null;
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i];
    if (!process.stderr.isTTY && job.c !== lastCase) {
      process.stderr.write(`running ${job.c.id} (${jobs.filter((j) => j.c === job.c).length} runs)\n`);
      lastCase = job.c;
    }
    bar.update(i, jobs.length, job.key);
    let outcome = await runJob(job, i);
    if (outcome.noisy && retryBudgetMs > 0) {
      // Another process took CPU during the run: wait for a quiet moment and run it once more.
      const t0 = Date.now();
      bar.update(i, jobs.length, `${job.key} (machine busy: waiting to re-run)`);
      await runner.waitForQuiet(Math.min(10_000, retryBudgetMs), NOISE_CORES);
      const again = await runJob(job, i);
      retryBudgetMs -= Date.now() - t0;
      if (!again.skip && !again.error && (!again.noisy || again.othersCores < outcome.othersCores)) {
        outcome = { ...again, retried: true };
      }
    }
    outcomes.push(outcome);
  }
  bar.clear();
  runner.removeFiles(true);

  const rows = aggregate(jobs, outcomes);
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const result = {
    machine: machineInfo(),
    node: process.version,
    date: new Date().toISOString(),
    command,
    profile: opts.quick ? 'quick' : 'default',
    filter: opts.filter,
    durationSec: Math.round((Date.now() - started) / 100) / 10,
    contenders: [...contenders].map(([id, e]) => ({ id, label: e.label, version: e.impl.version() })),
    cases: cases.map((c) => ({ id: c.id, title: c.title, prose: c.prose })),
    results: rows,
  };
  result.targets = targets(rows);
  process.stdout.write(report.text(result));
  if (opts.json) {
    const json = JSON.stringify(result, null, 2);
    fs.mkdirSync(path.dirname(path.resolve(opts.json)), { recursive: true });
    fs.writeFileSync(opts.json, `${json}\n`);
  }
  if (opts.save) {
    const written = report.save(result, path.join(ROOT, 'docs'));
    process.stderr.write(`wrote ${written.map((f) => path.relative(process.cwd(), f)).join(', ')}\n`);
  }
}

main().catch((err) => {
  runner.killAll();
  runner.removeFiles(true);
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
