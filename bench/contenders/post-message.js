'use strict';
// worker_threads postMessage: one process, the main thread produces, each consumer is a worker thread.
// batch = 1: one postMessage per message (a structured clone of a payload-sized Uint8Array), the way most code uses
// it. batch > 1: what a competent user does for throughput: up to `batch` length-prefixed messages (at most 64 KiB,
// at least one) per ArrayBuffer, transferred (zero copy) to the last worker, cloned to the others.
// Flow control (so the queue cannot grow without bound): each worker publishes how many messages it consumed in a
// SharedArrayBuffer; the producer keeps at most WINDOW messages in flight and sleeps with Atomics.wait when ahead.
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const { hr, makePayload, SeqCounter, gcCounter, readInt32 } = require('../common');
const { jsProcess, RttSchedule } = require('./js-process');

const WINDOW_BYTES = 4 << 20;
const BATCH_BYTES = 64 << 10;
const CONSUMED_STRIDE = 16; // one int32 per worker, 64 bytes apart
const FAR_FUTURE = 1n << 62n;

/** Messages per ArrayBuffer: `batch`, at most 64 KiB of frames, at least one. */
function batchOf(p) {
  return p.batch > 1 ? Math.max(1, Math.min(p.batch, Math.floor(BATCH_BYTES / (p.payloadBytes + 4)))) : 1;
}

/** Messages in flight: about 4 MiB, and at least two batches. */
function windowOf(p) {
  return Math.max(128, 2 * batchOf(p), Math.floor(WINDOW_BYTES / (p.payloadBytes + 4)));
}

function startWorker(kind, p, extra) {
  const worker = new Worker(__filename, { workerData: { kind, p, ...extra } });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m) => (m === 'ready' ? resolve(worker) : reject(new Error(`worker said ${m}`))));
  });
}

// ---- throughput (main thread = producer) ----

async function main(p, io) {
  if (p.scenario === 'rtt') return mainRtt(p, io);
  if (p.scenario === 'many-to-one') return mainManyToOne(p, io);
  const consumed = new Int32Array(new SharedArrayBuffer(4 * CONSUMED_STRIDE * p.consumers));
  const workers = [];
  for (let i = 0; i < p.consumers; i++) workers.push(await startWorker('consumer', p, { consumed, index: i }));
  const results = workers.map((w) => new Promise((resolve) => w.once('message', resolve)));
  io.ready();
  await io.go();
  for (const w of workers) w.postMessage('go');
  const send = sender(workers, p, batchOf(p));
  const gc = gcCounter();
  const flow = { consumed, stride: CONSUMED_STRIDE, n: p.consumers, window: windowOf(p), minSeen: 0 };
  const limit = p.count ? p.warm + p.count : 0x7fffffff;
  let seq = sendLoop(send, flow, 0, p.warm, FAR_FUTURE);
  gc.start();
  const start = hr();
  seq = sendLoop(send, flow, seq, limit, p.count ? FAR_FUTURE : start + BigInt(p.durationMs) * 1000000n);
  const end = hr();
  gc.stop();
  send.flush(seq);
  for (const w of workers) w.postMessage({ end: seq });
  io.report({
    kind: 'producer',
    sent: seq,
    measured: seq - p.warm,
    tStartNs: String(start),
    tEndNs: String(end),
    gcs: await gc.count(),
  });
  for (const r of await Promise.all(results)) io.report({ kind: 'consumer', ...r });
  await Promise.all(workers.map((w) => w.terminate()));
}

/** Waits while `seq` is a full window ahead of the slowest worker. */
function awaitCredit(flow, seq) {
  for (;;) {
    let min = 0x7fffffff;
    let slowest = 0;
    for (let i = 0; i < flow.n; i++) {
      const c = Atomics.load(flow.consumed, i * flow.stride);
      if (c < min) {
        min = c;
        slowest = i;
      }
    }
    flow.minSeen = min;
    if (seq - min < flow.window) return;
    Atomics.wait(flow.consumed, slowest * flow.stride, min, 1);
  }
}

function sendLoop(send, flow, seq, limit, deadline) {
  while (seq < limit) {
    if ((seq & 1023) === 0 && hr() >= deadline) break;
    if (seq - flow.minSeen >= flow.window) awaitCredit(flow, seq);
    send.message(seq);
    seq++;
  }
  return seq;
}

