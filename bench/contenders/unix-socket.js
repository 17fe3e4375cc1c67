'use strict';
// A Unix domain stream socket between processes (Linux abstract namespace, no file), the usual IPC choice.
// Frames are [u32 length][payload]; length 0xffffffff is the end marker, followed by the u32 total sent.
// The producer packs frames into 64 KiB buffers (one socket.write each, at least one frame), waits for 'drain' when
// the socket buffers fill; the consumer parses frames across chunk boundaries. Round trips write one frame each way.
const net = require('net');
const { hr, makePayload, SeqCounter, gcCounter } = require('../common');
const { jsProcess, RttSchedule } = require('./js-process');

const BATCH_BYTES = 64 << 10;
const END_LENGTH = 0xffffffff;
const FAR_FUTURE = 1n << 62n;

const address = (name) => `\0${name}`;

/**
 * Splits a byte stream into frames: onFrame(buf, offset, length) per frame, onEnd(total) at the end marker. An
 * incomplete frame's chunks are held until enough bytes arrived, then concatenated once.
 */
class FrameReader {
  constructor(onFrame, onEnd) {
    this.onFrame = onFrame;
    this.onEnd = onEnd;
    this.parts = null;
    this.partsLength = 0;
    this.need = 0;
  }

  push(chunk) {
    if (this.parts !== null) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      if (this.partsLength < this.need) return;
      chunk = Buffer.concat(this.parts, this.partsLength);
      this.parts = null;
    }
    let at = 0;
    for (;;) {
      const left = chunk.length - at;
      if (left < 4) {
        if (left > 0) this.hold(chunk, at, 4);
        return;
      }
      const length = chunk.readUInt32LE(at);
      const need = length === END_LENGTH ? 8 : 4 + length;
      if (left < need) return this.hold(chunk, at, need);
      if (length === END_LENGTH) return this.onEnd(chunk.readUInt32LE(at + 4));
      this.onFrame(chunk, at + 4, length);
      at += need;
    }
  }

  hold(chunk, at, need) {
    this.parts = [chunk.subarray(at)];
    this.partsLength = chunk.length - at;
    this.need = need;
  }
}

function checker(p, verifier) {
  return (buf, offset, length) => {
    if (length !== p.payloadBytes) return verifier.check(-1);
    const head = buf.readInt32LE(offset);
    verifier.check(head === buf.readInt32LE(offset + length - 4) ? head : -1);
  };
}

function endFrame(total) {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32LE(END_LENGTH, 0);
  b.writeUInt32LE(total, 4);
  return b;
}

// ---- throughput ----

