'use strict';
// What a user does, on every supported Node line: `npm pack` this checkout (prepack builds one prebuilt addon per
// line), install the tarball into an empty project with --ignore-scripts (as npm 11 and pnpm 10 do by default for
// dependencies), then `require` and `import` shmring there and pass messages between two processes
// (test/fixtures/package/). On lines with native `using` (24+) it also runs dispose.mjs untranspiled. Once, it
// type-checks an ES module and a CommonJS consumer against the installed types (TypeScript's nodenext resolution),
// and checks the fallback: with the prebuilds removed, the load error names C++20 and `npm rebuild shmring` builds.
// Any failure exits non-zero; nothing is skipped without saying so.
//
// Usage: node scripts/check-package.js [--lines 20,22,24,26]   (run by .ci/run as `npm run test:package`)
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { LINES, envFor, lineOf, nodeBinDir } = require('./node-lines');

const root = path.resolve(__dirname, '..');
const fixtures = path.join(root, 'test', 'fixtures', 'package');

function fail(message) {
  throw new Error(`package check: ${message}`);
}

function run(command, args, options) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.status !== 0) {
    fail(
      `\`${command} ${args.join(' ')}\` in ${options.cwd} exited with ${result.status} ${result.signal ?? ''}\n` +
        `${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

function jsonLine(output, prefix) {
  const line = output.split('\n').find((l) => l.startsWith(`${prefix} `));
  if (line === undefined) fail(`no "${prefix}" line in:\n${output}`);
  return JSON.parse(line.slice(prefix.length + 1));
}

function seconds(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** Packs the checkout into `dir`; checks the tarball holds every line's prebuild and no local build. */
function pack(dir) {
  const started = Date.now();
  run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: root });
  const tarballs = fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  if (tarballs.length !== 1) fail(`expected one tarball in ${dir}, found ${JSON.stringify(tarballs)}`);
  const tarball = path.join(dir, tarballs[0]);
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const { major, abi } of LINES) {
    const prebuild = `package/prebuilds/linux-x64/shmring.abi${abi}.node`;
    if (!files.includes(prebuild)) fail(`the tarball has no ${prebuild} (Node ${major})`);
  }
  for (const needed of [
    'package/dist/lib/index.js',
    'package/dist/lib/index.mjs',
    'package/dist/lib/index.d.ts',
    'package/dist/lib/index.d.mts',
    'package/scripts/install.js',
    'package/CMakeLists.txt',
    'package/bin/shmring.js',
    'package/dist/lib/cli/main.js',
  ]) {
    if (!files.includes(needed)) fail(`the tarball has no ${needed}`);
  }
  const unwanted = files.filter((f) => /^package\/(build|test|bench|\.cache)\//.test(f));
  if (unwanted.length > 0) fail(`the tarball holds files it should not: ${unwanted.slice(0, 5).join(', ')}`);
  const bytes = fs.statSync(tarball).size;
  const unpacked = execFileSync('tar', ['-tzvf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .reduce((sum, l) => sum + Number(l.split(/\s+/)[2]), 0);
  console.log(
    `packed ${path.basename(tarball)}: ${bytes} bytes (${(bytes / 1024).toFixed(0)} KiB), ` +
      `${files.length} files, ${(unpacked / 1024).toFixed(0)} KiB unpacked, in ${seconds(started)}`,
  );
  return tarball;
}

/** Installs the tarball into a new empty project with `major`'s node and npm, scripts blocked. */
function install(tarball, project, major) {
  fs.mkdirSync(project);
  fs.writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: `shmring-check-node${major}`, version: '1.0.0', private: true }, null, 2)}\n`,
  );
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: project, env: envFor(major) });
  const installed = path.join(project, 'node_modules', 'shmring');
  if (fs.existsSync(path.join(installed, 'build'))) fail(`${installed}/build exists: something built the addon`);
  for (const file of fs.readdirSync(fixtures)) fs.copyFileSync(path.join(fixtures, file), path.join(project, file));
}