/** Per message: one postMessage each. Batched: frames [u32 length][payload] packed into an ArrayBuffer. */
function sender(workers, p, batch) {
  const payload = makePayload(p.payloadBytes);
  const n = workers.length;
  if (batch === 1) {
    return {
      message(seq) {
        payload.i32[0] = seq;
        payload.i32[payload.last] = seq;
        for (let i = 0; i < n; i++) workers[i].postMessage(payload.bytes);
      },
      flush() {},
    };
  }
  const frame = 4 + p.payloadBytes;
  let buf = null;
  let u8 = null;
  let count = 0;
  const flush = () => {
    if (count === 0) return;
    const out = count === batch ? buf : buf.slice(0, count * frame);
    for (let i = 0; i < n - 1; i++) workers[i].postMessage(out);
    workers[n - 1].postMessage(out, [out]);
    buf = null;
    count = 0;
  };
  return {
    message(seq) {
      if (buf === null) {
        buf = new ArrayBuffer(batch * frame);
        u8 = new Uint8Array(buf);
      }
      const at = count * frame;
      payload.i32[0] = seq;
      payload.i32[payload.last] = seq;
      u8[at] = p.payloadBytes & 0xff;
      u8[at + 1] = (p.payloadBytes >> 8) & 0xff;
      u8[at + 2] = (p.payloadBytes >> 16) & 0xff;
      u8[at + 3] = 0;
      u8.set(payload.bytes, at + 4);
      if (++count === batch) flush();
    },
    flush,
  };
}

function consumerThread({ p, consumed, index }) {
  const verifier = new SeqCounter(false, p.warm);
  const slot = index * CONSUMED_STRIDE;
  const notifyEvery = Math.max(1, Math.floor(windowOf(p) / 8));
  let sinceNotify = 0;
  const gc = gcCounter();
  const progress = (n) => {
    sinceNotify += n;
    if (sinceNotify >= notifyEvery) {
      Atomics.store(consumed, slot, verifier.received);
      Atomics.notify(consumed, slot);
      sinceNotify = 0;
    }
  };
  const checkOne = (u8, offset, length) => {
    if (length !== p.payloadBytes) return verifier.check(-1);
    const head = readInt32(u8, offset);
    verifier.check(head === readInt32(u8, offset + length - 4) ? head : -1);
  };
  parentPort.on('message', (m) => {
    if (m instanceof Uint8Array) {
      checkOne(m, 0, m.length);
      progress(1);
    } else if (m instanceof ArrayBuffer) {
      const u8 = new Uint8Array(m);
      let at = 0;
      let n = 0;
      while (at + 4 <= u8.length) {
        const length = readInt32(u8, at);
        checkOne(u8, at + 4, length);
        at += 4 + length;
        n++;
      }
      progress(n);
    } else if (m === 'go') {
      gc.start();
    } else if (m && typeof m.end === 'number') {
      const end = hr();
      gc.stop();
      verifier.finish(m.end);
      Atomics.store(consumed, slot, verifier.received);
      Atomics.notify(consumed, slot);
      // A rejection is unhandled and ends the worker, which the parent reports as a failed run.
      void gc.count().then((gcs) => parentPort.postMessage(verifier.result({ tEndNs: String(end), gcs })));
    }
  });
  parentPort.postMessage('ready');
}

// ---- round trip: the main thread pings, a worker echoes ----

