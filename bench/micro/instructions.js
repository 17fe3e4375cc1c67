'use strict';
// A fixed number of per-message calls in one process, for counting instructions with callgrind (deterministic on a
// loaded machine, where timings are not). Run it with two message counts and subtract: the difference is the cost of
// the extra messages without Node's start-up.
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded bench/micro/instructions.js \
//     offer 2560000 [libDir]
//
// Cases (32-byte messages, polled by an in-process subscription every 64): offer (reliable), claim (tryClaim +
// commit), batch (offers in batches of 64), broadcast (offer), all (the four in turn, each on its own ring, as the
// micro benchmark's process has them: the calls see every class). libDir (default dist/lib) lets two builds be
// compared.
const path = require('path');

const [caseName = 'offer', countArg = '1000000', libDir = path.join(__dirname, '..', '..', 'dist', 'lib')] =
  process.argv.slice(2);
const { Publication, Subscription } = require(path.resolve(libDir, 'index.js'));

const CASES = ['offer', 'claim', 'batch', 'broadcast'];
const BATCH = 64;
const payload = new Uint8Array(32).fill(7);
let received = 0;
const count = () => {
  received++;
};

function round(kind, pub, sub) {
  if (kind === 'batch') pub.beginBatch();
  for (let j = 0; j < BATCH; j++) {
    if (kind === 'claim') {
      const claim = pub.tryClaim(payload.length, 1);
      claim.buffer.set(payload, claim.offset);
      claim.commit();
    } else if (pub.offer(payload, 1) < 0) {
      throw new Error('back-pressured: the loop polls every 64 messages, far below the capacity');
    }
  }
  if (kind === 'batch') pub.commitBatch();
  while (sub.poll(count, BATCH) > 0);
}

const kinds = caseName === 'all' ? CASES : [caseName];
if (!kinds.every((k) => CASES.includes(k))) throw new Error(`unknown case ${caseName}: ${CASES.join(', ')} or all`);
const rings = kinds.map((kind) => {
  const name = `instructions-${kind}-${process.pid}`;
  const pub = Publication.create(name, { capacity: 1 << 20, mode: kind === 'broadcast' ? 'broadcast' : 'reliable' });
  return { kind, name, pub, sub: Subscription.open(name, { from: 'earliest' }) };
});
try {
  const messages = Number(countArg);
  for (let sent = 0; sent < messages;) {
    for (const r of rings) {
      round(r.kind, r.pub, r.sub);
      sent += BATCH;
    }
  }
  const expected = Math.ceil(messages / (BATCH * rings.length)) * BATCH * rings.length;
  if (received !== expected) throw new Error(`received ${received} of ${expected}`);
  console.log(`${caseName}: ${received} messages`);
} finally {
  for (const r of rings) {
    r.sub.close();
    r.pub.close();
    Publication.unlink(r.name);
  }
}
