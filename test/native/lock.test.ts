/**
 * OFD byte locks as liveness: held by an open file description, dropped by the kernel when the holder dies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding';
import { PAGE_LENGTH } from '../../lib/layout';
import { Segment } from '../../lib/segment';
import { spawnFixture, uniqueName, waitFor } from './helpers';

const native = binding();
const segments: Segment[] = [];

afterEach(() => {
  for (const segment of segments.splice(0)) segment.close();
});

function create(tag: string): { name: string; segment: Segment } {
  const name = uniqueName(tag);
  const segment = Segment.create(name, PAGE_LENGTH);
  segments.push(segment);
  return { name, segment };
}

function open(name: string): Segment {
  const segment = Segment.open(name);
  segments.push(segment);
  return segment;
}

describe('Segment#tryLock / isLocked', () => {
  it('a lock held by a live child blocks an exclusive tryLock until the child is SIGKILLed', async () => {
    const { name, segment } = create('lock');
    const child = spawnFixture('lock-holder.js', [name, '64']);
    expect(await child.line('locked')).toBe('locked true');
    expect(segment.tryLock(64, true)).toBe(false);
    expect(segment.tryLock(64, false)).toBe(false);
    expect(segment.isLocked(64)).toBe(true);
    expect(segment.isLocked(65)).toBe(false);
    child.process.kill('SIGKILL');
    await child.exited;
    await waitFor('the dead child’s lock to be released', () => segment.tryLock(64, true));
    expect(segment.isLocked(64)).toBe(false); // our own lock is not "another description's"
  });

  it('distinguishes open file descriptions within one process', () => {
    const { name, segment: a } = create('ofd');
    const b = open(name);
    expect(a.tryLock(0, true)).toBe(true);
    expect(a.tryLock(0, true)).toBe(true); // re-locking one's own byte succeeds
    expect(b.tryLock(0, true)).toBe(false);
    expect(b.tryLock(0, false)).toBe(false);
    expect(b.isLocked(0)).toBe(true);
    expect(a.isLocked(0)).toBe(false);
    a.unlock(0);
    expect(b.isLocked(0)).toBe(false);
    expect(a.tryLock(1, false)).toBe(true);
    expect(b.tryLock(1, false)).toBe(true); // shared locks coexist
    expect(a.tryLock(1, true)).toBe(false);
    expect(b.isLocked(1)).toBe(true);
  });

  it('close() releases the locks of the segment’s description', () => {
    const { name, segment: a } = create('close');
    const b = open(name);
    expect(a.tryLock(8, true)).toBe(true);
    a.close();
    expect(b.tryLock(8, true)).toBe(true);
  });

  it('an fd received from elsewhere shares the sender’s locks unless reopened', () => {
    const { segment } = create('passed');
    expect(segment.tryLock(0, true)).toBe(true);
    const [x, y] = native.socketPair();
    try {
      segment.sendTo(x);
      segment.sendTo(x);
      const first = native.recvFds(y, 16, 1, 1000).fds[0];
      const second = native.recvFds(y, 16, 1, 1000).fds[0];
      const same = Segment.fromFd(first, { reopen: false });
      segments.push(same);
      const own = Segment.fromFd(second);
      segments.push(own);
      expect(same.isLocked(0)).toBe(false); // same description as the holder
      expect(own.isLocked(0)).toBe(true);
      expect(own.tryLock(0, true)).toBe(false);
    } finally {
      native.closeFd(x);
      native.closeFd(y);
    }
  });

  it('validates offsets and the exclusive flag', () => {
    const { segment } = create('args');
    expect(() => segment.tryLock(-1, true)).toThrow(new RangeError('offset must be a non-negative integer: offset=-1'));
    expect(() => segment.isLocked(1.5)).toThrow(new RangeError('offset must be a non-negative integer: offset=1.5'));
    expect(() => segment.unlock(NaN)).toThrow(new RangeError('offset must be a non-negative integer: offset=NaN'));
    expect(() => segment.tryLock(0, 1 as unknown as boolean)).toThrow(
      new TypeError('exclusive must be a boolean: exclusive=1'),
    );
    expect(() => segment.sendTo(-3)).toThrow(
      new RangeError('socketFd must be a file descriptor (a non-negative integer): socketFd=-3'),
    );
  });

  it('reports fcntl failures as errno errors', () => {
    expect(() => native.tryLock(1_000_000, 0, true)).toThrow(
      expect.objectContaining({ code: 'EBADF', syscall: 'fcntl', message: 'EBADF: bad file descriptor, fcntl' }),
    );
  });
});
