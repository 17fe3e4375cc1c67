#!/usr/bin/env node
'use strict';
// `npm run bench:bridge`: the NATS bridge's rows, apart from `npm run bench` because they need nats-server (Debian
// package nats-server, JetStream) and the NATS client (devDependencies). Starts its own nats-server on a free
// loopback port with JetStream in a temporary directory, and compares, for 32 B and 1 KiB payloads:
//   bridged JetStream   Node producer → reliable ring A → `shmring bridge out` → JetStream → `shmring bridge in`
//                       → ring B → Node consumer (each a process; acked, de-duplicated, exactly once into ring B)
//   direct JetStream    a Node process publishing to JetStream (acked, 256 in flight, as bridge out does) and one
//                       consuming a durable pull consumer (ack-all, as bridge in does)
//   bridged core        Node producer → broadcast ring A → bridge out → core NATS → bridge in → ring B → consumer
//   direct core         a Node process publishing with core NATS, one subscribing
// Throughput: `count` messages as fast as they go, first send to last receive (core NATS may drop some: the
// `delivered` column; a run ends 3 s after the last message arrived). Latency: a paced run (`rate`
// messages/s), each message stamped with its intended send time (CLOCK_MONOTONIC, system-wide), so a stall delays
// every sample behind it (no coordinated omission); p50/p99 in µs. Flags: --quick (fewer messages), --json FILE,
// --filter REGEX (rows whose "<path> <payload>B" matches, e.g. 'core' or 'JetStream 32B').
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'shmring.js');
const args = process.argv.slice(2);
const role = args[0] === '--role' ? args[1] : null;

/** Microseconds on CLOCK_MONOTONIC (the same clock in every process of the machine). */
function nowUs() {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends `count` messages of `size` bytes through `send(message)` (a promise when it must wait), paced at `rate`. */
async function produce({ count, size, rate }, send) {
  const message = new Uint8Array(Math.max(size, 16));
  const stamp = new Float64Array(message.buffer, 0, 2);
  const start = nowUs() + 1000;
  for (let i = 0; i < count; i++) {
    const intended = rate > 0 ? start + (i * 1e6) / rate : nowUs();
    if (rate > 0) {
      while (nowUs() < intended - 200) await sleep(0);
    }
    stamp[0] = intended;
    stamp[1] = i;
    const waited = send(message.subarray(0, size >= 16 ? size : 16));
    if (waited !== undefined) await waited;
  }
}

/** Collects latencies (µs) and the arrival window; resolves with the summary once `count` arrived. */
function collector(count) {
  const latencies = new Float64Array(count);
  let received = 0;
  let first = 0;
  let last = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const finish = () => {
    const sorted = Array.from(latencies.subarray(0, received)).sort((a, b) => a - b);
    done({
      received,
      elapsedUs: last - first,
      p50: sorted[Math.floor(0.5 * received)],
      p99: sorted[Math.min(received - 1, Math.floor(0.99 * received))],
    });
  };
  // At most once (core NATS) may lose messages: 3 s without one ends the run with what arrived.
  const idle = setInterval(() => {
    if (received > 0 && nowUs() - last > 3e6) {
      clearInterval(idle);
      finish();
    }
  }, 250);
  return {
    finished,
    accept(bytes, offset) {
      if (received >= count) return;
      const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 16);
      const sent = view.getFloat64(0, true);
      const now = nowUs();
      if (received === 0) first = sent;
      latencies[received++] = now - sent;
      last = now;
      if (received === count) {
        clearInterval(idle);
        finish();
      }
    },
  };
}

