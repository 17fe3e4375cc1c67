'use strict';
// shmring between processes, through its public API (dist/lib/index.js, compiled from lib/).
// Variants (bench/contenders/index.js): send = offer | batch | claim, mode = reliable | broadcast | many-to-one, wait = the
// consumer's idle strategy when no `strategy` is given by the case, inProcess = offer and poll on one thread.
// Consumer strategies: `spin` polls back to back; `default` is the library's BackoffIdleStrategy with its default
// arguments, used as a user would; `backoff` and `futex` are the bench's own (spin, then sleep on the ring's futex).
const fs = require('fs');
const path = require('path');
const {
  DATA_TYPE,
  END_TYPE,
  hr,
  makePayload,
  SeqReader,
  SeqCounter,
  gcCounter,
  shortSleep,
  idleStrategy,
  readInt32,
} = require('../common');
const { jsProcess, writeSamples, RttSchedule } = require('./js-process');

const DIST = path.resolve(__dirname, '../../dist/lib/index.js');
const CAPACITY = 1 << 20;
/** Messages per poll() call, as in the documented consumer loop `idle.idle(sub.poll(handler, 256))`. */
const POLL_LIMIT = 256;
const FAR_FUTURE = 1n << 62n;

let cachedLib = null;
function lib() {
  if (cachedLib === null) cachedLib = require(DIST);
  return cachedLib;
}

/** Why shmring rows cannot run (null when they can); checked by the parent before spawning. */
function unavailable() {
  if (!fs.existsSync(DIST)) return 'dist/lib/index.js is missing (lib/ not built: npx tsc -p tsconfig.build.json)';
  try {
    const { Publication, Subscription } = lib();
    if (!Publication || typeof Publication.create !== 'function') return 'lib/index.ts does not export Publication';
    if (!Subscription || typeof Subscription.open !== 'function') return 'lib/index.ts does not export Subscription';
  } catch (err) {
    return `dist/lib/index.js does not load: ${err.message.split('\n')[0]}`;
  }
  return null;
}

function version() {
  return require('../../package.json').version;
}

function strategyOf(scenario, p) {
  if (scenario === 'micro' || p.inProcess) return 'in-process';
  if (p.wait === 'async') return 'async';
  return p.strategy || 'spin';
}

/** Idle strategy of a consumer: spin, backoff (spin, then futex-sleep until the producer publishes), futex. */
function consumerIdle(kind, sub) {
  if (kind === 'spin') return () => {};
  if (kind === 'futex')
    return (work) => {
      if (work === 0) sub.waitSync(1000);
    };
  return idleStrategy('backoff', () => sub.waitSync(1), 100);
}

/** Idle strategy of a back-pressured producer: spin, or spin then sleep ~50 us (`backoff`: cores oversubscribed). */
function producerIdle(kind) {
  return kind === 'backoff' ? idleStrategy('backoff', shortSleep, 100) : () => {};
}

function ensureWaiting(sub, kind) {
  if (kind === 'default' && typeof lib().BackoffIdleStrategy !== 'function') return 'BackoffIdleStrategy';
  if ((kind === 'futex' || kind === 'backoff') && typeof sub.waitSync !== 'function') return 'Subscription#waitSync';
  if (kind === 'async' && typeof sub.wait !== 'function') return 'Subscription#wait';
  return null;
}

// ---- per-message send loops: small, monomorphic, no allocation ----

function sendOffer(pub, payload, seq, limit, deadline, idle) {
  const bytes = payload.bytes;
  const i32 = payload.i32;
  const last = payload.last;
  while (seq < limit) {
    if ((seq & 1023) === 0 && deadline !== FAR_FUTURE && hr() >= deadline) break; // hr() allocates a BigInt
    i32[0] = seq;
    i32[last] = seq;
    while (pub.offer(bytes, DATA_TYPE) < 0) idle(0);
    seq++;
  }
  return seq;
}

function sendBatch(pub, payload, seq, limit, deadline, idle, batch) {
  const bytes = payload.bytes;
  const i32 = payload.i32;
  const last = payload.last;
  while (seq < limit) {
    if (deadline !== FAR_FUTURE && hr() >= deadline) break; // hr() allocates a BigInt
    pub.beginBatch();
    const end = Math.min(seq + batch, limit);
    const first = seq;
    while (seq < end) {
      i32[0] = seq;
      i32[last] = seq;
      if (pub.offer(bytes, DATA_TYPE) < 0) break;
      seq++;
    }
    pub.commitBatch();
    if (seq === first) idle(0);
  }
  return seq;
}

