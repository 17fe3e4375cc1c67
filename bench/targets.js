'use strict';
// The goals the benchmark is read against: issue 10's measures first (each a ratio taken within one run, as the
// issue defines them), then the goals of earlier issues that still hold. Each is looked up in the rows of this
// run, so a reader sees met / missed at a glance; a row that was not measured (filtered out, skipped, failed, or a
// latency row that stayed saturated) gives no value and the goal reads "n/a", never a guess.

function find(rows, where) {
  return rows.find((r) => Object.entries(where).every(([k, v]) => r[k] === v) && !r.skipped && !r.error) || null;
}

function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Median over rounds of a's value ÷ b's in the same round (both rows of one point of one case). */
function pairedRatio(a, b) {
  if (!a || !b || !a.roundValues || !b.roundValues) return null;
  return median(a.roundValues.map((v, i) => (v !== null && b.roundValues[i] ? v / b.roundValues[i] : null)));
}

/**
 * The goals with this run's values: { id, issue, text, value, unit, cmp, goal, stretch?, met, also? }. `unit`: '×'
 * (a ratio), 'ns', 'µs' or 'count'; `also`: a related figure to read beside it (e.g. the busy-spin ratio).
 */
function targets(rows) {
  // `from`: the rows the value comes from; one measured while the machine was busy makes the value noisy.
  const goal = (issue, id, text, value, unit, cmp, target, { from = [], ...extra } = {}) => {
    const v = Number.isFinite(value) ? value : null;
    const met = v === null ? null : cmp === '>=' ? v >= target : v <= target;
    return { id, issue, text, value: v, unit, cmp, goal: target, met, noisy: from.some((r) => r && r.noisy), ...extra };
  };
  const tp = (contender, payloadBytes, strategy) =>
    find(rows, { case: 'throughput', contender, payloadBytes, strategy });
  const fan = (consumers) => find(rows, { case: 'fanout', contender: 'shmring', consumers });
  const micro = (opId) => find(rows, { case: 'micro', opId });
  const rtt = (contender, strategy, payloadBytes = 32) =>
    find(rows, { case: 'rtt', contender, strategy, payloadBytes });
  const spinAlso = (r) => (r && Number.isFinite(r.vsC) ? `busy-spin consumer: ${r.vsC.toFixed(2)}×` : null);
  const latency = (r) => (r && !r.saturated ? r : null);

  const offer = tp('shmring', 32, 'default');
  const c32 = tp('native-c', 32, 'spin');
  const batch = tp('shmring-batch', 32, 'default');
  const kib = tp('shmring', 1024, 'default');
  const broadcast = tp('shmring-broadcast', 32, 'default');
  const spinRtt = rtt('shmring', 'spin');
  const gcRows = rows.filter((r) => r.case === 'gc' && !r.skipped && !r.error);
  const checked = rows.filter((r) => typeof r.errors === 'number');
  const pm = tp('postMessage', 32, 'event-loop');
  const offerSpin = tp('shmring', 32, 'spin');
  const pmRtt = rtt('postMessage', 'event-loop');
  const wakeAsync = find(rows, { case: 'wake', contender: 'shmring-async' });
  const m2o = (producers, payloadBytes = 32) =>
    find(rows, { case: 'many-to-one', contender: 'shmring-m2o', producers, payloadBytes });
  const m2oRows = rows.filter((r) => r.case === 'many-to-one' && r.contender === 'shmring-m2o' && !r.skipped);
  const m2oRtt = rtt('shmring-m2o', 'spin');
  const socketRtt = rtt('unix-socket', 'epoll');
  const m2oGoal = (producers) =>
    goal(
      14,
      `m2o-32-${producers}`,
      `many-to-one 32 B, ${producers} producer${producers > 1 ? 's' : ''} → 1, aggregate vs unix-socket`,
      m2o(producers)?.vsSocket,
      '×',
      '>=',
      2,
      { from: [m2o(producers)] },
    );
  return [
    goal(10, 'offer-32', '32 B per-message offer, default idle strategy, vs native-c', offer?.vsC, '×', '>=', 0.35, {
      stretch: 0.5,
      also: spinAlso(tp('shmring', 32, 'spin')),
      from: [offer, c32],
    }),
    goal(
      10,
      'offer-32-socket',
      '32 B per-message offer, default idle strategy, vs unix-socket (batched)',
      offer?.vsSocket,
      '×',
      '>=',
      1.5,
      {
        from: [offer, tp('unix-socket', 32, 'epoll')],
      },
    ),
    goal(10, 'batch-32', '32 B batches of 64, default idle strategy, vs native-c', batch?.vsC, '×', '>=', 0.7, {
      also: spinAlso(tp('shmring-batch', 32, 'spin')),
      from: [batch, c32],
    }),
    goal(10, 'offer-1k', '1 KiB per-message offer, default idle strategy, vs native-c', kib?.vsC, '×', '>=', 0.9, {
      also: spinAlso(tp('shmring', 1024, 'spin')),
      from: [kib, tp('native-c', 1024, 'spin')],
    }),
    goal(
      10,
      'broadcast-32',
      '32 B broadcast per receiver vs reliable, default idle strategy',
      pairedRatio(broadcast, offer),
      '×',
      '>=',
      0.8,
      {
        also:
          broadcast && broadcast.lost
            ? `${((100 * broadcast.lost) / (broadcast.lost + broadcast.received)).toFixed(1)}% lost`
            : null,
        from: [broadcast, offer],
      },
    ),
    goal(10, 'fanout-2', 'fan-out per consumer vs unix-socket, 2 consumers', fan(2)?.vsSocket, '×', '>=', 1, {
      from: [fan(2)],
    }),
    goal(10, 'fanout-4', 'fan-out per consumer vs unix-socket, 4 consumers', fan(4)?.vsSocket, '×', '>=', 1, {
      from: [fan(4)],
    }),
    goal(10, 'micro-offer', 'micro: 32 B offer', micro('offer-clean')?.nsPerOp, 'ns', '<=', 25),
    goal(
      10,
      'micro-claim',
      'micro: tryClaim + commit writing 4 Int32 fields',
      micro('claim-fields')?.nsPerOp,
      'ns',
      '<=',
      15,
    ),
    goal(
      10,
      'micro-poll',
      'micro: poll per message in a poll of 64',
      micro('poll-per-message')?.nsPerOp,
      'ns',
      '<=',
      15,
    ),
    goal(10, 'rtt-p50', 'RTT p50 busy-spin (32 B) vs native-c', latency(spinRtt)?.shmringVsC, '×', '<=', 1.5, {
      also: spinRtt?.saturated ? 'saturated' : null,
      from: [spinRtt, rtt('native-c', 'spin')],
    }),
    goal(
      10,
      'gc',
      `GCs over ${gcRows.length ? `${gcRows[0].messages / 1e6}M` : '10M'} messages (worst GC-check row)`,
      gcRows.length ? Math.max(...gcRows.map((r) => r.gcs ?? Infinity)) : null,
      'count',
      '<=',
      0,
    ),
    goal(
      10,
      'errors',
      'verification errors (every row)',
      checked.length ? checked.reduce((s, r) => s + r.errors, 0) : null,
      'count',
      '<=',
      0,
    ),
    m2oGoal(1),
    m2oGoal(2),
    m2oGoal(4),
    goal(
      14,
      'm2o-errors',
      'many-to-one verification errors (every shmring-m2o row)',
      m2oRows.length ? m2oRows.reduce((s, r) => s + (r.errors ?? 0), 0) : null,
      'count',
      '<=',
      0,
    ),
    goal(
      14,
      'm2o-gcs',
      'many-to-one GCs (every shmring-m2o throughput row, producers and consumer)',
      m2oRows.length && m2oRows.every((r) => typeof r.gcs === 'number') ? m2oRows.reduce((s, r) => s + r.gcs, 0) : null,
      'count',
      '<=',
      0,
    ),
    goal(
      14,
      'm2o-rtt',
      'request/response RTT p50 (32 B): many-to-one request ring + reliable reply ring ÷ Unix socket',
      latency(m2oRtt) && latency(socketRtt) ? m2oRtt.p50Us / socketRtt.p50Us : null,
      '×',
      '<=',
      1,
      {
        also: latency(m2oRtt) && latency(socketRtt) ? `${m2oRtt.p50Us} µs vs ${socketRtt.p50Us} µs` : null,
        from: [m2oRtt, socketRtt],
      },
    ),
    goal(null, 'rtt-p99', 'RTT p99 busy-spin (32 B)', latency(spinRtt)?.p99Us, 'µs', '<=', 1),
    goal(
      null,
      'vs-postmessage',
      'throughput vs postMessage per message (32 B, busy-spin)',
      pairedRatio(offerSpin, pm),
      '×',
      '>=',
      30,
    ),
    goal(
      null,
      'rtt-vs-postmessage',
      'RTT p50 vs postMessage (32 B): postMessage p50 ÷ shmring p50',
      latency(pmRtt)?.vsShmring,
      '×',
      '>=',
      100,
    ),
    goal(
      null,
      'async-wake',
      'async consumer woken from sleep, p50 vs raw futex wake floor',
      latency(wakeAsync)?.vsC,
      '×',
      '<=',
      1.3,
    ),
  ];
}

module.exports = { targets, pairedRatio };