async function runRole(name, p) {
  const shmring = require(path.join(ROOT, 'dist', 'lib', 'index.js'));
  if (name === 'ring-producer') {
    const pub = shmring.Publication.attach(p.ring);
    await produce(p, (m) => {
      if (pub.offer(m, 1) >= 0) return undefined;
      return (async () => {
        while (pub.offer(m, 1) < 0) await sleep(0);
      })();
    });
    console.log('done');
    await sleep(200);
    pub.close();
  } else if (name === 'ring-consumer') {
    const sub = shmring.Subscription.open(p.ring, { from: 'earliest' });
    const c = collector(p.count);
    let result = null;
    void c.finished.then((r) => (result = r));
    const handler = (buffer, offset) => c.accept(buffer, offset);
    console.log('ready');
    while (result === null) {
      if (sub.poll(handler, 256) === 0) await sub.wait({ timeoutMs: 100 });
    }
    console.log(`result ${JSON.stringify(result)}`);
    sub.close();
  } else if (name === 'nats-publisher' || name === 'nats-subscriber') {
    const { connect } = require('@nats-io/transport-node');
    const js = require('@nats-io/jetstream');
    const nc = await connect({ servers: p.url });
    if (name === 'nats-publisher') {
      if (p.jetstream) {
        const client = js.jetstream(nc);
        let window = [];
        await produce(p, (m) => {
          window.push(client.publish(p.subject, m.slice()));
          if (window.length < 256) return undefined;
          const all = Promise.all(window);
          window = [];
          return all;
        });
        await Promise.all(window);
      } else {
        let sinceFlush = 0;
        await produce(p, (m) => {
          nc.publish(p.subject, m.slice());
          if (++sinceFlush < 1024) return undefined;
          sinceFlush = 0;
          return nc.flush();
        });
        await nc.flush();
      }
      console.log('done');
    } else {
      const c = collector(p.count);
      if (p.jetstream) {
        const jsm = await js.jetstreamManager(nc);
        await jsm.consumers.add(p.stream, {
          durable_name: 'direct',
          ack_policy: js.AckPolicy.All,
          max_ack_pending: 20000,
        });
        const consumer = await js.jetstream(nc).consumers.get(p.stream, 'direct');
        const messages = await consumer.consume({ max_messages: 1024 });
        console.log('ready');
        let n = 0;
        void (async () => {
          for await (const m of messages) {
            c.accept(m.data, 0);
            if (++n % 64 === 0) m.ack();
          }
        })();
      } else {
        nc.subscribe(p.subject, { callback: (err, m) => err === null && c.accept(m.data, 0) });
        await nc.flush();
        console.log('ready');
      }
      const result = await c.finished;
      console.log(`result ${JSON.stringify(result)}`);
    }
    await nc.close();
  }
}

// ---------------------------------------------------------------------------------------------- orchestration

const children = new Set();

function start(argv, label) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const err = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    lines.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (d) => err.push(d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const handle = {
    child,
    lines,
    async line(text, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found =
          lines.find((l) => l.includes(text)) ?? (text === 'running' ? err.join('').includes(text) : undefined);
        if (found) return found;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`${label}: no "${text}" (exit ${child.exitCode}): ${lines.join('|')} ${err.join('')}`);
        }
        await sleep(10);
      }
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
      children.delete(handle);
    },
  };
  children.add(handle);
  return handle;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function natsServerBinary() {
  const dirs = ['/usr/sbin', '/usr/bin', '/usr/local/bin', ...(process.env.PATH ?? '').split(':')];
  return dirs.map((d) => path.join(d, 'nats-server')).find((f) => fs.existsSync(f)) ?? null;
}

const roleArgv = (name, p) => [process.execPath, __filename, '--role', name, JSON.stringify(p)];