async function producer(p, io) {
  const server = net.createServer();
  const sockets = [];
  let connected;
  const allConnected = new Promise((resolve) => (connected = resolve));
  server.on('connection', (s) => {
    sockets.push(s);
    if (sockets.length === p.consumers) connected();
  });
  await new Promise((resolve, reject) => server.listen(address(p.name), resolve).once('error', reject));
  io.ready();
  await io.go();
  await allConnected;
  const frame = 4 + p.payloadBytes;
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / frame));
  const payload = makePayload(p.payloadBytes);
  let buf = Buffer.allocUnsafe(perBatch * frame);
  let at = 0;
  const flush = async () => {
    const out = at === buf.length ? buf : buf.subarray(0, at);
    let waits = null;
    for (const s of sockets) {
      if (!s.write(out)) (waits ??= []).push(new Promise((resolve) => s.once('drain', resolve)));
    }
    buf = Buffer.allocUnsafe(perBatch * frame);
    at = 0;
    if (waits) await Promise.all(waits);
  };
  const sendUntil = async (seq, limit, deadline) => {
    while (seq < limit) {
      if ((seq & 1023) === 0 && hr() >= deadline) break;
      payload.i32[0] = seq;
      payload.i32[payload.last] = seq;
      buf.writeUInt32LE(p.payloadBytes, at);
      buf.set(payload.bytes, at + 4);
      at += frame;
      seq++;
      if (at === buf.length) await flush();
    }
    return seq;
  };
  const limit = p.count ? p.warm + p.count : 0x7fffffff;
  const gc = gcCounter();
  let seq = await sendUntil(0, p.warm, FAR_FUTURE);
  gc.start();
  const start = hr();
  seq = await sendUntil(seq, limit, p.count ? FAR_FUTURE : start + BigInt(p.durationMs) * 1000000n);
  const end = hr();
  gc.stop();
  if (at > 0) await flush();
  const last = endFrame(seq);
  await Promise.all(sockets.map((s) => new Promise((resolve) => s.end(last, resolve))));
  server.close();
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
  const socket = net.connect(address(p.name));
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const verifier = new SeqCounter(false, p.warm);
  const gc = gcCounter();
  const finished = new Promise((resolve) => {
    const reader = new FrameReader(checker(p, verifier), (total) => {
      const end = hr();
      gc.stop();
      verifier.finish(total);
      resolve(end);
    });
    socket.on('data', (chunk) => reader.push(chunk));
  });
  io.ready();
  await io.go();
  gc.start();
  const end = await finished;
  socket.destroy();
  io.report(verifier.result({ kind: 'consumer', tEndNs: String(end), gcs: await gc.count() }));
}

// ---- round trip: pong listens and echoes, ping connects ----

async function pong(p, io) {
  const server = net.createServer();
  const verifier = new SeqCounter(false, 0);
  const check = checker(p, verifier);
  const finished = new Promise((resolve) => {
    server.on('connection', (s) => {
      const reader = new FrameReader(
        (buf, offset, length) => {
          check(buf, offset, length);
          const reply = Buffer.allocUnsafe(4 + length);
          reply.writeUInt32LE(length, 0);
          buf.copy(reply, 4, offset, offset + length);
          s.write(reply);
        },
        (total) => {
          verifier.finish(total);
          s.end();
          resolve();
        },
      );
      s.on('data', (chunk) => reader.push(chunk));
    });
  });
  await new Promise((resolve, reject) => server.listen(address(p.name), resolve).once('error', reject));
  io.ready();
  await io.go();
  await finished;
  server.close();
  io.report(verifier.result({ kind: 'ponger' }));
}

async function ping(p, io) {
  const socket = net.connect(address(p.name));
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  io.ready();
  await io.go();
  const frame = Buffer.allocUnsafe(4 + p.payloadBytes);
  frame.writeUInt32LE(p.payloadBytes, 0);
  const schedule = new RttSchedule(p);
  let seq = 0;
  let errors = 0;
  const send = () => {
    frame.writeInt32LE(seq, 4);
    frame.writeInt32LE(seq, frame.length - 4);
    socket.write(Buffer.from(frame));
  };
  await new Promise((resolve) => {
    const reader = new FrameReader(
      (buf, offset, length) => {
        if (
          length !== p.payloadBytes ||
          buf.readInt32LE(offset) !== seq ||
          buf.readInt32LE(offset + length - 4) !== seq
        ) {
          errors++;
        }
        seq++;
        if (schedule.next()) send();
        else resolve();
      },
      () => {},
    );
    socket.on('data', (chunk) => reader.push(chunk));
    schedule.start();
    send();
  });
  await new Promise((resolve) => socket.end(endFrame(seq), resolve));
  schedule.write(p.samplesFile);
  io.report({ kind: 'pinger', sent: seq, ...schedule.report(), errors });
}

// ---- many-to-one: N client processes write to one server process ----

