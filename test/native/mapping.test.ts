import { Worker } from 'worker_threads';
import { describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding';
import { PAGE_SIZE, Segment } from '../../lib/segment';
import { exitWithin, spawnFixture, uniqueName } from './helpers';

const native = binding();

describe('map', () => {
  it('gives a real SharedArrayBuffer whose writes another process sees, both ways', async () => {
    const name = uniqueName('peer');
    const segment = Segment.create(name, PAGE_SIZE);
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
    const segment = Segment.createAnonymous(PAGE_SIZE);
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
      expect(() => native.map(a, PAGE_SIZE, false, false)).toThrow(
        expect.objectContaining({ code: 'ENODEV', syscall: 'mmap', message: 'ENODEV: no such device, mmap' }),
      );
    } finally {
      native.closeFd(a);
      native.closeFd(b);
    }
  });
});

describe('unmap', () => {
  it('zeroes this mapping in place, never faults, and is idempotent', () => {
    const segment = Segment.createAnonymous(2 * PAGE_SIZE);
    const bytes = new Uint8Array(segment.buffer);
    bytes.fill(0xab);
    native.unmap(segment.buffer);
    native.unmap(segment.buffer);
    expect(bytes.every((b) => b === 0)).toBe(true);
    bytes[PAGE_SIZE + 5] = 1;
    expect(Atomics.add(new Int32Array(segment.buffer), 0, 1)).toBe(0);
    expect(segment.buffer.byteLength).toBe(2 * PAGE_SIZE);
    segment.close(); // unmaps again (a no-op) and closes the fd
  });

  it('refuses buffers it did not map', () => {
    const message = "buffer is not a mapping made by shmring's map()";
    expect(() => native.unmap(new SharedArrayBuffer(PAGE_SIZE))).toThrow(new TypeError(message));
    expect(() => native.unmap(new ArrayBuffer(8) as unknown as SharedArrayBuffer)).toThrow(
      new TypeError('buffer must be a SharedArrayBuffer'),
    );
  });
});
