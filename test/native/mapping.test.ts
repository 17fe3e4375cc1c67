import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Worker } from 'worker_threads';
import { describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding';
import { PAGE_LENGTH } from '../../lib/layout';
import { Segment } from '../../lib/segment';
import { DIST_LIB, exitWithin, spawnFixture, uniqueName } from './helpers';

const native = binding();

describe('map', () => {
  it('gives a real SharedArrayBuffer whose writes another process sees, both ways', async () => {
    const name = uniqueName('peer');
    const segment = Segment.create(name, PAGE_LENGTH);
    try {
      const words = new Int32Array(segment.buffer);
      const peer = spawnFixture('segment-peer.js', [name]);
      await peer.line('wrote');
      expect(Atomics.load(words, 1)).toBe(0xc0ffee);
      Atomics.store(words, 0, 42);
      segment.wake(0);
      expect(await peer.line('saw ')).toBe('saw 42');
      expect(await exitWithin(peer, 10_000)).toEqual({ code: 0, signal: null });
    } finally {
      segment.close();
    }
  });

  it('shares the memory with a worker thread it is posted to', async () => {
    const segment = Segment.createAnonymous(PAGE_LENGTH);
    try {
      const worker = new Worker(
        `const { parentPort } = require('worker_threads');
         parentPort.once('message', (sab) => {
           const words = new Int32Array(sab);
           parentPort.postMessage(Atomics.load(words, 0));
           Atomics.store(words, 1, 77);
           parentPort.postMessage('done');
         });`,
        { eval: true },
      );
      try {
        Atomics.store(new Int32Array(segment.buffer), 0, 31);
        const messages: unknown[] = [];
        const done = new Promise<void>((resolve, reject) => {
          worker.on('message', (m) => (m === 'done' ? resolve() : messages.push(m)));
          worker.on('error', reject);
        });
        worker.postMessage(segment.buffer);
        await done;
        expect(messages).toEqual([31]);
        expect(Atomics.load(new Int32Array(segment.buffer), 1)).toBe(77);
      } finally {
        await worker.terminate();
      }
    } finally {
      segment.close();
    }
  });

  it('reports mmap failures as errno errors', () => {
    const [a, b] = native.socketPair();
    try {
      expect(() => native.map(a, PAGE_LENGTH, false, false)).toThrow(
        expect.objectContaining({ code: 'ENODEV', syscall: 'mmap', message: 'ENODEV: no such device, mmap' }),
      );
    } finally {
      native.closeFd(a);
      native.closeFd(b);
    }
  });
});

describe('mapAlias', () => {
  it('refuses a length no typed array can view (over 4 GiB) with a RangeError instead of aborting', () => {
    const name = uniqueName('huge-alias');
    const file = `/dev/shm/${name}`;
    fs.writeFileSync(file, '', { mode: 0o600 });
    fs.truncateSync(file, 2 ** 32 + PAGE_LENGTH); // sparse: no memory is used
    // In a child: before the fix this was a double free (SIGABRT) that would take the test runner down with it.
    const script = `
      const { binding } = require(${JSON.stringify(path.join(DIST_LIB, 'binding.js'))});
      const native = binding();
      const fd = native.openFile(${JSON.stringify(file)}, false, 0);
      try { native.mapAlias(fd, ${2 ** 32 + PAGE_LENGTH}); console.log('mapped'); }
      catch (err) { console.log(err.constructor.name + ': ' + err.message); }
      native.closeFd(fd);`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect({ status: child.status, signal: child.signal, stdout: child.stdout }).toEqual({
      status: 0,
      signal: null,
      stdout: `RangeError: length must be at most ${2 ** 32} bytes for an alias: length=${2 ** 32 + PAGE_LENGTH}\n`,
    });
  });
});

describe('unmap', () => {
  it('zeroes this mapping in place, never faults, and is idempotent', () => {
    const segment = Segment.createAnonymous(2 * PAGE_LENGTH);
    const bytes = new Uint8Array(segment.buffer);
    bytes.fill(0xab);
    native.unmap(segment.buffer);
    native.unmap(segment.buffer);
    expect(bytes.every((b) => b === 0)).toBe(true);
    bytes[PAGE_LENGTH + 5] = 1;
    expect(Atomics.add(new Int32Array(segment.buffer), 0, 1)).toBe(0);
    expect(segment.buffer.byteLength).toBe(2 * PAGE_LENGTH);
    segment.close(); // unmaps again (a no-op) and closes the fd
  });

  it('refuses buffers it did not map', () => {
    const message = "buffer is not a mapping made by shmring's map()";
    expect(() => native.unmap(new SharedArrayBuffer(PAGE_LENGTH))).toThrow(new TypeError(message));
    expect(() => native.unmap(new ArrayBuffer(8) as unknown as SharedArrayBuffer)).toThrow(
      new TypeError('buffer must be a SharedArrayBuffer'),
    );
  });
});
