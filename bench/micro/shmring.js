'use strict';
// benchmark.js suites of shmring's per-message calls, producer and consumer in this one process (so there is no
// cross-core traffic: these are the instruction costs). In the first rows, reliable rings are drained by an
// in-process consumer when full, or refilled with one batch when empty, and that amortized work is part of what each
// test measures. The rows issue 10 sets targets for keep it out: benchmark.js runs a test's `setup` before each
// timed cycle, outside the timing, with the cycle's call count in `this.count`; there `prepare(count)` drains the
// ring (producer rows) or fills it (the poll row) far enough for the whole cycle, in a ring large enough for it.
// A cycle that still ran out does the work inside the timing and is counted (`spills`, shown in the note).
// Those rows do PER_CALL messages per call and report per message: benchmark.js compiles a fresh timing loop for
// every cycle, and in cycles this short (they must fit the ring) that cold loop cost more than an offer (72 vs 22 ns
// by hand when each call was one offer).
const Benchmark = require('benchmark');

// With a `setup`, benchmark.js would try to inline the test's source into its timing loop; a closure cannot be, and
// its fallback calls the test through a property it adds to and deletes from the benchmark (a dictionary-mode object
// afterwards). Off, every test is called as `m.fn()`, as the rows without a setup always were.
Benchmark.support.decompilation = false;
const { DATA_TYPE, makePayload } = require('../common');

const CAPACITY = 1 << 20;
/** Rings of the rows with work kept out of the timing: a cycle (~25k calls, see cleanMinTime) fits 4 times over. */
const CLEAN_CAPACITY = 1 << 20;
/** Messages per call in the rows with work kept out of the timing (and per poll() in the poll row). */
const PER_CALL = 64;
/** Each cycle's setup: runs with `this` = the benchmark, so it reaches the test's own `prepare` option. */
const PREPARE_CYCLE = function () {
  this.prepare(this.count);
};

function noop() {}

