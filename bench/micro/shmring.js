'use strict';
// benchmark.js suites of shmring's per-message calls, producer and consumer in this one process (so there is no
// cross-core traffic: these are the instruction costs). Reliable rings are drained by an in-process consumer when
// full, or refilled with one batch when empty; that amortized work is part of what each test measures.
const Benchmark = require('benchmark');
const { DATA_TYPE, makePayload } = require('../common');

const CAPACITY = 1 << 20;

function noop() {}

function suite(tests, options) {
  return new Promise((resolve) => {
    const s = new Benchmark.Suite();
    for (const t of tests) s.add(t.name, t.fn, { ...options, onStart: t.setup });
    const out = [];
    s.on('cycle', (event) => {
      const b = event.target;
      const t = tests.find((x) => x.name === b.name);
      out.push({
        op: b.name,
        contender: t.contender,
        hz: b.hz,
        nsPerOp: 1e9 / b.hz,
        rme: b.stats.rme,
        cycles: b.stats.sample.length,
        note: t.note,
      });
    });
    s.on('complete', () => resolve(out));
    s.run({ async: false });
  });
}

async function run(lib, p) {
  const { Publication, Subscription } = lib;
  const payload = makePayload(p.payloadBytes);
  const bytes = payload.bytes;
  const length = bytes.length;
  const names = [];
  const create = (suffix, mode) => {
    const name = `${p.name}-${suffix}`;
    names.push(name);
    return Publication.create(name, { capacity: CAPACITY, mode });
  };
  const drainAll = (sub) => {
    while (sub.poll(noop, 1 << 20) > 0);
  };

  const reliable = create('offer', 'reliable');
  const reliableSub = Subscription.open(`${p.name}-offer`, { from: 'earliest' });
  const broadcast = create('broadcast', 'broadcast');
  const claimPub = create('claim', 'reliable');
  const claimSub = Subscription.open(`${p.name}-claim`, { from: 'earliest' });
  const batchPub = create('batch', 'reliable');
  const batchSub = Subscription.open(`${p.name}-batch`, { from: 'earliest' });
  const pollPub = create('poll', 'reliable');
  const pollSub = Subscription.open(`${p.name}-poll`, { from: 'earliest' });
  let inBatch = 0;
  let polled = 0;
  const countPolled = () => {
    polled++;
  };
  const refill = () => {
    pollPub.beginBatch();
    for (let i = 0; i < 4096; i++) if (pollPub.offer(bytes, DATA_TYPE) < 0) break;
    pollPub.commitBatch();
  };

  const tests = [
    {
      name: 'offer (reliable)',
      contender: 'shmring',
      note: 'drained in-process when full',
      fn() {
        if (reliable.offer(bytes, DATA_TYPE) < 0) {
          drainAll(reliableSub);
          reliable.offer(bytes, DATA_TYPE);
        }
      },
    },
    {
      name: 'offer (broadcast)',
      contender: 'shmring-broadcast',
      note: 'no consumer: never back-pressured',
      fn() {
        broadcast.offer(bytes, DATA_TYPE);
      },
    },
    {
      name: 'offer in a batch of 64',
      contender: 'shmring-batch',
      note: 'beginBatch/commitBatch every 64 offers; drained when full',
      fn() {
        if (inBatch === 0) batchPub.beginBatch();
        if (batchPub.offer(bytes, DATA_TYPE) < 0) {
          batchPub.commitBatch();
          drainAll(batchSub);
          batchPub.beginBatch();
          batchPub.offer(bytes, DATA_TYPE);
        }
        if (++inBatch === 64) {
          batchPub.commitBatch();
          inBatch = 0;
        }
      },
    },
    {
      name: 'tryClaim + commit',
      contender: 'shmring-claim',
      note: 'payload copied into the claim; drained when full',
      fn() {
        let claim = claimPub.tryClaim(length, DATA_TYPE);
        if (claim === null) {
          drainAll(claimSub);
          claim = claimPub.tryClaim(length, DATA_TYPE);
        }
        claim.buffer.set(bytes, claim.offset);
        claim.commit();
      },
    },
    {
      name: 'poll (1 message)',
      contender: 'shmring',
      note: 'poll(handler, 1); refilled with a batch of 4096 when empty',
      fn() {
        if (pollSub.poll(countPolled, 1) === 0) {
          refill();
          pollSub.poll(countPolled, 1);
        }
      },
    },
  ];
  const results = await suite(tests, { maxTime: p.maxTime, minSamples: p.minSamples });
  if (inBatch > 0) batchPub.commitBatch();
  for (const pub of [reliable, broadcast, claimPub, batchPub, pollPub]) pub.close();
  for (const sub of [reliableSub, claimSub, batchSub, pollSub]) sub.close();
  for (const name of names) Publication.unlink(name);
  return results.map((r) => ({ ...r, polled: r.op.startsWith('poll') ? polled : undefined }));
}

module.exports = { run };
