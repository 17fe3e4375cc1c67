'use strict';
// `npm run test:stress [-- --full] [-- <file filter>...]`: the stress suite (test/stress/*.stress.ts) under its own
// vitest config. The default is the bounded CI profile (under 3 minutes on 2 cores); --full (or
// SHMRING_STRESS_PROFILE=full) runs the full one (minutes). SHMRING_STRESS_SEED=<n> replays a seed. Each case's
// figures are printed and collected, one JSON line per case, in $SHMRING_STRESS_FIGURES (default
// <tmpdir>/shmring-stress-<profile>.jsonl, emptied first). The seed of the run is printed first.
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2);
const full = args.includes('--full') || process.env.SHMRING_STRESS_PROFILE === 'full';
const filters = args.filter((arg) => arg !== '--full');
const profile = full ? 'full' : 'ci';
const root = path.resolve(__dirname, '..', '..');
const figures = process.env.SHMRING_STRESS_FIGURES || path.join(os.tmpdir(), `shmring-stress-${profile}.jsonl`);
fs.writeFileSync(figures, '');

// One seed for the whole run (each test file runs in its own process): fixed in CI, random in the full profile.
const seed = process.env.SHMRING_STRESS_SEED || String(full ? crypto.randomBytes(4).readUInt32LE(0) : 20261201);
const started = Date.now();
console.log(`stress profile ${profile}, seed ${seed} (replay: SHMRING_STRESS_SEED=${seed}); figures -> ${figures}`);
const result = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '-c', 'vitest.stress.config.mts', ...filters],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      SHMRING_STRESS_PROFILE: profile,
      SHMRING_STRESS_FIGURES: figures,
      SHMRING_STRESS_SEED: seed,
    },
  },
);
console.log(
  `stress profile ${profile}: ${result.status === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s`,
);
process.exit(result.status ?? 1);
