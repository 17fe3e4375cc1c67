import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Worker } from 'worker_threads';
import { describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding';
import { PAGE_LENGTH } from '../../lib/layout';
import { Segment } from '../../lib/segment';
import { connectedSockets, DIST_LIB, startChild, thrown, uniqueName, waitFor } from '../helpers/ring-env';

const native = binding();

describe('map', () => {
  it('gives a real SharedArrayBuffer whose writes another process sees, both ways', async () => {
    const name = uniqueName('peer');
    const segment = Segment.create(name, PAGE_LENGTH);
    try {
      const words = new Int32Array(segment.buffer);
      const peer = startChild('segment-peer.js', [name]);
      await peer.line('wrote');
      expect(Atomics.load(words, 1)).toBe(0xc0ffee);
      Atomics.store(words, 0, 42);
      segment.wake(0);
      expect(await peer.line('saw ')).toBe('saw 42');
      expect(await peer.exit(10_000)).toEqual({ code: 0, signal: null });
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
    const [a, b] = connectedSockets();
    try {
      expect(thrown(() => native.map(a, PAGE_LENGTH, false, false))).toMatchObject({
        code: 'ENODEV',
        syscall: 'mmap',
        message: 'ENODEV: no such device, mmap',
      });
    } finally {
      native.closeFd(a);
      native.closeFd(b);
    }
  });
});

describe('mapAlias', () => {
  it('is a plain ArrayBuffer over the same pages: bytes copied in through either view read back through the other', () => {
    const segment = Segment.createAnonymous(2 * PAGE_LENGTH);
    try {
      const alias = segment.alias;
      expect(alias).toBeInstanceOf(ArrayBuffer);
      expect(alias.byteLength).toBe(segment.buffer.byteLength);
      expect(segment.alias).toBe(alias); // mapped once
      const shared = new Uint8Array(segment.buffer);
      const plain = new Uint8Array(alias);
      const payload = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff);
      // Copies with set(), as the ring copies payloads; across the page boundary.
      plain.set(payload, PAGE_LENGTH - 100);
      expect(shared.slice(PAGE_LENGTH - 100, PAGE_LENGTH + 200)).toEqual(payload);
      shared.set(payload.reverse(), 8);
      expect(plain.slice(8, 308)).toEqual(payload);
      // An atomic store on the shared view is seen by a plain read of the alias, and the other way round.
      Atomics.store(new Int32Array(segment.buffer), 1, 0x5eed);
      expect(new Int32Array(alias)[1]).toBe(0x5eed);
      new Int32Array(alias)[2] = -7;
      expect(Atomics.load(new Int32Array(segment.buffer), 2)).toBe(-7);
    } finally {
      segment.close();
    }
  });

  it('is released with the segment: both views then read zeros, never fault, and no longer reach the file', () => {
    const name = uniqueName('alias-close');
    const segment = Segment.create(name, PAGE_LENGTH);
    const alias = segment.alias;
    const plain = new Uint8Array(alias);
    const shared = new Uint8Array(segment.buffer);
    plain.fill(0x11, 0, 64);
    segment.close();
    expect(plain.subarray(0, 64).every((b) => b === 0)).toBe(true);
    expect(shared.subarray(0, 64).every((b) => b === 0)).toBe(true);
    plain[0] = 0x22; // private zero pages now: harmless, and invisible to the file
    shared[1] = 0x33;
    expect([...fs.readFileSync(`/dev/shm/${name}`).subarray(0, 3)]).toEqual([0x11, 0x11, 0x11]);
    native.unmapAlias(alias); // idempotent
    expect(thrown(() => native.unmapAlias(new ArrayBuffer(PAGE_LENGTH)))).toMatchObject({
      name: 'TypeError',
      message: "buffer is not a mapping made by shmring's mapAlias()",
    });
  });

  it("carries bytes between this thread's alias and a worker's view of the SharedArrayBuffer", async () => {
    const segment = Segment.createAnonymous(PAGE_LENGTH);
    const worker = new Worker(
      `const { parentPort } = require('worker_threads');
       parentPort.once('message', (sab) => {
         const words = new Int32Array(sab);
         Atomics.wait(words, 0, 0, 10000); // word 0 becomes 1 once the payload is in
         const bytes = new Uint8Array(sab);
         parentPort.postMessage([...bytes.subarray(64, 64 + 32)]);
         for (let i = 0; i < 32; i++) bytes[128 + i] = 255 - i;
         Atomics.store(words, 0, 2);
       });`,
      { eval: true },
    );
    try {
      const received = new Promise<number[]>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      worker.postMessage(segment.buffer);
      const payload = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
      new Uint8Array(segment.alias).set(payload, 64);
      const words = new Int32Array(segment.buffer);
      Atomics.store(words, 0, 1); // the release that publishes the alias's bytes, as a commit does
      Atomics.notify(words, 0);
      expect(await received).toEqual([...payload]);
      await waitFor('the worker to write back', () => Atomics.load(words, 0) === 2);
      expect([...new Uint8Array(segment.alias, 128, 32)]).toEqual(Array.from({ length: 32 }, (_, i) => 255 - i));
    } finally {
      await worker.terminate();
      segment.close();
    }
  });

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
