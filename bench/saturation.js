'use strict';
// Is a latency series latency, or queueing? The latency cases send on an open-loop schedule (intended times
// t0 + i x interval) and measure from the intended time, so a stall is charged to every sample behind it (no
// coordinated omission). The price: a schedule faster than the contender can answer makes each message wait for
// the ones before it, and the "latency" becomes the length of a queue that grows for the whole run (one default
// run printed p50s of 73,859 µs and 173,539 µs that way). Three symptoms, any one enough:
//   - the sender could not keep to the schedule: sends x interval covers less than MIN_ACHIEVED of the window;
//   - latency climbs through the run: the last third's median is above the interval (every reply came after the
//     next send was due) and more than MAX_GROWTH x the first third's median;
//   - the median sample is above the interval: most replies came after the next send was due, so most samples
//     waited behind earlier ones. Seen on a busy 2-core machine: a busy-spin pair descheduled for milliseconds
//     again and again kept 98 % of a 2 µs schedule on average, with no trend, and a "p50" of 3,564 µs.
// A one-off stall trips none: the schedule catches up afterwards, and the medians ignore the samples behind it.
// A run with fewer than MIN_TREND_SAMPLES samples cannot show either, and counts as saturated too: its schedule was
// set from round trips so slow (a 2-core machine with other work: a spinning pair descheduled for milliseconds) that
// the run held a handful of them, and one of those printed as a 15.8 ms "p50" of a busy-spin round trip.

/** Share of the schedule's sends that must have happened for the schedule to count as kept. */
const MIN_ACHIEVED = 0.95;
/** Last third's median over the first third's above which latency is said to climb (with the interval test). */
const MAX_GROWTH = 2;
/** Fewer samples than this cannot show a trend: such a run is not judged to be latency. */
const MIN_TREND_SAMPLES = 30;

function medianOf(samples, from, to) {
  const v = Array.from(samples.subarray(from, to)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * Judges one run. `samples`: latencies in ns in send order (Float64Array); `intervalNs`: the schedule's interval;
 * `sends` and `windowNs`: how many paced sends happened in how long (null when the sender cannot be behind, then
 * only the trend is judged). Returns { saturated, reason, achieved, firstThirdNs, lastThirdNs, growth }.
 */
function judge({ samples, intervalNs, sends = null, windowNs = null }) {
  const achieved =
    sends !== null && windowNs > 0 && intervalNs > 0 ? Math.min(1, (sends * intervalNs) / windowNs) : null;
  const third = Math.floor(samples.length / 3);
  const trend = samples.length >= MIN_TREND_SAMPLES;
  const firstThirdNs = trend ? medianOf(samples, 0, third) : null;
  const lastThirdNs = trend ? medianOf(samples, samples.length - third, samples.length) : null;
  const growth = trend && firstThirdNs > 0 ? lastThirdNs / firstThirdNs : null;
  const medianNs = medianOf(samples, 0, samples.length);
  const reasons = [];
  if (achieved !== null && achieved < MIN_ACHIEVED) {
    reasons.push(`sent ${(100 * achieved).toFixed(0)}% of the schedule`);
  }
  if (trend && lastThirdNs > intervalNs && growth > MAX_GROWTH) {
    reasons.push(`latency climbed ${growth.toFixed(1)}× from the first third to the last`);
  }
  if (trend && medianNs > intervalNs && !(lastThirdNs > intervalNs && growth > MAX_GROWTH)) {
    reasons.push('most replies came after the next send was due');
  }
  if (!trend) reasons.push(`only ${samples.length} samples, too few to tell latency from queueing`);
  return {
    saturated: reasons.length > 0,
    reason: reasons.join('; ') || null,
    achieved,
    medianNs,
    firstThirdNs,
    lastThirdNs,
    growth,
  };
}

module.exports = { judge, MIN_ACHIEVED, MAX_GROWTH, MIN_TREND_SAMPLES };
