'use strict';
// Runs the test suite (`npm test`: type-check, lint, build, vitest) on other supported Node lines, one after another.
// For each: rebuild build/ (the addon and the test executables) against that line's headers, then `npm test` with
// that line's node first on PATH, so npm, vitest and every child process the tests spawn run on it. Afterwards build/
// is rebuilt for the Node running this script, as it was. Lines come from scripts/node-lines.js (downloaded into
// .cache/node/ on first use).
//
// Usage: node scripts/test-line.js <major>[,<major>...]     e.g. node scripts/test-line.js 24,22,26
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { envFor, lineOf, nodeBinDir } = require('./node-lines');

const root = path.resolve(__dirname, '..');

function step(what, command, args, env) {
  const started = Date.now();
  const run = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' });
  if (run.status !== 0) {
    throw new Error(
      `shmring: ${what} failed (${command} ${args.join(' ')} exited with ${run.status} ${run.signal ?? ''})`,
    );
  }
  return (Date.now() - started) / 1000;
}

/** A clean configure + build: cmake-js `compile` would keep the include dirs the cache was configured with. */
function rebuild(node, env) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  return step('building the addon', node, [cmakeJs, 'rebuild', '--out', 'build'], env);
}

const arg = process.argv[2];
if (arg === undefined) {
  console.error('usage: node scripts/test-line.js <major>[,<major>...]');
  process.exit(2);
}
const majors = arg.split(',').map((m) => lineOf(m).major);
const summary = [];
let failure = null;
try {
  for (const major of majors) {
    const env = envFor(major);
    const node = path.join(nodeBinDir(major), 'node');
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    console.log(`\n=== npm test on Node ${version} ===`);
    const built = rebuild(node, env);
    const tested = step(`npm test on Node ${version}`, 'npm', ['test'], env);
    summary.push(`Node ${version}: addon built in ${built.toFixed(1)} s, npm test passed in ${tested.toFixed(1)} s`);
  }
} catch (err) {
  failure = err;
} finally {
  rebuild(process.execPath, { ...process.env });
}
console.log(`\n${summary.join('\n')}`);
if (failure !== null) {
  console.error(failure.message);
  process.exit(1);
}
