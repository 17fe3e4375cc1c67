import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding';
import { ErrorCode } from '../../lib/errors';
import { PAGE_LENGTH } from '../../lib/layout';
import { Segment } from '../../lib/segment';
import { exitWithin, openFdCount, spawnFixture } from './helpers';

const native = binding();
const cleanups: Array<() => void> = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function closeLater(...fds: number[]): void {
  cleanups.push(() => {
    for (const fd of fds) {
      try {
        native.closeFd(fd);
      } catch {
        // already closed by the test
      }
    }
  });
}

function anonymous(): Segment {
  const segment = Segment.createAnonymous(PAGE_LENGTH);
  cleanups.push(() => segment.close());
  return segment;
}

function socketDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-sock-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function thrown(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error('expected a throw');
}

describe('sendFds / recvFds', () => {
  it('pass a memfd within a process: a new fd of the same file, close-on-exec', () => {
    const segment = anonymous();
    const [a, b] = native.socketPair();
    closeLater(a, b);
    segment.sendTo(a);
    const { data, fds } = native.recvFds(b, 64, 4, 1000);
    closeLater(...fds);
    expect(data.toString()).toBe('shmring');
    expect(fds).toHaveLength(1);
    expect(fds[0]).not.toBe(segment.fd);
    expect(native.fstat(fds[0]).ino).toBe(native.fstat(segment.fd).ino);
    const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fds[0]}`, 'utf8'))?.[1] ?? '0';
    expect(parseInt(flags, 8) & 0o2000000).toBe(0o2000000);
  });

  it('give a child the same memory through an inherited socketpair', async () => {
    const segment = anonymous();
    const [a, b] = native.socketPair();
    closeLater(a, b);
    const child = spawnFixture('fd-receiver.js', ['inherit'], { stdio: ['ignore', 'pipe', 'pipe', b] });
    segment.sendTo(a);
    expect(await child.line('received')).toBe('received 1 shmring');
    await child.line('wrote');
    expect(Atomics.load(new Int32Array(segment.buffer), 0)).toBe(100);
    expect(await exitWithin(child, 10_000)).toEqual({ code: 0, signal: null });
  });

  it('send several fds in one message', async () => {
    const segments = [anonymous(), anonymous(), anonymous()];
    const [a, b] = native.socketPair();
    closeLater(a, b);
    const child = spawnFixture('fd-receiver.js', ['inherit'], { stdio: ['ignore', 'pipe', 'pipe', b] });
    native.sendFds(
      a,
      Buffer.from('three'),
      segments.map((s) => s.fd),
    );
    expect(await child.line('received')).toBe('received 3 three');
    await child.line('wrote');
    expect(segments.map((s) => Atomics.load(new Int32Array(s.buffer), 0))).toEqual([100, 101, 102]);
    await exitWithin(child, 10_000);
  });

  it('close every received fd and throw when more arrive than maxFds (MSG_CTRUNC)', () => {
    const segments = [anonymous(), anonymous(), anonymous()];
    const [a, b] = native.socketPair();
    closeLater(a, b);
    const before = openFdCount();
    native.sendFds(
      a,
      Buffer.from('x'),
      segments.map((s) => s.fd),
    );
    expect(thrown(() => native.recvFds(b, 64, 1, 1000))).toMatchObject({
      code: ErrorCode.FDS_TRUNCATED,
      message:
        'received more file descriptors than maxFds=1 (MSG_CTRUNC); closed the 1 that arrived, the kernel dropped the rest',
    });
    expect(openFdCount()).toBe(before);
    // Two fds fit in CMSG_SPACE(one int) because of padding: maxFds must still mean one.
    native.sendFds(a, Buffer.from('x'), [segments[0].fd, segments[1].fd]);
    expect(thrown(() => native.recvFds(b, 64, 1, 1000))).toMatchObject({ code: ErrorCode.FDS_TRUNCATED });
    expect(openFdCount()).toBe(before);
    native.sendFds(a, Buffer.from('y'), [segments[0].fd]);
    expect(thrown(() => native.recvFds(b, 64, 0, 1000))).toMatchObject({
      code: ErrorCode.FDS_TRUNCATED,
      message:
        'received more file descriptors than maxFds=0 (MSG_CTRUNC); closed the 0 that arrived, the kernel dropped the rest',
    });
    expect(openFdCount()).toBe(before);
  });

  it('time out with ETIMEDOUT, and report EOF as empty data', () => {
    const [a, b] = native.socketPair();
    closeLater(b);
    const started = performance.now();
    expect(thrown(() => native.recvFds(b, 64, 1, 50))).toMatchObject({
      code: 'ETIMEDOUT',
      syscall: 'recvmsg',
      message: 'ETIMEDOUT: connection timed out, recvmsg',
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(49);
    native.closeFd(a);
    const eof = native.recvFds(b, 64, 1, 1000);
    expect(eof.data.length).toBe(0);
    expect(eof.fds).toEqual([]);
  });

  it('refuse empty data (the fds would be dropped) and more than 253 fds', () => {
    const segment = anonymous();
    const [a, b] = native.socketPair();
    closeLater(a, b);
    expect(() => native.sendFds(a, Buffer.alloc(0), [segment.fd])).toThrow(
      new RangeError('data must not be empty: the fds travel with its first byte'),
    );
    expect(thrown(() => native.sendFds(a, Buffer.from('x'), new Array(254).fill(segment.fd)))).toMatchObject({
      code: 'EINVAL',
      syscall: 'sendmsg',
    });
  });

  it('report a send to a closed peer as EPIPE (no SIGPIPE)', () => {
    const segment = anonymous();
    const [a, b] = native.socketPair();
    closeLater(a);
    native.closeFd(b);
    expect(thrown(() => segment.sendTo(a))).toMatchObject({ code: 'EPIPE', syscall: 'sendmsg' });
  });
});

describe('unixListen / unixAccept / unixConnect', () => {
  it('let a child connect by path and receive a segment', async () => {
    const file = path.join(socketDir(), 'ring.sock');
    const listener = native.unixListen(file, 4);
    closeLater(listener);
    const segment = anonymous();
    const child = spawnFixture('fd-receiver.js', ['connect', file]);
    const connection = native.unixAccept(listener, 10_000);
    closeLater(connection);
    segment.sendTo(connection);
    await child.line('wrote');
    expect(Atomics.load(new Int32Array(segment.buffer), 0)).toBe(100);
    expect(await exitWithin(child, 10_000)).toEqual({ code: 0, signal: null });
  });

  it('time out an accept with ETIMEDOUT', () => {
    const listener = native.unixListen(path.join(socketDir(), 'idle.sock'), 1);
    closeLater(listener);
    expect(thrown(() => native.unixAccept(listener, 30))).toMatchObject({
      code: 'ETIMEDOUT',
      syscall: 'accept',
      message: 'ETIMEDOUT: connection timed out, accept',
    });
  });

  it('report a missing, refused or too long path with the path', () => {
    const dir = socketDir();
    const missing = path.join(dir, 'missing.sock');
    expect(thrown(() => native.unixConnect(missing, 100))).toMatchObject({
      code: 'ENOENT',
      syscall: 'connect',
      path: missing,
      message: `ENOENT: no such file or directory, connect '${missing}'`,
    });
    const stale = path.join(dir, 'stale.sock');
    native.closeFd(native.unixListen(stale, 1)); // the socket file stays, nobody listens
    expect(thrown(() => native.unixConnect(stale, 100))).toMatchObject({ code: 'ECONNREFUSED', path: stale });
    expect(thrown(() => native.unixListen(stale, 1))).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    const long = path.join(dir, 'x'.repeat(120));
    expect(thrown(() => native.unixListen(long, 1))).toMatchObject({
      code: 'ENAMETOOLONG',
      syscall: 'bind',
      path: long,
    });
  });

  it('time out a connect to a full backlog with ETIMEDOUT', () => {
    const file = path.join(socketDir(), 'full.sock');
    const listener = native.unixListen(file, 0);
    closeLater(listener);
    // Fill the backlog (never accepted); a further connect then has to wait for room.
    let timedOut: Record<string, unknown> | null = null;
    for (let i = 0; i < 8 && timedOut === null; i++) {
      try {
        closeLater(native.unixConnect(file, 50));
      } catch (err) {
        timedOut = err as Record<string, unknown>;
      }
    }
    expect(timedOut).toMatchObject({ code: 'ETIMEDOUT', syscall: 'connect', path: file });
  });
});
