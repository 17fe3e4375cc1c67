'use strict';
// Makes sure what the benchmark runs is built: dist/ (tsc) when lib/ is newer, and the native baseline (CMake target
// `shmring_baseline`, normally built by `npm install`'s cmake-js compile) when it is missing or stale.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const BASELINE_SOURCE = path.join(ROOT, 'bench/native/baseline_ring.c');
const BASELINE_CANDIDATES = [
  path.join(ROOT, 'build/Release/shmring_baseline'),
  path.join(ROOT, 'build/shmring_baseline'),
];

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** The built baseline executable, or null. */
function baselinePath() {
  return BASELINE_CANDIDATES.find((file) => mtime(file) >= 0) ?? null;
}

function newestIn(dir, ext) {
  let newest = -1;
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (name.endsWith(ext)) newest = Math.max(newest, mtime(path.join(dir, name)));
  }
  return newest;
}

function run(cmd, args, log) {
  log(`$ ${[path.relative(ROOT, cmd) || cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout || ''}${r.stderr || ''}${r.error ? r.error.message : ''}` };
}

function buildDist(log) {
  const index = path.join(ROOT, 'dist/lib/index.js');
  if (!fs.existsSync(path.join(ROOT, 'lib/index.ts'))) return;
  if (mtime(index) >= newestIn(path.join(ROOT, 'lib'), '.ts')) return;
  const r = run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], log);
  if (!r.ok) {
    const first = r.output.trim().split('\n').slice(0, 5).join('\n');
    log(`tsc reported errors${fs.existsSync(index) ? ' (continuing with what it emitted)' : ''}:\n${first}`);
  }
}

function buildBaseline(log) {
  const built = baselinePath();
  if (built && mtime(built) >= mtime(BASELINE_SOURCE)) return;
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  let r = run(process.execPath, [cmakeJs, 'build', '--out', 'build', '--target', 'shmring_baseline'], log);
  if (r.ok && baselinePath() && mtime(baselinePath()) >= mtime(BASELINE_SOURCE)) return;
  log('cmake-js could not build shmring_baseline; compiling it directly with cc');
  fs.mkdirSync(path.dirname(BASELINE_CANDIDATES[0]), { recursive: true });
  r = run('cc', ['-O3', '-std=gnu11', '-Wall', '-Wextra', '-o', BASELINE_CANDIDATES[0], BASELINE_SOURCE], log);
  if (!r.ok) log(`building the native baseline failed; native-c rows will be skipped:\n${r.output.trim()}`);
}

/** Builds what is missing; `log` receives one line per step taken (nothing when everything is up to date). */
function ensureBuilt(log) {
  buildDist(log);
  buildBaseline(log);
}

module.exports = { ensureBuilt, baselinePath, ROOT };
