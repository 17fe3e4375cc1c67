'use strict';
// Turns the result lines of one run into the numbers of a row, and checks that every count adds up.
const fs = require('fs');
const path = require('path');
const hdr = require('hdr-histogram-js');
const { judge } = require('./saturation');

const NS_PER_US = 1000;

function newHistogram() {
  return hdr.build({
    bitBucketSize: 64,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60e9,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Reads a samples file (float64 ns) written by a child, then deletes it. */
function readSamples(file) {
  if (!file || !fs.existsSync(file)) return new Float64Array(0);
  const bytes = fs.readFileSync(file);
  const keep = process.env.SHMRING_BENCH_KEEP_SAMPLES; // a directory: keep the raw samples for a closer look
  if (keep) fs.copyFileSync(file, path.join(keep, path.basename(file)));
  fs.rmSync(file, { force: true });
  return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length >> 3).slice();
}

/** p50/p99/p99.9/max in µs of samples (ns) recorded into an HdrHistogram (3 significant digits). */
function percentiles(samples) {
  if (samples.length === 0) return { p50Us: null, p99Us: null, p999Us: null, maxUs: null, samples: 0 };
  const h = newHistogram();
  let max = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(1, Math.round(samples[i]));
    h.recordValue(v);
    if (v > max) max = v;
  }
  // A percentile is its bucket's highest equivalent value (3 significant digits), which may exceed the true max.
  const at = (percentile) => Math.min(h.getValueAtPercentile(percentile), max);
  const us = (v) => Math.round((v / NS_PER_US) * 1000) / 1000;
  const out = {
    p50Us: us(at(50)),
    p99Us: us(at(99)),
    p999Us: us(at(99.9)),
    maxUs: us(max),
    samples: samples.length,
  };
  if (typeof h.destroy === 'function') h.destroy();
  return out;
}

const ofKind = (results, kind) => results.filter((r) => r.kind === kind);

/**
 * Throughput: messages the slowest consumer received after the warm-up, over the time from the producer's first
 * measured send to the last consumer's end marker. Verified: each consumer saw every sequence number once, in
 * order (broadcast: gaps are loss, not errors), and received + lost = sent.
 */
function throughput(results, p) {
  if (p.producers > 1 || ofKind(results, 'producer').some((r) => r.index !== undefined)) return manyToOne(results, p);
  const [producer] = ofKind(results, 'producer');
  const consumers = ofKind(results, 'consumer');
  if (!producer || consumers.length !== p.consumers) {
    return { error: `expected 1 producer and ${p.consumers} consumer results, got ${results.length} lines` };
  }
  const start = BigInt(producer.tStartNs);
  let end = start;
  let measured = Infinity;
  let errors = 0;
  let lost = 0;
  let received = 0;
  for (const c of consumers) {
    if (BigInt(c.tEndNs) > end) end = BigInt(c.tEndNs);
    measured = Math.min(measured, c.receivedMeasured);
    errors += c.errors;
    lost += c.lost || 0;
    received += c.received;
    if (c.received + (c.lost || 0) !== producer.sent) errors += Math.abs(producer.sent - c.received - (c.lost || 0));
  }
  const seconds = Number(end - start) / 1e9;
  const msgsPerSec = measured / seconds;
  const gcs = [producer, ...consumers].every((r) => typeof r.gcs === 'number')
    ? [producer, ...consumers].reduce((sum, r) => sum + r.gcs, 0)
    : null;
  return {
    msgsPerSec,
    mbPerSec: (msgsPerSec * p.payloadBytes) / 1e6,
    errors,
    lost,
    sent: producer.sent,
    received,
    messages: measured,
    gcs,
    seconds,
  };
}

/**
 * Round trips: the pinger's samples (reply time - intended send time); the ponger saw every ping once, in order.
 * `saturation` says whether the schedule outran the contender (bench/saturation.js).
 */
function rtt(results, p) {
  const [pinger] = ofKind(results, 'pinger');
  const [ponger] = ofKind(results, 'ponger');
  if (!pinger || !ponger) return { error: `expected pinger and ponger results, got ${results.length} lines` };
  const samples = readSamples(p.samplesFile);
  let errors = pinger.errors + ponger.errors;
  if (ponger.received !== pinger.sent) errors += Math.abs(pinger.sent - ponger.received);
  if (samples.length !== pinger.samples) errors++;
  const saturation = judge({
    samples,
    intervalNs: pinger.intervalNs,
    sends: pinger.pacedSends,
    windowNs: pinger.pacedNs,
  });
  return {
    ...percentiles(samples),
    rawSamples: samples,
    intervalUs: pinger.intervalNs / NS_PER_US,
    saturation,
    errors,
    lost: 0,
    sent: pinger.sent,
    received: ponger.received,
  };
}

/** Wake-ups: the waiter's samples (wake-up time - intended send time), the first `warmSamples` dropped. */
function wake(results, p) {
  const [sender] = ofKind(results, 'sender');
  const [waiter] = ofKind(results, 'waiter');
  if (!sender || !waiter) return { error: `expected sender and waiter results, got ${results.length} lines` };
  const all = readSamples(p.samplesFile);
  const samples = all.subarray(Math.min(p.warmSamples, all.length));
  // A ring queues every message; the bare futex baseline has one slot, so a send while its waiter was still awake
  // is coalesced with the next one: it reports those as lost.
  const lost = waiter.lost || 0;
  let errors = waiter.errors;
  if (waiter.received + lost !== sender.sent) errors += Math.abs(sender.sent - waiter.received - lost);
  if (all.length !== waiter.samples) errors++;
  // The sender keeps its schedule whatever the waiter does (the ring queues): only the waiter's trend can tell.
  const saturation = judge({ samples, intervalNs: sender.intervalNs });
  return {
    ...percentiles(samples),
    rawSamples: samples,
    intervalUs: sender.intervalNs / NS_PER_US,
    saturation,
    errors,
    lost,
    sent: sender.sent,
    received: waiter.received,
    notAsleep: sender.notAsleep ?? null,
  };
}

/**
 * Many-to-one throughput: messages the consumer received from all N producers after each one's warm-up, over the
 * time from the first producer's first measured send to the consumer seeing the last end marker. Verified: per
 * producer, every sequence number once, in order, and received = sent.
 */
function manyToOne(results, p) {
  const producers = ofKind(results, 'producer');
  const [consumer] = ofKind(results, 'consumer');
  const expectedProducers = p.producers ?? 1;
  if (!consumer || producers.length !== expectedProducers) {
    return { error: `expected ${expectedProducers} producer and 1 consumer results, got ${results.length} lines` };
  }
  let start = null;
  let sent = 0;
  let errors = consumer.errors;
  // A server that cannot tell which client a stream came from (sockets) reports its counts unordered: match them as
  // sorted lists.
  const sentPer = consumer.unordered ? producers.map((r) => r.sent).sort((a, b) => a - b) : null;
  const gotPer = consumer.unordered ? [...consumer.receivedPerProducer].sort((a, b) => a - b) : null;
  producers.forEach((producer, i) => {
    const t = BigInt(producer.tStartNs);
    if (start === null || t < start) start = t;
    sent += producer.sent;
    const expected = consumer.unordered ? sentPer[i] : producer.sent;
    const got = consumer.unordered ? gotPer[i] : consumer.receivedPerProducer?.[producer.index];
    if (got !== expected) errors += Math.abs(expected - (got ?? 0));
  });
  const seconds = Number(BigInt(consumer.tEndNs) - start) / 1e9;
  const msgsPerSec = consumer.receivedMeasured / seconds;
  const all = [consumer, ...producers];
  return {
    msgsPerSec,
    mbPerSec: (msgsPerSec * p.payloadBytes) / 1e6,
    errors,
    lost: 0,
    sent,
    received: consumer.received,
    messages: consumer.receivedMeasured,
    gcs: all.every((r) => typeof r.gcs === 'number') ? all.reduce((sum, r) => sum + r.gcs, 0) : null,
    seconds,
  };
}

module.exports = { throughput, rtt, wake, manyToOne, percentiles };