function suite(tests, options) {
  return new Promise((resolve) => {
    const s = new Benchmark.Suite();
    for (const t of tests) {
      const own = t.prepare ? { prepare: t.prepare, setup: PREPARE_CYCLE, minTime: options.cleanMinTime } : {};
      s.add(t.name, t.fn, { maxTime: options.maxTime, minSamples: options.minSamples, ...own, onStart: t.setup });
    }
    const out = [];
    s.on('cycle', (event) => {
      const b = event.target;
      const t = tests.find((x) => x.name === b.name);
      const perCall = t.perCall || 1; // messages per call: rates and costs are reported per message
      const spills = t.spills ? t.spills() : 0;
      out.push({
        op: b.name,
        id: t.id,
        contender: t.contender,
        hz: b.hz * perCall,
        nsPerOp: 1e9 / b.hz / perCall,
        perCall,
        rme: b.stats.rme,
        cycles: b.stats.sample.length,
        spills,
        note: spills ? `${t.note}; ${spills} cycle(s) ran out and did it inside the timing` : t.note,
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
  const clean = (suffix) => {
    const name = `${p.name}-${suffix}`;
    names.push(name);
    const pub = Publication.create(name, { capacity: CLEAN_CAPACITY, mode: 'reliable' });
    const sub = Subscription.open(name, { from: 'earliest' });
    // Touch every page once (fill, drain), so the timed cycles do not pay the mapping's first-touch page faults.
    while (pub.offer(bytes, DATA_TYPE) >= 0);
    drainAll(sub);
    return { pub, sub };
  };
  const offerRing = clean('offer-clean');
  const fieldsRing = clean('claim-fields');
  const pollRing = clean('poll-clean');
  // A Int32Array over the claim's mapping, made once (what a caller encoding fields in place holds).
  const firstClaim = fieldsRing.pub.tryClaim(length, DATA_TYPE);
  const claimMapping = firstClaim.buffer;
  const words = new Int32Array(claimMapping.buffer, 0, claimMapping.buffer.byteLength >> 2);
  // The claim's buffer is the whole mapping (byteOffset 0, as documented), so claim.offset indexes the view directly:
  // reading `byteOffset` per message would cost more than the four stores.
  if (claimMapping.byteOffset !== 0) throw new Error('claim.buffer does not start at the mapping');
  firstClaim.abort();
  drainAll(fieldsRing.sub);
  let fieldValue = 0;
  const spills = { offer: 0, fields: 0, poll: 0 };
  let pending = 0; // messages in pollRing not yet polled
  let shortPolls = 0;
  let pollCount = 0;
  const countPoll = () => {
    pollCount++;
  };
  const fillPoll = (messages) => {
    while (pending < messages) {
      pollRing.pub.beginBatch();
      let n = 0;
      while (n < 4096 && pollRing.pub.offer(bytes, DATA_TYPE) >= 0) n++;
      pollRing.pub.commitBatch();
      pending += n;
      if (n < 4096) break; // full
    }
  };
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
    // ---- issue 10's measures: the work of the other side is done in each cycle's setup, not timed ----
    {
      name: 'offer, ring drained before each cycle',
      id: 'offer-clean',
      contender: 'shmring',
      perCall: PER_CALL,
      note: `ns per offer (${PER_CALL} per call); only offers are timed: the ring is drained in each cycle's setup`,
      prepare() {
        drainAll(offerRing.sub);
      },
      spills: () => spills.offer,
      fn() {
        const pub = offerRing.pub;
        for (let k = 0; k < PER_CALL; k++) {
          if (pub.offer(bytes, DATA_TYPE) < 0) {
            spills.offer++;
            drainAll(offerRing.sub);
            pub.offer(bytes, DATA_TYPE);
          }
        }
      },
    },
    {
      name: 'tryClaim + commit, 4 Int32 fields written in place',
      id: 'claim-fields',
      contender: 'shmring-claim',
      perCall: PER_CALL,
      note:
        `ns per message (${PER_CALL} per call); a 32 B claim, 4 Int32 stores through an Int32Array over the ` +
        "mapping made once, no copy; drained in each cycle's setup",
      prepare() {
        drainAll(fieldsRing.sub);
      },
      spills: () => spills.fields,
      fn() {
        const pub = fieldsRing.pub;
        for (let k = 0; k < PER_CALL; k++) {
          let claim = pub.tryClaim(length, DATA_TYPE);
          if (claim === null) {
            spills.fields++;
            drainAll(fieldsRing.sub);
            claim = pub.tryClaim(length, DATA_TYPE);
          }
          const at = claim.offset >> 2; // payloads are 8-byte aligned
          const v = fieldValue++;
          words[at] = v;
          words[at + 1] = v + 1;
          words[at + 2] = v + 2;
          words[at + 3] = v + 3;
          claim.commit();
        }
      },
    },
    {
      name: `poll per message, in poll(handler, ${PER_CALL})`,
      id: 'poll-per-message',
      contender: 'shmring',
      perCall: PER_CALL,
      note: `ns per message; each call delivers ${PER_CALL} to a counting handler; the ring is filled before each cycle`,
      prepare(calls) {
        fillPoll(calls * PER_CALL);
      },
      spills: () => spills.poll,
      fn() {
        if (pending < PER_CALL) {
          spills.poll++;
          fillPoll(PER_CALL);
        }
        const n = pollRing.sub.poll(countPoll, PER_CALL);
        if (n !== PER_CALL) shortPolls++;
        pending -= n;
      },
    },
  ];
  const results = await suite(tests, {
    maxTime: p.maxTime,
    minSamples: p.minSamples,
    // Short cycles, so that a cycle's records (~1 MiB) stay in cache like the 1 MiB rings of the rows above; the
    // ns timer keeps 0.5 ms cycles precise.
    cleanMinTime: 0.0002,
  });
  if (inBatch > 0) batchPub.commitBatch();
  const lastClaim = fieldsRing.pub.tryClaim(length, DATA_TYPE);
  if (lastClaim) lastClaim.abort();
  if (!lastClaim || lastClaim.buffer !== claimMapping) {
    throw new Error('the claim buffer changed during the run: the Int32Array made once no longer covers it');
  }
  if (shortPolls > 0) throw new Error(`${shortPolls} poll(handler, ${PER_CALL}) calls returned fewer messages`);
  const cleanRings = [offerRing, fieldsRing, pollRing];
  for (const pub of [reliable, broadcast, claimPub, batchPub, pollPub, ...cleanRings.map((r) => r.pub)]) pub.close();
  for (const sub of [reliableSub, claimSub, batchSub, pollSub, ...cleanRings.map((r) => r.sub)]) sub.close();
  for (const name of names) Publication.unlink(name);
  return results.map((r) => ({
    ...r,
    polled: r.id === 'poll-per-message' ? pollCount : r.op.startsWith('poll') ? polled : undefined,
  }));
}

module.exports = { run };
