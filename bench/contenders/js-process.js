'use strict';
// Parent- and child-side helpers shared by the JavaScript contenders.
const fs = require('fs');
const path = require('path');
const { hr } = require('../common');

const CHILD = path.resolve(__dirname, '../child.js');

/** A process entry for the runner: node running bench/child.js as `role` of contender `id`. */
function jsProcess(id, role, params) {
  return { role, argv: [process.execPath, '--expose-gc', CHILD, id, role, JSON.stringify(params)] };
}

/** Writes `count` latency samples (ns) as float64 to `file`, the format the runner reads (and the C baseline writes). */
function writeSamples(file, samples, count) {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = Number(samples[i]);
  fs.writeFileSync(file, new Uint8Array(out.buffer));
}

/** The q-quantile (0..1) of a BigInt64Array of ns, as a number (0 when empty). */
function percentileOf(values, q) {
  if (values.length === 0) return 0;
  const sorted = values.slice().sort();
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
}

/**
 * The pinger's clock for round trips, shared by every JavaScript pinger (sync loops and event handlers alike):
 *   phase 0: back-to-back round trips for warmMs (JIT warm-up); the interval is then set from the second half of
 *            them: max(intervalFloorNs, intervalMult x median, 1.5 x mean) so the schedule is sustainable;
 *   phase 1: round trips at that interval for warmMs, discarded (the paced path gets optimized);
 *   phase 2: round trips at intended times t0 + i * interval for durationMs, each recorded as
 *            reply time - intended send time (a stall delays every sample behind it: no coordinated omission).
 * Usage: start(), send; after each reply `if (next()) send; else stop`. next() spins until the next send time.
 * Phases 1 and 2 run the very same code, so the optimized code of phase 1 is not thrown away when measuring
 * starts; BigInt state lives in BigInt64Arrays so the optimized loop does not allocate.
 */
class RttSchedule {
  constructor(p) {
    this.p = p;
    this.samples = new BigInt64Array(Math.max(p.maxSamples, 1 << 20));
    this.last = p.maxSamples - 1;
    this.count = 0;
    this.sends = 0; // round trips of the current phase, not capped like count (the saturation check needs them)
    this.windowNs = 0; // how long phase 2 lasted
    this.phase = 0;
    this.intervalNs = 0;
    this.t = new BigInt64Array(5); // intended send time, end of phase, now, interval, start of phase
    const warm = BigInt(Math.round(p.warmMs * 1e6));
    this.phaseLength = BigInt64Array.of(warm, warm, BigInt(p.durationMs) * 1000000n);
  }

  start() {
    this.t[1] = hr() + this.phaseLength[0];
    this.t[0] = hr();
  }

  /** Call when a reply arrived: records it and waits for the next send time. False when the measurement is over. */
  next() {
    const t = this.t;
    t[2] = hr();
    this.samples[this.count] = t[2] - t[0];
    if (this.count < this.last) this.count++;
    this.sends++;
    if (this.phase === 0) {
      t[0] = t[2];
    } else {
      t[0] = t[0] + t[3];
      while ((t[2] = hr()) < t[0]);
    }
    return t[2] < t[1] || this.advance();
  }

  advance() {
    const t = this.t;
    if (this.phase === 0) this.calibrate();
    if (this.phase === 2) {
      this.windowNs = Number(t[2] - t[4]);
      return false;
    }
    this.phase++;
    this.count = 0;
    this.sends = 0;
    t[1] = t[2] + this.phaseLength[this.phase];
    t[0] = t[2];
    t[4] = t[2];
    return true;
  }

  calibrate() {
    const tail = this.samples.subarray(this.count >> 1, this.count);
    let sum = 0;
    for (let i = 0; i < tail.length; i++) sum += Number(tail[i]);
    const mean = tail.length ? sum / tail.length : 0;
    const p = this.p;
    this.intervalNs = Math.round(Math.max(p.intervalFloorNs, p.intervalMult * percentileOf(tail, 0.5), 1.5 * mean));
    this.t[3] = BigInt(this.intervalNs);
  }

  /** Writes the measured samples for the parent. */
  write(file) {
    writeSamples(file, this.samples, this.count);
  }

  /** The fields of the pinger's result line that describe the schedule (bench/saturation.js judges them). */
  report() {
    return { samples: this.count, intervalNs: this.intervalNs, pacedSends: this.sends, pacedNs: this.windowNs };
  }
}

module.exports = { jsProcess, writeSamples, percentileOf, RttSchedule };
