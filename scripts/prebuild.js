'use strict';
// prepack: build the addon from these sources against the headers of every supported Node line and ship each as
// prebuilds/linux-<arch>/shmring.abi<ABI>.node, so that `npm install shmring` works where npm (11) and pnpm (10)
// block dependencies' install scripts: lib/binding.ts loads the prebuild for the running ABI directly. Each shipped
// binary (its debug symbol table stripped) is loaded by the Node it was built for: its abiVersion must be that line's.
//
// Usage: node scripts/prebuild.js [--out DIR] [--lines 20,22,24,26]
//   --out    where prebuilds/ goes (default: the package root)
//   --lines  which supported lines to build (default: all of them, see scripts/node-lines.js)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { LINES, envFor, lineOf, nodeBinDir } = require('./node-lines');

const root = path.resolve(__dirname, '..');
/** The library's loader, compiled: the only code that knows where a prebuild goes and how an addon is loaded. */
const BINDING_MODULE = path.join(root, 'dist', 'lib', 'binding.js');

function libraryBinding() {
  if (!fs.existsSync(BINDING_MODULE)) throw new Error(`shmring: ${BINDING_MODULE} is missing: run npm run build:ts`);
  return require(BINDING_MODULE);
}

function parseArgs(argv) {
  const options = { out: root, lines: LINES.map((l) => l.major) };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === '--out') options.out = path.resolve(value);
    else if (flag === '--lines') options.lines = value.split(',').map((m) => lineOf(m).major);
    else usage(`unknown option ${flag}`);
  }
  return options;
}

function usage(problem) {
  console.error(`shmring: ${problem}\nusage: node scripts/prebuild.js [--out DIR] [--lines 20,22,24,26]`);
  process.exit(2);
}

/** Builds shmring.node for one line in build/prebuild-abi<ABI>/ (incremental) and returns its path. */
function build(line) {
  const env = envFor(line.major);
  const node = path.join(nodeBinDir(line.major), 'node');
  const out = path.join(root, 'build', `prebuild-abi${line.abi}`);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const args = [cmakeJs, 'compile', '--out', out, '--CDSHMRING_ADDON_ONLY=ON'];
  const run = spawnSync(node, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    throw new Error(`shmring: building the addon for Node ${line.major} failed (cmake-js exited with ${run.status})`);
  }
  if (/warning:/.test(run.stdout + run.stderr)) {
    process.stderr.write(run.stdout + run.stderr);
    throw new Error(`shmring: the addon build for Node ${line.major} printed compiler warnings`);
  }
  return path.join(out, 'Release', 'shmring.node');
}

/**
 * Loads `binary` in line's own Node as the library does (lib/binding.ts, compiled in dist/ by `npm run build:ts`): it
 * must load and report that line's ABI.
 */
function probe(line, binary) {
  const node = path.join(nodeBinDir(line.major), 'node');
  const load = `require(${JSON.stringify(BINDING_MODULE)}).loadBinding([${JSON.stringify(binary)}], ${JSON.stringify(root)}).abiVersion`;
  const run = spawnSync(node, ['-p', load], {
    env: envFor(line.major),
    encoding: 'utf8',
  });
  if (run.status !== 0 || Number(run.stdout.trim()) !== line.abi) {
    throw new Error(
      `shmring: ${binary} does not load as ABI ${line.abi} in Node ${line.major}: ` +
        `${run.status !== 0 ? run.stderr.trim() : `abiVersion=${run.stdout.trim()}`}`,
    );
  }
}

function main() {
  if (process.platform !== 'linux') {
    console.error(`shmring: prebuilds are made on Linux only; this is ${process.platform}`);
    process.exit(1);
  }
  const options = parseArgs(process.argv.slice(2));
  const { prebuiltPath } = libraryBinding();
  for (const major of options.lines) {
    const line = lineOf(major);
    const started = Date.now();
    const target = prebuiltPath(options.out, line.abi);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(build(line), target);
    // The symbol table is for debuggers only (-20 % size); the dynamic symbols Node needs stay.
    const strip = spawnSync('strip', ['--strip-unneeded', target], { stdio: 'inherit' });
    if (strip.status !== 0) throw new Error(`shmring: \`strip --strip-unneeded ${target}\` failed`);
    probe(line, target);
    const took = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `shmring: prebuilt addon for Node ${major} (ABI ${line.abi}) ${path.relative(process.cwd(), target)} ` +
        `in ${took} s`,
    );
  }
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