function checkLine(tarball, work, major) {
  const { abi } = lineOf(major);
  const started = Date.now();
  const env = envFor(major);
  const node = path.join(nodeBinDir(major), 'node');
  const project = path.join(work, `node${major}`);
  install(tarball, project, major);
  const installedIn = seconds(started);

  const tag = `shmring-package-check-${process.pid}-${major}`;
  const result = jsonLine(run(node, ['producer.cjs', `${tag}-a`, `${tag}-b`], { cwd: project, env }), 'result');
  const expectedAddon = path.join(
    project,
    'node_modules',
    'shmring',
    'prebuilds',
    'linux-x64',
    `shmring.abi${abi}.node`,
  );
  if (result.abi !== String(abi)) fail(`Node ${major} ran as ABI ${result.abi}, expected ${abi}`);
  if (JSON.stringify(result.addon) !== JSON.stringify([fs.realpathSync(expectedAddon)])) {
    fail(`Node ${major} mapped ${JSON.stringify(result.addon)}, expected the prebuild ${expectedAddon}`);
  }
  if (result.consumer.received !== 'ping from require') fail(`import side received ${result.consumer.received}`);
  if (result.consumer.sameAsRequire !== true) fail('import and require gave different copies of shmring');
  if (result.reply !== 'pong from import') fail(`require side received ${result.reply}`);
  if (result.errorClass !== true) fail('require(shmring).ShmringError is not a class');

  checkCommand(project, node, env, major);

  const nativeUsing = spawnSync(node, ['-e', '{ using nothing = null; }'], { env }).status === 0;
  let disposeNote = 'native `using` not in this Node (the vitest suite covers dispose with `using` lowered)';
  if (nativeUsing) {
    const socketPath = path.join(project, 'ring.sock');
    const seen = jsonLine(run(node, ['dispose.mjs', `${tag}-dispose`, socketPath], { cwd: project, env }), 'dispose');
    const expected = {
      inside: { producerAlive: true, consumers: 1 },
      after: { producerAlive: false, aliveConsumers: 0, closed: [true, true] },
      socketWhileServing: true,
      socketAfter: false,
    };
    if (JSON.stringify(seen) !== JSON.stringify(expected)) {
      fail(`Node ${major}: using/await using: ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`);
    }
    disposeNote = 'native `using` / `await using` closed the rings and the server';
  }
  console.log(
    `Node ${result.node} (ABI ${abi}): installed with --ignore-scripts in ${installedIn}; require + import ` +
      `passed messages both ways through the prebuild; ${disposeNote}; ${seconds(started)} in all`,
  );
  return project;
}

/**
 * The `shmring` command as installed (node_modules/.bin/shmring, the package's `bin`): it answers --help, lists a
 * ring, and `bench` (whose harness is not shipped) fails with its one-line explanation, exit 1.
 */
