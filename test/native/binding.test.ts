import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { binding, candidatePaths, loadBinding, packageRoot } from '../../lib/binding';
import { ErrorCode } from '../../lib/errors';

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
    for (const fn of ['openFile', 'reopenFd', 'closeFd', 'fstat', 'allocate', 'truncate', 'unlinkFile', 'memfdCreate',
      'sealSize', 'seals', 'map', 'unmap', 'socketPair', 'unixListen', 'unixAccept', 'unixConnect', 'sendFds', 'recvFds',
      'tryLock', 'unlock', 'isLocked', 'futexWait', 'futexWake', 'futexWaitMode', 'FutexWaiter'] as const) {
      expect(typeof native[fn], fn).toBe('function');
    }
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
    expect(() => packageRoot(dir)).toThrow(
      expect.objectContaining({
        code: ErrorCode.ADDON_NOT_LOADED,
        message: `shmring: no package.json named "shmring" above ${dir}`,
      }),
    );
  });
});

describe('loadBinding', () => {
  it('refuses other platforms', () => {
    expect(() => loadBinding([], ROOT, 'darwin')).toThrow(
      expect.objectContaining({
        name: 'ShmringError',
        code: ErrorCode.UNSUPPORTED_PLATFORM,
        message: 'shmring supports Linux only (it needs memfd, futex and OFD locks); this is darwin',
      }),
    );
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
    expect(lines[3]).toBe(
      'To build it: run `npm rebuild shmring` in your project, or `npx cmake-js compile --out build` in /nonexistent ' +
        '(needs cmake >= 3.15 and g++ with C++17).',
    );
    expect(lines[4]).toBe(
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

  it('loads a prebuild made by scripts/prebuild.js (what prepack ships)', () => {
    const out = tempDir();
    const printed = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'prebuild.js'), out], { cwd: out });
    const prebuilt = path.join(out, 'prebuilds', `linux-${process.arch}`, `shmring.abi${ABI}.node`);
    expect(printed.toString()).toBe(`shmring: prebuilt addon ${path.relative(out, prebuilt)}\n`);
    const native = loadBinding(['/nonexistent/shmring.node', prebuilt], out);
    expect(native.abiVersion).toBe(Number(ABI));
    expect(typeof native.map).toBe('function');
  });

  it('scripts/prebuild.js says what to run when there is nothing built', () => {
    const copy = tempDir();
    fs.mkdirSync(path.join(copy, 'scripts'));
    fs.copyFileSync(path.join(ROOT, 'scripts', 'prebuild.js'), path.join(copy, 'scripts', 'prebuild.js'));
    const run = spawnSync(process.execPath, [path.join(copy, 'scripts', 'prebuild.js')], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      `shmring: ${path.join(copy, 'build', 'Release', 'shmring.node')} is missing: build it first with ` +
        '`npx cmake-js compile --out build`\n',
    );
  });
});