/** tryClaim + commit: the payload is encoded in place (copied in, sequence numbers written), as a user would. */
function sendClaim(pub, payload, seq, limit, deadline, idle) {
  const bytes = payload.bytes;
  const length = bytes.length;
  let buffer = null;
  let words = null;
  while (seq < limit) {
    if ((seq & 1023) === 0 && deadline !== FAR_FUTURE && hr() >= deadline) break; // hr() allocates a BigInt
    let claim = pub.tryClaim(length, DATA_TYPE);
    while (claim === null) {
      idle(0);
      claim = pub.tryClaim(length, DATA_TYPE);
    }
    if (claim.buffer !== buffer) {
      buffer = claim.buffer;
      // The whole mapping (byteOffset 0, as documented): claim.offset indexes views over it directly.
      if (buffer.byteOffset !== 0) throw new Error('claim.buffer does not start at the mapping');
      words = new Int32Array(buffer.buffer, 0, buffer.buffer.byteLength >> 2);
    }
    const at = claim.offset;
    buffer.set(bytes, claim.offset);
    words[at >> 2] = seq;
    words[(at + length - 4) >> 2] = seq;
    claim.commit();
    seq++;
  }
  return seq;
}

function offerEnd(pub, total) {
  const end = new Uint8Array(8);
  new Int32Array(end.buffer)[0] = total;
  const t0 = Date.now();
  while (pub.offer(end, END_TYPE) < 0) {
    if (Date.now() - t0 > 30_000) throw new Error('end marker back-pressured for 30 s');
    shortSleep();
  }
}

function createPublication(name, p) {
  return lib().Publication.create(name, { capacity: CAPACITY, mode: p.mode || 'reliable' });
}

// ---- throughput ----

async function producer(p, io) {
  const pub = createPublication(p.name, p);
  io.ready();
  await io.go();
  const payload = makePayload(p.payloadBytes);
  const idle = producerIdle(p.producerIdle || (p.strategy === 'backoff' ? 'backoff' : 'spin'));
  const send = p.send || 'offer';
  const limit = p.count ? p.warm + p.count : 0x7fffffff;
  const run = (seq, lim, deadline) =>
    send === 'batch'
      ? sendBatch(pub, payload, seq, lim, deadline, idle, p.batch)
      : send === 'claim'
        ? sendClaim(pub, payload, seq, lim, deadline, idle)
        : sendOffer(pub, payload, seq, lim, deadline, idle);
  const gc = gcCounter();
  let seq = run(0, p.warm, FAR_FUTURE);
  gc.start();
  const start = hr();
  seq = run(seq, limit, p.count ? FAR_FUTURE : start + BigInt(p.durationMs) * 1000000n);
  const end = hr();
  gc.stop();
  offerEnd(pub, seq);
  io.report({
    kind: 'producer',
    sent: seq,
    measured: seq - p.warm,
    tStartNs: String(start),
    tEndNs: String(end),
    gcs: await gc.count(),
  });
}

async function consumer(p, io) {
  const sub = lib().Subscription.open(p.name, { from: 'earliest' });
  const kind = p.wait === 'async' ? 'async' : p.strategy || 'spin';
  const missing = ensureWaiting(sub, kind);
  if (missing) return io.skip(`${missing} is not implemented`);
  io.ready();
  await io.go();
  const verifier = new SeqCounter(sub.mode === 'broadcast', p.warm);
  const reader = new SeqReader(p.payloadBytes);
  let total = -1;
  const gc = gcCounter();
  // GCs are counted from the first message after the producer's warm-up (the JIT has settled by then).
  const handler = (buffer, offset, length, typeId) => {
    if (typeId === DATA_TYPE) {
      verifier.check(reader.read(buffer, offset, length));
      if (verifier.measured === 1) gc.start();
    } else if (typeId === END_TYPE) {
      total = readInt32(buffer, offset);
    }
  };
  if (kind === 'async') {
    while (total < 0) if (sub.poll(handler, POLL_LIMIT) === 0) await sub.wait();
  } else if (kind === 'spin') {
    while (total < 0) sub.poll(handler, POLL_LIMIT);
  } else if (kind === 'default') {
    // Exactly what a user writes: the library's exported strategy with its default arguments (its internals are
    // the library's to tune; the bench must measure them, not a copy).
    const idle = new (lib().BackoffIdleStrategy)();
    while (total < 0) idle.idle(sub.poll(handler, POLL_LIMIT));
  } else {
    const idle = consumerIdle(kind, sub);
    while (total < 0) idle(sub.poll(handler, POLL_LIMIT));
  }
  const end = hr();
  gc.stop();
  verifier.finish(total);
  io.report(verifier.result({ kind: 'consumer', tEndNs: String(end), gcs: await gc.count() }));
}

