import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { binding, candidatePaths, loadBinding, packageRoot } from '../../lib/binding';
import { ErrorCode } from '../../lib/errors';
import { thrown } from '../helpers/ring-env';

const ROOT = path.resolve(__dirname, '..', '..');
const ABI = process.versions.modules;
const temps: string[] = [];

afterEach(() => {
  for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-binding-'));
  temps.push(dir);
  return dir;
}

describe('binding()', () => {
  it('loads the addon once and exposes the native API', () => {
    const native = binding();
    expect(binding()).toBe(native);
    expect(native.abiVersion).toBe(Number(ABI));
    // Exactly these: every native function serves the library (tests reach the OS through Node where they can).
    expect(Object.keys(native).sort()).toEqual(
      [
        'abiVersion',
        'openFile',
        'reopenFd',
        'closeFd',
        'fstat',
        'allocate',
        'unlinkFile',
        'memfdCreate',
        'sealSize',
        'map',
        'unmap',
        'mapAlias',
        'unmapAlias',
        'unixListen',
        'unixAccept',
        'unixConnect',
        'sendFds',
        'recvFds',
        'tryLock',
        'unlock',
        'isLocked',
        'futexWait',
        'futexWake',
        'FutexWaiter',
        'yieldThread',
        'sleepNanos',
        'monotonicMs',
      ].sort(),
    );
  });

  it('reads a monotonic clock in ms modulo 2^30 (a small integer: no allocation)', () => {
    const native = binding();
    const before = native.monotonicMs();
    native.sleepNanos(20e6);
    const after = native.monotonicMs();
    expect(Number.isInteger(before) && before >= 0 && before < 2 ** 30).toBe(true);
    const elapsed = (after - before) & (2 ** 30 - 1);
    expect(elapsed).toBeGreaterThanOrEqual(19);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('finds the package root from lib/ and lists build/Release before prebuilds/', () => {
    expect(packageRoot(path.join(ROOT, 'lib'))).toBe(ROOT);
    expect(packageRoot(path.join(ROOT, 'dist', 'lib'))).toBe(ROOT);
    expect(candidatePaths(ROOT)).toEqual([
      path.join(ROOT, 'build', 'Release', 'shmring.node'),
      path.join(ROOT, 'prebuilds', `linux-${process.arch}`, `shmring.abi${ABI}.node`),
    ]);
  });

  it('says when there is no shmring package.json above a directory', () => {
    const dir = tempDir();
    expect(thrown(() => packageRoot(dir))).toMatchObject({
      code: ErrorCode.ADDON_NOT_LOADED,
      message: `shmring: no package.json named "shmring" above ${dir}`,
    });
  });
});

describe('loadBinding', () => {
  it('refuses other platforms', () => {
    expect(thrown(() => loadBinding([], ROOT, 'darwin'))).toMatchObject({
      name: 'ShmringError',
      code: ErrorCode.UNSUPPORTED_PLATFORM,
      message: 'shmring supports Linux only (it needs memfd, futex and OFD locks); this is darwin',
    });
  });

  it('lists every path it tried with its error, and what to run', () => {
    const missing = ['/nonexistent/build/Release/shmring.node', `/nonexistent/prebuilds/shmring.abi${ABI}.node`];
    let error: Error & { code?: string } = new Error('not thrown');
    try {
      loadBinding(missing, '/nonexistent');
    } catch (err) {
      error = err as Error & { code?: string };
    }
    expect(error.code).toBe(ErrorCode.ADDON_NOT_LOADED);
    const lines = error.message.split('\n');
    expect(lines[0]).toBe(
      `shmring: could not load its native addon for Node ${process.version} (ABI ${ABI}, linux-${process.arch}). Tried:`,
    );
    expect(lines[1]).toBe(`  ${missing[0]}: Cannot find module '${missing[0]}'`);
    expect(lines[2]).toBe(`  ${missing[1]}: Cannot find module '${missing[1]}'`);
    expect(lines[3]).toBe(`No prebuilt addon for linux-${process.arch} in /nonexistent.`);
    expect(lines[4]).toBe(
      'To build it: run `npm rebuild shmring` in your project, or `npx cmake-js compile --out build` in /nonexistent ' +
        '(needs cmake >= 3.15, make or ninja, a C++20 compiler such as g++ >= 12, and the headers of the Node that ' +
        'runs it).',
    );
    expect(lines[5]).toBe(
      'npm 11 blocks the install scripts of dependencies by default: run `npm install-scripts approve shmring` ' +
        '(it records shmring in the "allowScripts" field of your package.json), then `npm rebuild shmring`.',
    );
  });

  it('skips a binary built for another Node ABI and takes the next candidate', () => {
    const good = { abiVersion: Number(ABI) };
    const load = (file: string): unknown => (file === 'old.node' ? { abiVersion: 93 } : good);
    expect(loadBinding(['old.node', 'new.node'], ROOT, 'linux', load)).toBe(good);
    expect(() => loadBinding(['old.node'], ROOT, 'linux', load)).toThrow(
      `  old.node: built for Node ABI 93, this is Node ${process.version} (ABI ${ABI})\n`,
    );
  });

  it('names the ABIs this copy has prebuilds for when none fits', () => {
    const root = tempDir();
    const dir = path.join(root, 'prebuilds', `linux-${process.arch}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const abi of [137, 115, 127]) fs.writeFileSync(path.join(dir, `shmring.abi${abi}.node`), '');
    fs.writeFileSync(path.join(dir, 'README'), '');
    expect(() => loadBinding([], root)).toThrow(
      `\nPrebuilt addons for linux-${process.arch} here are for Node ABIs 115, 127, 137 ` +
        '(Node 20 = 115, 22 = 127, 24 = 137, 26 = 147); other Node versions need a build.\n',
    );
  });

  it('loads a prebuild made by scripts/prebuild.js for the running Node (what prepack ships, one per line)', () => {
    const out = tempDir();
    const major = process.versions.node.split('.')[0];
    const printed = execFileSync(
      process.execPath,
      [path.join(ROOT, 'scripts', 'prebuild.js'), '--out', out, '--lines', major],
      { cwd: out },
    );
    const prebuilt = path.join(out, 'prebuilds', `linux-${process.arch}`, `shmring.abi${ABI}.node`);
    expect(printed.toString()).toMatch(
      new RegExp(
        `^shmring: prebuilt addon for Node ${major} \\(ABI ${ABI}\\) ` +
          `${path.relative(out, prebuilt).replace(/\./g, '\\.')} in \\d+\\.\\d s\n$`,
      ),
    );
    const native = loadBinding(['/nonexistent/shmring.node', prebuilt], out);
    expect(native.abiVersion).toBe(Number(ABI));
    expect(typeof native.map).toBe('function');
  });

  it('scripts/prebuild.js refuses a Node line shmring does not support', () => {
    const run = spawnSync(
      process.execPath,
      [path.join(ROOT, 'scripts', 'prebuild.js'), '--out', tempDir(), '--lines', '21'],
      { encoding: 'utf8' },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('Node 21 is not a supported line: major=21 (supported: 20, 22, 24, 26)\n');
  });
});