/** The server: accepts N connections and checks each one's stream apart, until every one sent its end marker. */
async function m2oConsumer(p, io) {
  const server = net.createServer();
  const verifiers = [];
  const gc = gcCounter();
  let ended = 0;
  let end = 0n;
  let allEnded;
  const finished = new Promise((resolve) => (allEnded = resolve));
  server.on('connection', (s) => {
    const verifier = new SeqCounter(false, p.warm);
    verifiers.push(verifier);
    const reader = new FrameReader(checker(p, verifier), (total) => {
      verifier.finish(total);
      if (++ended === p.producers) {
        end = hr();
        gc.stop();
        allEnded();
      }
    });
    s.on('data', (chunk) => reader.push(chunk));
  });
  await new Promise((resolve, reject) => server.listen(address(p.name), resolve).once('error', reject));
  io.ready();
  await io.go();
  gc.start();
  await finished;
  server.close();
  // Connections arrive in any order: a client's index is not known here, so streams are matched by their counts.
  const received = verifiers.map((v) => v.received);
  io.report({
    kind: 'consumer',
    received: received.reduce((a, b) => a + b, 0),
    receivedMeasured: verifiers.reduce((n, v) => n + v.measured, 0),
    receivedPerProducer: received,
    unordered: true,
    errors: verifiers.reduce((n, v) => n + v.errors, 0),
    lost: 0,
    tEndNs: String(end),
    gcs: await gc.count(),
  });
}

/** One of N clients: frames packed into 64 KiB writes, waiting for 'drain' when the socket buffers fill. */
async function m2oProducer(p, io) {
  const socket = net.connect(address(p.name));
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  io.ready();
  await io.go();
  const frame = 4 + p.payloadBytes;
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / frame));
  const payload = makePayload(p.payloadBytes);
  let buf = Buffer.allocUnsafe(perBatch * frame);
  let at = 0;
  const flush = async () => {
    const out = at === buf.length ? buf : buf.subarray(0, at);
    const drained = socket.write(out);
    buf = Buffer.allocUnsafe(perBatch * frame);
    at = 0;
    if (!drained) await new Promise((resolve) => socket.once('drain', resolve));
  };
  const sendUntil = async (seq, limit, deadline) => {
    while (seq < limit) {
      if ((seq & 1023) === 0 && hr() >= deadline) break;
      payload.i32[0] = seq;
      payload.i32[payload.last] = seq;
      buf.writeUInt32LE(p.payloadBytes, at);
      buf.set(payload.bytes, at + 4);
      at += frame;
      seq++;
      if (at === buf.length) await flush();
    }
    return seq;
  };
  const gc = gcCounter();
  let seq = await sendUntil(0, p.warm, FAR_FUTURE);
  gc.start();
  const start = hr();
  seq = await sendUntil(seq, 0x7fffffff, start + BigInt(p.durationMs) * 1000000n);
  const end = hr();
  gc.stop();
  if (at > 0) await flush();
  await new Promise((resolve) => socket.end(endFrame(seq), resolve));
  io.report({
    kind: 'producer',
    index: p.producerIndex,
    sent: seq,
    measured: seq - p.warm,
    tStartNs: String(start),
    tEndNs: String(end),
    gcs: await gc.count(),
  });
}

module.exports = {
  scenarios: new Set(['throughput', 'rtt', 'many-to-one']),
  unavailable: () => null,
  version: () => `node ${process.version} net`,
  strategyOf: () => 'epoll',
  plan(id, scenario, p) {
    if (scenario === 'rtt') return { procs: [jsProcess(id, 'pong', p), jsProcess(id, 'ping', p)] };
    if (scenario === 'many-to-one') {
      const procs = [jsProcess(id, 'm2oConsumer', p)];
      for (let i = 0; i < p.producers; i++) procs.push(jsProcess(id, 'm2oProducer', { ...p, producerIndex: i }));
      return { procs };
    }
    const procs = [jsProcess(id, 'producer', p)];
    for (let i = 0; i < p.consumers; i++) procs.push(jsProcess(id, 'consumer', { ...p, consumerIndex: i }));
    return { procs };
  },
  roles: { producer, consumer, ping, pong, m2oConsumer, m2oProducer },
  FrameReader,
};