// ---- throughput in one thread: the same producer loop and consumer handler, taking turns ----

/**
 * Offers up to POLL_LIMIT messages, then polls up to POLL_LIMIT, until the time is up: no second core and no cache
 * line moving between cores, so the gap to the cross-process rows is what crossing processes costs. A full ring
 * is drained by the poll the idle strategy runs. Reports a producer and a consumer line like the two-process run.
 */
async function inProcess(p, io) {
  const pub = createPublication(p.name, p);
  const sub = lib().Subscription.open(p.name, { from: 'earliest' });
  io.ready();
  await io.go();
  const payload = makePayload(p.payloadBytes);
  const verifier = new SeqCounter(false, p.warm);
  const reader = new SeqReader(p.payloadBytes);
  let total = -1;
  const handler = (buffer, offset, length, typeId) => {
    if (typeId === DATA_TYPE) verifier.check(reader.read(buffer, offset, length));
    else if (typeId === END_TYPE) total = readInt32(buffer, offset);
  };
  const drain = () => sub.poll(handler, POLL_LIMIT);
  const turns = (seq, limit, deadline) => {
    while (seq < limit) {
      const next = sendOffer(pub, payload, seq, Math.min(seq + POLL_LIMIT, limit), deadline, drain);
      sub.poll(handler, POLL_LIMIT);
      if (next < seq + POLL_LIMIT && next < limit) return next; // the deadline passed
      seq = next;
    }
    return seq;
  };
  const limit = p.count ? p.warm + p.count : 0x7fffffff;
  const gc = gcCounter();
  let seq = turns(0, p.warm, FAR_FUTURE);
  gc.start();
  const start = hr();
  seq = turns(seq, limit, p.count ? FAR_FUTURE : start + BigInt(p.durationMs) * 1000000n);
  const sendEnd = hr();
  offerEnd(pub, seq);
  while (total < 0) sub.poll(handler, POLL_LIMIT);
  const end = hr();
  gc.stop();
  verifier.finish(total);
  const gcs = await gc.count();
  io.report({
    kind: 'producer',
    sent: seq,
    measured: seq - p.warm,
    tStartNs: String(start),
    tEndNs: String(sendEnd),
    gcs,
  });
  io.report(verifier.result({ kind: 'consumer', tEndNs: String(end), gcs: 0 }));
  sub.close();
  pub.close();
}

// ---- round trip: ping (creates <name>-ping, reads <name>-pong) and pong ----

async function ping(p, io) {
  const pub = createPublication(`${p.name}-ping`, p);
  io.ready();
  await io.go();
  const sub = lib().Subscription.open(`${p.name}-pong`, { from: 'earliest' });
  const kind = p.strategy === 'futex' || p.wait === 'async' ? 'futex' : 'spin';
  const payload = makePayload(p.payloadBytes);
  const reader = new SeqReader(p.payloadBytes);
  let got = -2;
  const handler = (buffer, offset, length) => {
    got = reader.read(buffer, offset, length);
  };
  let errors = 0;
  let seq = 0;
  const roundTrip =
    kind === 'spin'
      ? () => {
          payload.i32[0] = seq;
          payload.i32[payload.last] = seq;
          while (pub.offer(payload.bytes, DATA_TYPE) < 0);
          while (sub.poll(handler, 1) === 0);
          if (got !== seq) errors++;
          seq++;
        }
      : () => {
          payload.i32[0] = seq;
          payload.i32[payload.last] = seq;
          while (pub.offer(payload.bytes, DATA_TYPE) < 0);
          while (sub.poll(handler, 1) === 0) sub.waitSync(1000);
          if (got !== seq) errors++;
          seq++;
        };
  const schedule = new RttSchedule(p);
  schedule.start();
  do roundTrip();
  while (schedule.next());
  offerEnd(pub, seq);
  schedule.write(p.samplesFile);
  io.report({ kind: 'pinger', sent: seq, ...schedule.report(), errors });
}