async function mainRtt(p, io) {
  const worker = await startWorker('pong', p, {});
  const payload = makePayload(p.payloadBytes);
  io.ready();
  await io.go();
  const schedule = new RttSchedule(p);
  let seq = 0;
  let errors = 0;
  const send = () => {
    payload.i32[0] = seq;
    payload.i32[payload.last] = seq;
    worker.postMessage(payload.bytes);
  };
  await new Promise((resolve) => {
    const onMessage = (m) => {
      if (readInt32(m, 0) !== seq || readInt32(m, m.length - 4) !== seq || m.length !== p.payloadBytes) errors++;
      seq++;
      if (schedule.next()) return send();
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    schedule.start();
    send();
  });
  worker.postMessage({ end: seq });
  const pong = await new Promise((resolve) => worker.once('message', resolve));
  schedule.write(p.samplesFile);
  io.report({ kind: 'pinger', sent: seq, ...schedule.report(), errors });
  io.report({ kind: 'ponger', ...pong });
  await worker.terminate();
}

function pongThread({ p }) {
  const verifier = new SeqCounter(false, 0);
  parentPort.on('message', (m) => {
    if (m instanceof Uint8Array) {
      const head = readInt32(m, 0);
      verifier.check(head === readInt32(m, m.length - 4) && m.length === p.payloadBytes ? head : -1);
      parentPort.postMessage(m);
    } else if (m && typeof m.end === 'number') {
      verifier.finish(m.end);
      parentPort.postMessage(verifier.result({}));
    }
  });
  parentPort.postMessage('ready');
}

// ---- many-to-one: N worker threads post to the main thread ----

/** The main thread consumes; each worker produces with one postMessage per message, flow-controlled per worker. */
async function mainManyToOne(p, io) {
  const consumed = new Int32Array(new SharedArrayBuffer(4 * CONSUMED_STRIDE * p.producers));
  const workers = [];
  for (let i = 0; i < p.producers; i++) workers.push(await startWorker('producer', p, { consumed, index: i }));
  const verifiers = workers.map(() => new SeqCounter(false, p.warm));
  const notifyEvery = Math.max(1, Math.floor(windowOf(p) / 8));
  const gc = gcCounter();
  let ended = 0;
  const reports = [];
  const finished = new Promise((resolve) => {
    workers.forEach((worker, i) => {
      const verifier = verifiers[i];
      const slot = i * CONSUMED_STRIDE;
      let sinceNotify = 0;
      worker.on('message', (m) => {
        if (m instanceof Uint8Array) {
          const head = m.length === p.payloadBytes ? readInt32(m, 0) : -1;
          verifier.check(head === readInt32(m, m.length - 4) ? head : -1);
          if (++sinceNotify >= notifyEvery) {
            Atomics.store(consumed, slot, verifier.received);
            Atomics.notify(consumed, slot);
            sinceNotify = 0;
          }
        } else if (m && typeof m.end === 'number') {
          verifier.finish(m.end);
          Atomics.store(consumed, slot, verifier.received);
          Atomics.notify(consumed, slot);
          if (++ended === workers.length) {
            const end = hr();
            gc.stop();
            resolve(end);
          }
        } else if (m && m.report) {
          reports.push(m.report);
        }
      });
    });
  });
  io.ready();
  await io.go();
  gc.start();
  for (const w of workers) w.postMessage('go');
  const end = await finished;
  const gcs = await gc.count();
  while (reports.length < workers.length) await new Promise((resolve) => setTimeout(resolve, 5));
  for (const r of reports) io.report({ kind: 'producer', ...r });
  io.report({
    kind: 'consumer',
    received: verifiers.reduce((n, v) => n + v.received, 0),
    receivedMeasured: verifiers.reduce((n, v) => n + v.measured, 0),
    receivedPerProducer: verifiers.map((v) => v.received),
    errors: verifiers.reduce((n, v) => n + v.errors, 0),
    lost: 0,
    tEndNs: String(end),
    gcs,
  });
  await Promise.all(workers.map((w) => w.terminate()));
}

function producerThread({ p, consumed, index }) {
  const payload = makePayload(p.payloadBytes);
  const slot = index * CONSUMED_STRIDE;
  const window = windowOf(p);
  const send = (seq, limit, deadline) => {
    while (seq < limit) {
      if ((seq & 1023) === 0 && hr() >= deadline) break;
      for (;;) {
        const done = Atomics.load(consumed, slot);
        if (seq - done < window) break;
        Atomics.wait(consumed, slot, done, 1);
      }
      payload.i32[0] = seq;
      payload.i32[payload.last] = seq;
      parentPort.postMessage(payload.bytes);
      seq++;
    }
    return seq;
  };
  const produce = async () => {
    const gc = gcCounter();
    let seq = send(0, p.warm, FAR_FUTURE);
    gc.start();
    const start = hr();
    seq = send(seq, 0x7fffffff, start + BigInt(p.durationMs) * 1000000n);
    const end = hr();
    gc.stop();
    parentPort.postMessage({ end: seq });
    const report = { index, sent: seq, measured: seq - p.warm, tStartNs: String(start), tEndNs: String(end) };
    parentPort.postMessage({ report: { ...report, gcs: await gc.count() } });
  };
  parentPort.once('message', () => void produce());
  parentPort.postMessage('ready');
}

if (!isMainThread && workerData && workerData.kind === 'producer') producerThread(workerData);
if (!isMainThread && workerData && workerData.kind === 'consumer') consumerThread(workerData);
if (!isMainThread && workerData && workerData.kind === 'pong') pongThread(workerData);

module.exports = {
  scenarios: new Set(['throughput', 'rtt', 'many-to-one']),
  unavailable: () => null,
  version: () => `node ${process.version}`,
  strategyOf: () => 'event-loop',
  plan(id, scenario, p) {
    return { procs: [jsProcess(id, 'main', { ...p, scenario })] };
  },
  roles: { main },
};
