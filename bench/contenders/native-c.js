'use strict';
// The native baseline: bench/native/baseline_ring.c, built by CMake as the `shmring_baseline` target (see
// bench/build.js). A plain C SPSC ring over /dev/shm: the practical hardware limit on the machine at hand.
const { baselinePath } = require('../build');

function unavailable() {
  return baselinePath() ? null : 'the shmring_baseline executable is not built (cmake target shmring_baseline)';
}

function strategyOf(scenario, p) {
  if (scenario === 'wake') return 'futex';
  return p.strategy || 'spin';
}

function args(p, extra) {
  return [
    '--name',
    p.name,
    '--payload',
    String(p.payloadBytes),
    '--duration-ms',
    String(p.durationMs),
    '--max-samples',
    String(p.maxSamples || 1),
    ...extra,
  ];
}

function proc(mode, role, p, extra = []) {
  return { role, argv: [baselinePath(), mode, '--role', role, ...args(p, extra)] };
}

module.exports = {
  scenarios: new Set(['throughput', 'rtt', 'wake']),
  unavailable,
  version: () => 'gcc -O3, C11',
  strategyOf,
  plan(id, scenario, p) {
    if (scenario === 'throughput') {
      if (p.consumers !== 1) return null;
      const warm = ['--warm', String(p.warm)];
      if (p.count) throw new Error('native-c throughput runs for a duration, not a count');
      return { procs: [proc('throughput', 'producer', p, warm), proc('throughput', 'consumer', p, warm)] };
    }
    if (scenario === 'rtt') {
      const extra = [
        '--wait',
        p.strategy === 'futex' ? 'futex' : 'spin',
        '--warm-ms',
        String(p.warmMs),
        '--interval-floor-ns',
        String(p.intervalFloorNs),
        '--interval-mult',
        String(p.intervalMult),
      ];
      return {
        procs: [proc('rtt', 'ping', p, [...extra, '--samples', p.samplesFile]), proc('rtt', 'pong', p, extra)],
      };
    }
    if (scenario === 'wake') {
      const extra = ['--interval-ns', String(p.intervalNs)];
      return {
        procs: [proc('wake', 'sender', p, extra), proc('wake', 'waiter', p, [...extra, '--samples', p.samplesFile])],
      };
    }
    return null;
  },
  roles: {},
};