async function pong(p, io) {
  const pub = createPublication(`${p.name}-pong`, p);
  const sub = lib().Subscription.open(`${p.name}-ping`, { from: 'earliest' });
  const kind = p.wait === 'async' ? 'async' : p.strategy || 'spin';
  const missing = ensureWaiting(sub, kind);
  if (missing) return io.skip(`${missing} is not implemented`);
  io.ready();
  await io.go();
  const reply = makePayload(p.payloadBytes);
  const verifier = new SeqCounter(false, 0);
  const reader = new SeqReader(p.payloadBytes);
  let total = -1;
  const handler = (buffer, offset, length, typeId) => {
    if (typeId === END_TYPE) {
      total = readInt32(buffer, offset);
      return;
    }
    const seq = reader.read(buffer, offset, length);
    verifier.check(seq);
    reply.i32[0] = seq;
    reply.i32[reply.last] = seq;
    while (pub.offer(reply.bytes, DATA_TYPE) < 0);
  };
  if (kind === 'async') {
    while (total < 0) if (sub.poll(handler, 1) === 0) await sub.wait();
  } else if (kind === 'futex') {
    while (total < 0) if (sub.poll(handler, 1) === 0) sub.waitSync(1000);
  } else {
    while (total < 0) sub.poll(handler, 1);
  }
  verifier.finish(total);
  io.report(verifier.result({ kind: 'ponger' }));
}

// ---- wake-up of a sleeping consumer (one way): sender writes the intended send time into the message ----

async function sender(p, io) {
  const pub = createPublication(p.name, p);
  io.ready();
  await io.go();
  const payload = makePayload(Math.max(p.payloadBytes, 24));
  const when = new BigInt64Array(payload.bytes.buffer, 8, 1);
  const interval = BigInt(p.intervalNs);
  const t = new BigInt64Array(3); // intended send time, end, now
  t[1] = hr() + BigInt(p.durationMs) * 1000000n;
  t[0] = hr();
  let seq = 0;
  while (seq < p.maxSamples) {
    t[0] = t[0] + interval;
    while ((t[2] = hr()) < t[0]);
    if (t[2] >= t[1]) break;
    payload.i32[0] = seq;
    payload.i32[payload.last] = seq;
    when[0] = t[0];
    while (pub.offer(payload.bytes, DATA_TYPE) < 0);
    seq++;
  }
  offerEnd(pub, seq);
  io.report({ kind: 'sender', sent: seq, intervalNs: p.intervalNs });
}

async function waiter(p, io) {
  const sub = lib().Subscription.open(p.name, { from: 'earliest' });
  const kind = p.wait === 'async' ? 'async' : 'futex';
  const missing = ensureWaiting(sub, kind);
  if (missing) return io.skip(`${missing} is not implemented`);
  io.ready();
  await io.go();
  const length = Math.max(p.payloadBytes, 24);
  const verifier = new SeqCounter(false, 0);
  const reader = new SeqReader(length);
  const samples = new BigInt64Array(p.maxSamples);
  let words = null;
  let mapping = null;
  let count = 0;
  let total = -1;
  const handler = (buffer, offset, len, typeId) => {
    const now = hr();
    if (typeId === END_TYPE) {
      total = readInt32(buffer, offset);
      return;
    }
    if (buffer !== mapping) {
      mapping = buffer;
      words = new BigInt64Array(buffer.buffer, 0, buffer.buffer.byteLength >> 3);
    }
    verifier.check(reader.read(buffer, offset, len));
    const at = buffer.byteOffset + offset + 8;
    if (count < samples.length && (at & 7) === 0) samples[count++] = now - words[at >> 3];
  };
  if (kind === 'async') {
    while (total < 0) if (sub.poll(handler, 1) === 0) await sub.wait();
  } else {
    while (total < 0) if (sub.poll(handler, 1) === 0) sub.waitSync(1000);
  }
  verifier.finish(total);
  writeSamples(p.samplesFile, samples, count);
  io.report(verifier.result({ kind: 'waiter', samples: count }));
}

// ---- many-to-one: N producer processes -> one consumer, through a many-to-one ring ----