function checkCommand(project, node, env, major) {
  const bin = path.join(project, 'node_modules', '.bin', 'shmring');
  if (!fs.existsSync(bin)) fail(`Node ${major}: npm installed no ${bin}`);
  const help = run(node, [bin, '--help'], { cwd: project, env });
  if (!help.startsWith('Usage: shmring <command>')) fail(`Node ${major}: shmring --help printed ${help}`);
  const dir = fs.mkdtempSync('/dev/shm/shmring-package-check-');
  try {
    run(node, [bin, 'create', 'ring', '--capacity', '4k', '--dir', dir], { cwd: project, env });
    const listed = JSON.parse(run(node, [bin, 'list', '--json', '--dir', dir], { cwd: project, env }));
    if (listed.length !== 1 || listed[0].name !== 'ring' || listed[0].mode !== 'reliable') {
      fail(`Node ${major}: shmring list --json printed ${JSON.stringify(listed)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const bench = spawnSync(node, [bin, 'bench'], { cwd: project, env, encoding: 'utf8' });
  if (bench.status !== 1 || !/^shmring bench: the benchmark harness is not installed/.test(bench.stderr)) {
    fail(`Node ${major}: shmring bench in an installed package: exit ${bench.status}, stderr ${bench.stderr}`);
  }
}

/** TypeScript consumers, ESM and CommonJS, compiled against the installed package's `exports` types. */
function checkTypes(project) {
  const started = Date.now();
  fs.writeFileSync(
    path.join(project, 'esm-consumer.mts'),
    [
      "import shmring, { Publication, Subscription, OfferResult, type ReliablePublication } from 'shmring';",
      "const pub: ReliablePublication = Publication.create('typed');",
      'const position: number = pub.offer(new Uint8Array(1));',
      "const sub = Subscription.open('typed', { from: 'earliest' });",
      'export const checked = [position === OfferResult.CLOSED, sub.mode, shmring.ErrorCode.CLOSED];',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(project, 'cjs-consumer.cts'),
    [
      "import shmring = require('shmring');",
      "const pub: shmring.ReliablePublication = shmring.Publication.create('typed');",
      "export const checked: [number, 'reliable' | 'broadcast'] = [pub.offer(new Uint8Array(1)), pub.mode];",
      '',
    ].join('\n'),
  );
  run(
    process.execPath,
    [
      require.resolve('typescript/bin/tsc', { paths: [root] }),
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--lib',
      'es2022,esnext.disposable',
      '--types',
      'node',
      '--typeRoots',
      path.join(root, 'node_modules', '@types'),
      'esm-consumer.mts',
      'cjs-consumer.cts',
    ],
    { cwd: project },
  );
  console.log(
    `TypeScript (nodenext): an ES module and a CommonJS consumer type-check against the installed package ` +
      `in ${seconds(started)}`,
  );
}

/**
 * The fallback, in the project of the first line: without a prebuild for this ABI, `require` fails with an error that
 * says what a build needs (C++20); `npm rebuild shmring` then builds the shipped sources into build/Release, which
 * the loader takes.
 */
function checkBuildFromSource(project, major) {
  const started = Date.now();
  const { abi } = lineOf(major);
  const env = envFor(major);
  const node = path.join(nodeBinDir(major), 'node');
  const installed = path.join(project, 'node_modules', 'shmring');
  fs.rmSync(path.join(installed, 'prebuilds'), { recursive: true });
  const missing = spawnSync(node, ['-e', "require('shmring').Publication.createAnonymous()"], {
    cwd: project,
    env,
    encoding: 'utf8',
  });
  if (
    missing.status === 0 ||
    !missing.stderr.includes('ERR_SHMRING_ADDON_NOT_LOADED') ||
    !missing.stderr.includes('a C++20 compiler')
  ) {
    fail(
      `without prebuilds, require('shmring') should fail naming C++20; got status ${missing.status}: ` + missing.stderr,
    );
  }
  run('npm', ['rebuild', 'shmring', '--ignore-scripts=false'], { cwd: project, env });
  const built = path.join(installed, 'build', 'Release', 'shmring.node');
  if (!fs.existsSync(built)) fail(`npm rebuild shmring did not build ${built}`);
  const tag = `shmring-package-check-${process.pid}-source`;
  const result = jsonLine(run(node, ['producer.cjs', `${tag}-a`, `${tag}-b`], { cwd: project, env }), 'result');
  if (
    JSON.stringify(result.addon) !== JSON.stringify([fs.realpathSync(built)]) ||
    result.abi !== String(abi) ||
    result.reply !== 'pong from import'
  ) {
    fail(`after a build from source: ${JSON.stringify(result)}`);
  }
  console.log(
    `Build from source (Node ${result.node}): without prebuilds the error names C++20; npm rebuild ` +
      `shmring built the shipped sources and require + import passed messages through it, in ${seconds(started)}`,
  );
}

function main() {
  const args = process.argv.slice(2);
  let majors = LINES.map((l) => l.major);
  if (args[0] === '--lines' && args[1] !== undefined) majors = args[1].split(',').map((m) => lineOf(m).major);
  else if (args.length > 0) fail('usage: node scripts/check-package.js [--lines 20,22,24,26]');

  const started = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-package-'));
  try {
    const tarball = pack(work);
    const projects = majors.map((major) => checkLine(tarball, work, major));
    checkTypes(projects[0]);
    checkBuildFromSource(projects[0], majors[0]);
    console.log(`package check passed on Node ${majors.join(', ')} in ${seconds(started)}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