async function measure(kind, size, count, rate, url, seq) {
  const shmring = require(path.join(ROOT, 'dist', 'lib', 'index.js'));
  const subject = `bench.bridge.${seq}`;
  const stream = `BENCH_BRIDGE_${seq}`;
  const jetstream = kind.endsWith('JetStream');
  const p = { count, size, rate, url, subject, stream, jetstream };
  const procs = [];
  const rings = [];
  try {
    if (kind.startsWith('direct')) {
      if (jetstream) {
        const { connect } = require('@nats-io/transport-node');
        const js = require('@nats-io/jetstream');
        const nc = await connect({ servers: url });
        await (await js.jetstreamManager(nc)).streams.add({ name: stream, subjects: [subject] });
        await nc.close();
      }
      const sub = start(roleArgv('nats-subscriber', p), 'subscriber');
      procs.push(sub);
      await sub.line('ready');
      procs.push(start(roleArgv('nats-publisher', p), 'publisher'));
      return JSON.parse((await sub.line('result ')).slice('result '.length));
    }
    const ringA = `shmring-bench-bridge-a-${process.pid}-${seq}`;
    const ringB = `shmring-bench-bridge-b-${process.pid}-${seq}`;
    rings.push(ringA, ringB);
    shmring.createRing(ringA, { mode: jetstream ? 'reliable' : 'broadcast', capacity: 4 << 20 });
    shmring.createRing(ringB, { capacity: 4 << 20 });
    const consumer = start(roleArgv('ring-consumer', { ...p, ring: ringB }), 'ring consumer');
    procs.push(consumer);
    await consumer.line('ready');
    const out = start(
      [
        process.execPath,
        CLI,
        'bridge',
        'out',
        ringA,
        '--nats',
        url,
        '--subject',
        subject,
        ...(jetstream ? ['--jetstream', stream] : []),
      ],
      'bridge out',
    );
    procs.push(out);
    await out.line('running');
    const inn = start(
      [
        process.execPath,
        CLI,
        'bridge',
        'in',
        ringB,
        '--nats',
        url,
        '--subject',
        subject,
        ...(jetstream ? ['--durable', 'bench', '--stream', stream] : []),
      ],
      'bridge in',
    );
    procs.push(inn);
    await inn.line('running');
    procs.push(start(roleArgv('ring-producer', { ...p, ring: ringA }), 'ring producer'));
    return JSON.parse((await consumer.line('result ')).slice('result '.length));
  } finally {
    for (const proc of procs) await proc.kill();
    for (const ring of rings) {
      try {
        shmring.unlinkRing(ring);
      } catch {
        // already gone
      }
      for (const f of fs.readdirSync('/dev/shm').filter((n) => n.startsWith(`${ring}.bridge-`)))
        fs.rmSync(`/dev/shm/${f}`);
    }
  }
}

async function main() {
  const quick = args.includes('--quick');
  const jsonAt = args.indexOf('--json');
  const filterAt = args.indexOf('--filter');
  const filter = filterAt >= 0 ? new RegExp(args[filterAt + 1]) : null;
  const binary = natsServerBinary();
  if (binary === null) {
    console.error('bench:bridge needs nats-server (apt-get install -y nats-server)');
    process.exit(1);
  }
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-bench-nats-'));
  const port = await freePort();
  const server = start([binary, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], 'nats-server');
  const url = `nats://127.0.0.1:${port}`;
  const rows = [];
  try {
    await sleep(300);
    let seq = 0;
    // Throughput rows: payload-dependent counts so a row takes seconds, not minutes, on 2 busy cores.
    for (const size of [32, 1024]) {
      const count = quick ? 5_000 : size === 32 ? 100_000 : 50_000;
      for (const kind of ['bridged JetStream', 'direct JetStream', 'bridged core', 'direct core']) {
        if (filter !== null && !filter.test(`${kind} ${size}B`)) continue;
        // Unpaced: core NATS (at most once) may drop what a subscriber cannot keep up with; `delivered` says how much.
        const throughput = await measure(kind, size, count, 0, url, seq++);
        const latency = await measure(kind, size, quick ? 1_000 : 5_000, 1000, url, seq++);
        const row = {
          kind,
          payload: size,
          messages: count,
          msgsPerSec: Math.round(throughput.received / (throughput.elapsedUs / 1e6)),
          delivered: `${((100 * throughput.received) / count).toFixed(1)}%`,
          p50us: Math.round(latency.p50),
          p99us: Math.round(latency.p99),
        };
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    }
  } finally {
    for (const c of [...children]) await c.kill();
    await server.kill();
    fs.rmSync(store, { recursive: true, force: true });
  }
  console.log('\n| path | payload | msgs/s | delivered | vs direct | p50 µs @1k/s | p99 µs @1k/s |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const direct = rows.find((d) => d.payload === r.payload && d.kind === r.kind.replace('bridged', 'direct'));
    const ratio = direct === undefined ? '' : `${(r.msgsPerSec / direct.msgsPerSec).toFixed(2)}x`;
    console.log(
      `| ${r.kind} | ${r.payload} B | ${r.msgsPerSec} | ${r.delivered} | ${ratio} | ${r.p50us} | ${r.p99us} |`,
    );
  }
  if (jsonAt >= 0)
    fs.writeFileSync(args[jsonAt + 1], JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
}

if (role !== null) {
  runRole(role, JSON.parse(args[2])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    for (const c of children) c.child.kill('SIGKILL');
    process.exit(1);
  });
}