/** Type id of producer `index`'s data (the consumer tells producers apart by it); END_TYPE carries [total, index]. */
const M2O_DATA_TYPE_BASE = 16;

/** Creates the ring and consumes it: every producer's sequence checked apart, until each sent its end marker. */
async function m2oConsumer(p, io) {
  const sub = lib().Subscription.create(p.name, { mode: 'many-to-one', capacity: CAPACITY });
  try {
    io.ready();
    await io.go();
    const verifiers = Array.from({ length: p.producers }, () => new SeqCounter(false, p.warm));
    const reader = new SeqReader(p.payloadBytes);
    const totals = new Int32Array(p.producers).fill(-1);
    let ended = 0;
    let errors = 0;
    const gc = gcCounter();
    let measuring = false;
    const handler = (buffer, offset, length, typeId) => {
      const index = typeId - M2O_DATA_TYPE_BASE;
      if (index >= 0 && index < verifiers.length) {
        const v = verifiers[index];
        v.check(reader.read(buffer, offset, length));
        if (!measuring && v.measured === 1) {
          measuring = true;
          gc.start();
        }
      } else if (typeId === END_TYPE) {
        const producer = readInt32(buffer, offset + 4);
        if (producer < 0 || producer >= totals.length || totals[producer] >= 0) errors++;
        else {
          totals[producer] = readInt32(buffer, offset);
          ended++;
        }
      } else {
        errors++;
      }
    };
    if ((p.strategy || 'default') === 'spin') {
      while (ended < p.producers) sub.poll(handler, POLL_LIMIT);
    } else {
      const idle = new (lib().BackoffIdleStrategy)();
      while (ended < p.producers) idle.idle(sub.poll(handler, POLL_LIMIT));
    }
    const end = hr();
    gc.stop();
    let received = 0;
    let receivedMeasured = 0;
    verifiers.forEach((v, i) => {
      v.finish(totals[i]);
      errors += v.errors;
      received += v.received;
      receivedMeasured += v.measured;
    });
    io.report({
      kind: 'consumer',
      received,
      receivedMeasured,
      receivedPerProducer: verifiers.map((v) => v.received),
      errors,
      lost: 0,
      tEndNs: String(end),
      gcs: await gc.count(),
    });
  } finally {
    sub.close();
  }
}

/** One of N producers: offer per message, the library's BackoffIdleStrategy when the ring is full. */
async function m2oProducer(p, io) {
  const pub = lib().Publication.open(p.name);
  io.ready();
  await io.go();
  const payload = makePayload(p.payloadBytes);
  const typeId = M2O_DATA_TYPE_BASE + p.producerIndex;
  const idle = new (lib().BackoffIdleStrategy)();
  const bytes = payload.bytes;
  const i32 = payload.i32;
  const last = payload.last;
  const run = (seq, limit, deadline) => {
    while (seq < limit) {
      if ((seq & 1023) === 0 && deadline !== FAR_FUTURE && hr() >= deadline) break; // hr() allocates a BigInt
      i32[0] = seq;
      i32[last] = seq;
      if (pub.offer(bytes, typeId) < 0) {
        do idle.idle(0);
        while (pub.offer(bytes, typeId) < 0);
        idle.reset();
      }
      seq++;
    }
    return seq;
  };
  const limit = p.count ? p.warm + p.count : 0x7fffffff;
  const gc = gcCounter();
  let seq = run(0, p.warm, FAR_FUTURE);
  gc.start();
  const start = hr();
  seq = run(seq, limit, p.count ? FAR_FUTURE : start + BigInt(p.durationMs) * 1000000n);
  const end = hr();
  gc.stop();
  const marker = new Uint8Array(8);
  new Int32Array(marker.buffer).set([seq, p.producerIndex]);
  const t0 = Date.now();
  while (pub.offer(marker, END_TYPE) < 0) {
    if (Date.now() - t0 > 30_000) throw new Error('end marker back-pressured for 30 s');
    shortSleep();
  }
  io.report({
    kind: 'producer',
    index: p.producerIndex,
    sent: seq,
    measured: seq - p.warm,
    tStartNs: String(start),
    tEndNs: String(end),
    gcs: await gc.count(),
    stats: pub.stats,
  });
  pub.close();
}

// ---- request/response: requests through a many-to-one ring, replies through a reliable ring ----

