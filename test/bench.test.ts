/**
 * The benchmark harness end to end: `node bench/run.js --quick --json FILE` runs every case x contender in fresh
 * processes; the JSON must have the documented shape and every verified count must be exact (every consumer saw
 * every sequence number once, in order; broadcast gaps are counted as loss, not hidden). No timing assertions: the
 * numbers depend on the machine.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';

interface Row {
  contender: string;
  scenario: string;
  case: string;
  payloadBytes: number;
  consumers: number;
  producers?: number;
  strategy: string;
  msgsPerSec: number | null;
  mbPerSec: number | null;
  p50Us: number | null;
  p99Us: number | null;
  p999Us: number | null;
  maxUs: number | null;
  errors: number | null;
  sent?: number;
  received?: number;
  lost?: number;
  samples?: number;
  gcs?: number | null;
  skipped?: string | null;
  error?: string | null;
  saturated?: boolean;
  saturation?: { saturated: boolean; reason: string | null; achieved: number | null };
  intervalUs?: number;
  attempts?: number;
  vsC?: number | null;
  vsSocket?: number | null;
  opId?: string | null;
  nsPerOp?: number;
  perCall?: number;
  processes?: number;
}

interface BenchJson {
  machine: { cpu: string; cores: number; kernel: string };
  node: string;
  date: string;
  results: Row[];
  targets: { id: string; issue: number | null; met: boolean | null; value: number | null }[];
}

const ROOT = path.resolve(__dirname, '..');
const CONTENDERS = [
  'shmring',
  'shmring-broadcast',
  'shmring-batch',
  'shmring-claim',
  'shmring-async',
  'shmring-inproc',
  'shmring-m2o',
  'postMessage',
  'postMessage-batch',
  'unix-socket',
  'native-c',
];
const measured = (rows: Row[]): Row[] => rows.filter((r) => !r.skipped);

describe('npm run bench -- --quick --json', () => {
  let json: BenchJson;
  let stdout: string;

  // Asynchronously: a worker whose event loop is blocked for the whole run (a minute or more on a loaded machine)
  // misses vitest's own 60 s RPC deadline and fails the suite with "Timeout calling onTaskUpdate".
  beforeAll(async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-bench-test-')), 'bench.json');
    const run = await new Promise<{ failure: string | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['bench/run.js', '--quick', '--json', file],
        { cwd: ROOT, encoding: 'utf8', timeout: 170_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
        (err, out, errOut) => resolve({ failure: err === null ? null : err.message, stdout: out, stderr: errOut }),
      );
    });
    if (run.failure !== null) throw new Error(`bench failed: ${run.failure}:\n${run.stderr}`);
    stdout = run.stdout;
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchJson;
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }, 180_000);

  it('describes the machine, the Node version and the date', () => {
    expect(json.machine.cpu).toEqual(expect.any(String));
    expect(json.machine.cores).toBeGreaterThan(0);
    expect(json.machine.kernel).toMatch(/Linux/);
    expect(json.node).toBe(process.version);
    expect(Number.isNaN(Date.parse(json.date))).toBe(false);
  });

  it('gives every row the documented fields', () => {
    expect(json.results.length).toBeGreaterThan(0);
    for (const r of json.results) {
      expect(CONTENDERS).toContain(r.contender);
      for (const key of [
        'scenario',
        'payloadBytes',
        'consumers',
        'msgsPerSec',
        'mbPerSec',
        'p50Us',
        'p99Us',
        'p999Us',
        'maxUs',
        'errors',
      ]) {
        expect(r, `${r.case}/${r.contender}`).toHaveProperty(key);
      }
    }
  });

  it('runs every scenario, and no run fails', () => {
    expect(json.results.filter((r) => r.error)).toEqual([]);
    const scenarios = new Set(json.results.map((r) => r.scenario));
    for (const s of ['throughput', 'rtt', 'wake', 'micro', 'gc']) expect(scenarios).toContain(s);
    expect(measured(json.results).some((r) => r.contender === 'native-c')).toBe(true);
  });

  it('verifies every message: no errors, and sent = received + lost for each consumer', () => {
    for (const r of measured(json.results)) {
      const where = `${r.case}/${r.contender}/${r.payloadBytes}B/${r.consumers}c/${r.strategy}`;
      expect(r.errors, where).toBe(0);
      if (r.scenario === 'micro') continue;
      expect(r.sent, where).toBeGreaterThan(0);
      const perConsumer = r.scenario === 'throughput' || r.scenario === 'gc' ? r.consumers : 1;
      expect((r.received ?? 0) + (r.lost ?? 0), where).toBe((r.sent ?? 0) * perConsumer);
      // Only a broadcast ring may drop messages (a lapped receiver), and the bare futex floor may coalesce wake-ups.
      if (r.contender !== 'shmring-broadcast' && !(r.scenario === 'wake' && r.contender === 'native-c')) {
        expect(r.lost, where).toBe(0);
      }
    }
  });

  it('reports throughput for throughput rows and percentiles for latency rows', () => {
    for (const r of measured(json.results)) {
      if (['throughput', 'many-to-one', 'gc', 'micro'].includes(r.scenario)) {
        expect(r.msgsPerSec).toBeGreaterThan(0);
      } else if (r.saturated) {
        // Still saturated after backing off: it measured a queue, so it says why and shows no latency.
        expect(r.saturation?.reason).toEqual(expect.any(String));
        expect(r.p50Us).toBeNull();
        expect(r.attempts).toBeGreaterThanOrEqual(1);
      } else {
        expect(r.samples).toBeGreaterThan(0);
        expect(r.p50Us).toBeGreaterThan(0);
        expect(r.p99Us!).toBeGreaterThanOrEqual(r.p50Us!);
        expect(r.p999Us!).toBeGreaterThanOrEqual(r.p99Us!);
        expect(r.maxUs!).toBeGreaterThanOrEqual(r.p999Us!);
      }
      if (r.scenario === 'gc') expect(r.gcs).toEqual(expect.any(Number));
    }
  });

  it('runs every cross-process shmring throughput variant with a spinning and with the default consumer', () => {
    const throughput = measured(json.results).filter((r) => r.case === 'throughput');
    for (const contender of ['shmring', 'shmring-batch', 'shmring-claim', 'shmring-broadcast']) {
      for (const payloadBytes of [32, 1024]) {
        const strategies = throughput
          .filter((r) => r.contender === contender && r.payloadBytes === payloadBytes)
          .map((r) => r.strategy);
        expect(strategies.sort(), `${contender} ${payloadBytes} B`).toEqual(['default', 'spin']);
      }
    }
    // Every row is compared with both references of its round; the references with themselves give 1.
    for (const r of throughput) {
      expect(r.vsC, `${r.contender}/${r.strategy}`).toBeGreaterThan(0);
      expect(r.vsSocket, `${r.contender}/${r.strategy}`).toBeGreaterThan(0);
    }
    expect(throughput.find((r) => r.contender === 'native-c')?.vsC).toBe(1);
    expect(throughput.find((r) => r.contender === 'unix-socket')?.vsSocket).toBe(1);
    const fanout = measured(json.results).filter((r) => r.case === 'fanout' && r.contender === 'shmring');
    expect(fanout.map((r) => r.strategy)).toEqual(fanout.map(() => 'default'));
  });

  it('has an in-process row: offer and poll on one thread, verified like the others', () => {
    const inProcess = measured(json.results).filter((r) => r.contender === 'shmring-inproc');
    expect(inProcess.map((r) => r.payloadBytes).sort((a, b) => a - b)).toEqual([32, 1024]);
    for (const r of inProcess) {
      expect(r.strategy).toBe('in-process');
      expect(r.processes).toBe(1);
      expect(r.msgsPerSec).toBeGreaterThan(0);
    }
    const crossProcess = measured(json.results).filter((r) => r.case === 'throughput' && r.contender === 'shmring');
    for (const r of crossProcess) expect(r.processes).toBe(2);
  });

  it('has the micro rows the targets name, reported per message', () => {
    const micro = measured(json.results).filter((r) => r.case === 'micro');
    for (const id of ['offer-clean', 'claim-fields', 'poll-per-message']) {
      const r = micro.find((x) => x.opId === id);
      expect(r, id).toBeDefined();
      expect(r!.nsPerOp).toBeGreaterThan(0);
      expect(r!.perCall).toBe(64);
    }
    expect(micro.length).toBeGreaterThanOrEqual(8); // the five earlier rows are kept
  });

  it('judges every latency row for saturation, with the schedule it was measured at', () => {
    const latency = measured(json.results).filter((r) => r.scenario === 'rtt' || r.scenario === 'wake');
    expect(latency.length).toBeGreaterThan(0);
    for (const r of latency) {
      const where = `${r.case}/${r.contender}/${r.strategy}`;
      expect(typeof r.saturation?.saturated, where).toBe('boolean');
      expect(r.intervalUs, where).toBeGreaterThan(0);
      // Round trips also count the sends the schedule asked for (the wake sender cannot fall behind).
      if (r.scenario === 'rtt') expect(r.saturation?.achieved, where).toEqual(expect.any(Number));
      if (!r.saturated) expect(r.saturation?.saturated, where).toBe(false);
    }
  });

  it('has many-to-one rows: 4 producers into one consumer, shmring against a socket server and postMessage', () => {
    const rows = measured(json.results).filter((r) => r.case === 'many-to-one');
    expect(rows.map((r) => r.contender).sort()).toEqual(['postMessage', 'shmring-m2o', 'unix-socket']);
    for (const r of rows) expect(r, r.contender).toMatchObject({ producers: 4, errors: 0, lost: 0 });
    const shmring = rows.find((r) => r.contender === 'shmring-m2o')!;
    // Counted, not required to be 0 here: five processes with idle strategies on 2 cores; the GC check (a fixed 10 M
    // messages) is where 0 is required, and the targets table reports this row's count.
    expect(shmring.gcs).toEqual(expect.any(Number));
    expect(shmring.vsSocket).toEqual(expect.any(Number));
    expect(stdout).toMatch(/Throughput, N producers → 1 consumer \(many-to-one\)/);
    const ids = json.targets.filter((t) => t.issue === 14).map((t) => t.id);
    expect(ids).toEqual(['m2o-32-1', 'm2o-32-2', 'm2o-32-4', 'm2o-errors', 'm2o-gcs', 'm2o-rtt']);
    expect(json.targets.find((t) => t.id === 'm2o-32-4')?.value).toEqual(expect.any(Number));
  });

  it('prints the table and the targets', () => {
    expect(stdout).toMatch(/Throughput, 1 producer → 1 consumer/);
    expect(stdout).toMatch(/Round-trip latency/);
    expect(stdout).toMatch(/Targets/);
    expect(stdout).toMatch(/Targets \(ratios taken within this run\)/);
    const ids = json.targets.filter((t) => t.issue === 10).map((t) => t.id);
    for (const id of [
      'offer-32',
      'offer-32-socket',
      'batch-32',
      'offer-1k',
      'broadcast-32',
      'fanout-2',
      'micro-offer',
      'micro-claim',
      'micro-poll',
      'rtt-p50',
      'gc',
      'errors',
    ]) {
      expect(ids).toContain(id);
    }
    // What the quick profile measures has a value (fan-out 4 and a saturated RTT row may not).
    for (const id of [
      'offer-32',
      'offer-32-socket',
      'batch-32',
      'offer-1k',
      'broadcast-32',
      'fanout-2',
      'micro-offer',
      'micro-claim',
      'micro-poll',
      'gc',
      'errors',
    ]) {
      expect(json.targets.find((t) => t.id === id)?.value, id).toEqual(expect.any(Number));
    }
  });
});