/** The server: consumes `<name>-req` (many-to-one) and answers on `<name>-rep` (reliable, it is the producer). */
async function m2oServer(p, io) {
  const requests = lib().Subscription.create(`${p.name}-req`, { mode: 'many-to-one', capacity: CAPACITY });
  const replies = createPublication(`${p.name}-rep`, { mode: 'reliable' });
  try {
    io.ready();
    await io.go();
    const verifier = new SeqCounter(false, 0);
    const reader = new SeqReader(p.payloadBytes);
    const reply = makePayload(p.payloadBytes);
    let total = -1;
    const handler = (buffer, offset, length, typeId) => {
      if (typeId === END_TYPE) {
        total = readInt32(buffer, offset);
        return;
      }
      const seq = reader.read(buffer, offset, length);
      verifier.check(seq);
      reply.i32[0] = seq;
      reply.i32[reply.last] = seq;
      while (replies.offer(reply.bytes, DATA_TYPE) < 0);
    };
    while (total < 0) requests.poll(handler, 1);
    verifier.finish(total);
    io.report(verifier.result({ kind: 'ponger' }));
  } finally {
    requests.close();
    replies.close();
  }
}

/** A client: offers each request into the server's many-to-one ring, busy-polls its reply ring. */
async function m2oClient(p, io) {
  const requests = lib().Publication.open(`${p.name}-req`);
  const replies = lib().Subscription.open(`${p.name}-rep`, { from: 'earliest' });
  io.ready();
  await io.go();
  const payload = makePayload(p.payloadBytes);
  const reader = new SeqReader(p.payloadBytes);
  let got = -2;
  const handler = (buffer, offset, length) => {
    got = reader.read(buffer, offset, length);
  };
  let errors = 0;
  let seq = 0;
  const schedule = new RttSchedule(p);
  schedule.start();
  do {
    payload.i32[0] = seq;
    payload.i32[payload.last] = seq;
    while (requests.offer(payload.bytes, DATA_TYPE) < 0);
    while (replies.poll(handler, 1) === 0);
    if (got !== seq) errors++;
    seq++;
  } while (schedule.next());
  offerEnd(requests, seq);
  schedule.write(p.samplesFile);
  io.report({ kind: 'pinger', sent: seq, ...schedule.report(), errors });
}

// ---- micro benchmarks (benchmark.js) in one process ----

async function micro(p, io) {
  io.ready();
  await io.go();
  const results = await require('../micro/shmring').run(lib(), p);
  for (const r of results) io.report({ kind: 'micro', ...r });
}

const SCENARIOS = new Set(['throughput', 'rtt', 'wake', 'micro', 'many-to-one']);

module.exports = {
  scenarios: SCENARIOS,
  unavailable,
  version,
  strategyOf,
  plan(id, scenario, p) {
    if (scenario === 'many-to-one' || (scenario === 'throughput' && p.mode === 'many-to-one')) {
      if (p.mode !== 'many-to-one') return null;
      const producers = p.producers ?? 1;
      const procs = [jsProcess(id, 'm2oConsumer', { ...p, producers })];
      for (let i = 0; i < producers; i++) {
        procs.push(jsProcess(id, 'm2oProducer', { ...p, producers, producerIndex: i }));
      }
      return { procs };
    }
    if (scenario === 'rtt' && p.mode === 'many-to-one') {
      return { procs: [jsProcess(id, 'm2oServer', p), jsProcess(id, 'm2oClient', p)] };
    }
    if (p.mode === 'many-to-one') return null;
    if (scenario === 'throughput' && p.inProcess)
      return p.consumers === 1 ? { procs: [jsProcess(id, 'inProcess', p)] } : null;
    if (scenario === 'throughput') {
      const procs = [jsProcess(id, 'producer', p)];
      for (let i = 0; i < p.consumers; i++) procs.push(jsProcess(id, 'consumer', { ...p, consumerIndex: i }));
      return { procs };
    }
    if (scenario === 'rtt') return { procs: [jsProcess(id, 'ping', p), jsProcess(id, 'pong', p)] };
    if (scenario === 'wake') return { procs: [jsProcess(id, 'sender', p), jsProcess(id, 'waiter', p)] };
    return { procs: [jsProcess(id, 'micro', p)] };
  },
  roles: {
    producer,
    consumer,
    inProcess,
    ping,
    pong,
    sender,
    waiter,
    micro,
    m2oConsumer,
    m2oProducer,
    m2oServer,
    m2oClient,
  },
};
