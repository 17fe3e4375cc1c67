/**
 * Rings as real files in /dev/shm: creating (mode 0600, EEXIST, option validation), describing (ringInfo,
 * listRings, removeStaleRings in a private tmpfs directory), opening and the errors it reports for files that are
 * not (yet) good rings, unlinking, producer liveness, and worker threads sharing a ring with the main thread.
 * Hostile headers are written into the file with plain fs calls, as another process would.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Worker } from 'worker_threads';
import { describe, expect, it, vi } from 'vitest';
import {
  Publication,
  Subscription,
  createRing,
  listRings,
  removeStaleRings,
  ringInfo,
  unlinkRing,
  type ReliableSubscription,
} from '../../lib/index';
import { ErrorCode } from '../../lib/errors';
import * as L from '../../lib/layout';
import { DEFAULT_MAX_CONSUMERS } from '../../lib/ring-file';
import {
  closeAfterTest,
  DIST_INDEX,
  pokeInt32,
  privateShmDir,
  SHM_DIR,
  startChild,
  thrown,
  uniqueName,
} from '../helpers/ring-env';

function pathOf(name: string, dir = SHM_DIR): string {
  return path.join(dir, name);
}

function expectOpenError(name: string, code: string, message: string | RegExp, openTimeoutMs = 50): void {
  for (const open of [
    () => closeAfterTest(Subscription.open(name, { openTimeoutMs })),
    () => closeAfterTest(Publication.attach(name, { openTimeoutMs })),
    () => ringInfo(name, { openTimeoutMs }),
  ]) {
    const err = thrown(open);
    expect({ code: err.code, path: err.path }).toEqual({ code, path: pathOf(name) });
    if (typeof message === 'string') expect(err.message).toBe(message);
    else expect(err.message).toMatch(message);
  }
}

/** The message names the time left of openTimeoutMs when the file was mapped (at most openTimeoutMs). */
function notInitialised(name: string, openTimeoutMs = 50): RegExp {
  const within = Array.from({ length: 11 }, (_, i) => openTimeoutMs - i).join('|');
  return new RegExp(`^ring was not initialised within (${within}) ms: ${pathOf(name).replace(/[.]/g, '\\.')}$`);
}

describe('Publication.create', () => {
  it('creates /dev/shm/<name> with mode 0600 and the length the header implies', () => {
    const name = uniqueName('create');
    const pub = closeAfterTest(Publication.create(name, { capacity: 8192, maxConsumers: 40 }));
    const stat = fs.statSync(pathOf(name));
    expect(stat.mode & 0o777).toBe(0o600);
    expect(stat.size).toBe(L.fileLengthFor(L.MODE_RELIABLE, 8192, 40));
    expect(pub.memory.path).toBe(pathOf(name));
  });

  it('applies fileMode exactly, whatever the umask', () => {
    const name = uniqueName('mode');
    closeAfterTest(Publication.create(name, { capacity: 4096, fileMode: 0o640 }));
    expect(fs.statSync(pathOf(name)).mode & 0o777).toBe(0o640);
  });

  it('fails with EEXIST when the ring exists and leaves the existing ring working', () => {
    const name = uniqueName('eexist');
    const pub = closeAfterTest(Publication.create(name, { capacity: 4096 }));
    const sub = closeAfterTest(Subscription.open(name, { from: 'earliest' }));
    const err = thrown(() => closeAfterTest(Publication.create(name, { capacity: 4096 })));
    expect(err.code).toBe('EEXIST');
    expect(thrown(() => createRing(name)).code).toBe('EEXIST');
    expect(pub.offer(new Uint8Array([1, 2, 3]))).toBeGreaterThan(0);
    const got: number[][] = [];
    sub.poll((buffer, offset, length) => got.push([...buffer.subarray(offset, offset + length)]));
    expect(got).toEqual([[1, 2, 3]]);
  });

  it.each([
    [{ mode: 'lossy' }, TypeError, "mode must be 'reliable', 'broadcast' or 'many-to-one': mode=lossy"],
    [{ capacity: 1000 }, RangeError, 'capacity must be in [4096, 1073741824]: capacity=1000'],
    [{ capacity: 2 ** 31 }, RangeError, 'capacity must be in [4096, 1073741824]: capacity=2147483648'],
    [{ capacity: 12288 }, RangeError, 'capacity must be a power of two: capacity=12288'],
    [{ capacity: 4096.5 }, TypeError, 'capacity must be an integer: capacity=4096.5'],
    [{ capacity: '4096' }, TypeError, 'capacity must be an integer: capacity=4096'],
    [{ maxConsumers: 0 }, RangeError, 'maxConsumers must be in [1, 1024]: maxConsumers=0'],
    [{ maxConsumers: 1025 }, RangeError, 'maxConsumers must be in [1, 1024]: maxConsumers=1025'],
    [
      { capacity: 4096, maxMessageLength: 513 },
      RangeError,
      'maxMessageLength must be in [1, 512]: maxMessageLength=513',
    ],
    [{ capacity: 4096, maxMessageLength: 0 }, RangeError, 'maxMessageLength must be in [1, 512]: maxMessageLength=0'],
    [{ capacity: 4096, maxFramePayload: 0 }, RangeError, 'maxFramePayload must be in [1, 512]: maxFramePayload=0'],
    [
      { capacity: 4096, maxMessageLength: 100, maxFramePayload: 101 },
      RangeError,
      'maxFramePayload must be in [1, 100]: maxFramePayload=101',
    ],
    [
      { capacity: 4096, mode: 'broadcast', maxMessageLength: 100 },
      RangeError,
      'broadcast rings carry messages up to capacity/8=512: maxMessageLength=100',
    ],
    [
      { capacity: 4096, mode: 'broadcast', maxFramePayload: 100 },
      RangeError,
      'broadcast rings do not fragment: maxFramePayload=100',
    ],
    [{ capacity: 4096, fileMode: 0o10000 }, RangeError, 'mode must be an integer from 0 to 0o7777: mode=4096'],
  ])('refuses %j with a %o naming the value, and creates no file', (options, type, message) => {
    const name = uniqueName('options');
    const create = options as Parameters<typeof Publication.create>[1];
    for (const make of [() => closeAfterTest(Publication.create(name, create)), () => createRing(name, create)]) {
      const err = thrown(make);
      expect(err).toBeInstanceOf(type);
      expect(err.message).toBe(message);
      expect(fs.existsSync(pathOf(name))).toBe(false);
    }
  });
});

describe('Publication producer options', () => {
  it.each([
    [-1, RangeError, 'evictionTimeoutMs must be >= 0: evictionTimeoutMs=-1'],
    [Number.NaN, TypeError, 'evictionTimeoutMs must be a number: evictionTimeoutMs=NaN'],
    ['10', TypeError, 'evictionTimeoutMs must be a number: evictionTimeoutMs=10'],
  ])('refuses evictionTimeoutMs=%j with a %o before creating or attaching', (value, type, message) => {
    const name = uniqueName('eviction');
    const options = { capacity: 4096, evictionTimeoutMs: value as number };
    for (const make of [
      () => closeAfterTest(Publication.create(name, options)),
      () => closeAfterTest(Publication.attach(name, options)),
      () => closeAfterTest(Publication.createAnonymous(options)),
    ]) {
      const err = thrown(make);
      expect(err).toBeInstanceOf(type);
      expect(err.message).toBe(message);
      expect(fs.existsSync(pathOf(name))).toBe(false);
    }
  });
});

describe('ringInfo', () => {
  it('describes the header, the producer and each consumer', () => {
    const name = uniqueName('info');
    const before = Date.now();
    const pub = closeAfterTest(Publication.create(name, { capacity: 8192, maxConsumers: 3, maxFramePayload: 100 }));
    const joinedAt = 1_000_000; // the progress time the consumers note when they join
    const clock = vi.spyOn(Date, 'now').mockReturnValue(joinedAt);
    const a = closeAfterTest(Subscription.open(name, { from: 'earliest' }) as ReliableSubscription);
    const b = closeAfterTest(Subscription.open(name, { from: 'earliest' }) as ReliableSubscription);
    clock.mockRestore();
    for (let i = 0; i < 3; i++) pub.offer(new Uint8Array(8));
    a.poll(() => undefined);
    const info = ringInfo(name);
    expect(info).toEqual({
      mode: 'reliable',
      capacity: 8192,
      maxMessageLength: 1024,
      maxFramePayload: 100,
      maxConsumers: 3,
      dataOffset: L.dataOffsetFor(3),
      fileLength: L.fileLengthFor(L.MODE_RELIABLE, 8192, 3),
      createdAt: info.createdAt,
      creatorPid: process.pid,
      version: `${L.VERSION_MAJOR}.${L.VERSION_MINOR}`,
      path: pathOf(name),
      producerAlive: true,
      producerState: 'active',
      producerPid: process.pid,
      producerEpoch: 1,
      producerPosition: 0, // the checkpoint: published at the first limit refresh
      counters: { backPressureEvents: 0, evictedConsumers: 0, reapedConsumers: 0 },
      consumers: [
        {
          slot: 0,
          state: 'active',
          alive: true,
          position: 48,
          pid: process.pid,
          progressAt: joinedAt,
          blockedSince: 0,
          durable: null,
        },
        {
          slot: 1,
          state: 'active',
          alive: true,
          position: 0,
          pid: process.pid,
          progressAt: joinedAt,
          blockedSince: 0,
          durable: null,
        },
      ],
    });
    expect(info.createdAt).toBeGreaterThanOrEqual(before);
    expect(info.createdAt).toBeLessThanOrEqual(Date.now());
    b.close();
    pub.close();
    expect(ringInfo(name)).toMatchObject({
      producerAlive: false,
      producerState: 'closed',
      producerPosition: 48,
      consumers: [{ slot: 0, state: 'active', alive: true, position: 48, pid: process.pid, durable: null }],
    });
  });

  it("reports a broadcast ring's tail counter as the producer position", () => {
    const name = uniqueName('info-broadcast');
    const pub = closeAfterTest(Publication.create(name, { mode: 'broadcast', capacity: 4096 }));
    pub.offer(new Uint8Array(20));
    expect(ringInfo(name)).toMatchObject({
      mode: 'broadcast',
      maxMessageLength: 512,
      maxFramePayload: 512,
      fileLength: L.fileLengthFor(L.MODE_BROADCAST, 4096, DEFAULT_MAX_CONSUMERS),
      producerPosition: 32,
      consumers: [],
    });
  });
});

describe('createRing and Publication.attach', () => {
  it('creates a ring with no producer; attach makes one, and another after a clean close', () => {
    const name = uniqueName('attach');
    const info = createRing(name, { capacity: 4096 });
    expect(info).toMatchObject({
      producerAlive: false,
      producerState: 'none',
      producerEpoch: 0,
      producerPid: 0,
      path: pathOf(name),
    });
    expect(fs.statSync(pathOf(name)).mode & 0o777).toBe(0o600);
    const sub = closeAfterTest(Subscription.open(name, { from: 'earliest' }));
    expect(sub.producerAlive).toBe(false);
    expect(sub.producerClosed).toBe(false);
    const first = closeAfterTest(Publication.attach(name));
    expect(ringInfo(name)).toMatchObject({ producerAlive: true, producerState: 'active', producerEpoch: 1 });
    expect(sub.producerAlive).toBe(true);
    first.offer(new Uint8Array([1]));
    first.close();
    expect(sub.producerAlive).toBe(false);
    expect(sub.producerClosed).toBe(true);
    const second = closeAfterTest(Publication.attach(name));
    expect(ringInfo(name)).toMatchObject({ producerState: 'active', producerEpoch: 2 });
    expect(sub.producerClosed).toBe(false);
    expect(second.position).toBe(16);
    second.offer(new Uint8Array([2]));
    const got: number[] = [];
    while (sub.poll((buffer, offset) => got.push(buffer[offset])) > 0);
    expect(got).toEqual([1, 2]);
  });

  it('throws ERR_SHMRING_PRODUCER_EXISTS while another producer lives (even in this process)', () => {
    const name = uniqueName('exists');
    closeAfterTest(Publication.create(name, { capacity: 4096 }));
    const err = thrown(() => closeAfterTest(Publication.attach(name)));
    expect(err).toMatchObject({
      code: ErrorCode.PRODUCER_EXISTS,
      path: pathOf(name),
      message: `another live process is the producer of this ring: ${pathOf(name)}`,
    });
    expect(ringInfo(name).producerEpoch).toBe(1); // the refused attach changed nothing
  });

  it('attaches to a broadcast ring and continues from its tail counter', () => {
    const name = uniqueName('attach-broadcast');
    createRing(name, { mode: 'broadcast', capacity: 4096 });
    const first = Publication.attach(name);
    first.offer(new Uint8Array(10), 3);
    first.close();
    const second = closeAfterTest(Publication.attach(name));
    expect(second.mode).toBe('broadcast');
    expect(second.position).toBe(24);
  });
});

describe('Subscription.open', () => {
  it('throws ERR_SHMRING_NO_CONSUMER_SLOT when every slot has a live consumer, and reuses a freed slot', () => {
    const name = uniqueName('slots');
    closeAfterTest(Publication.create(name, { capacity: 4096, maxConsumers: 2 }));
    const first = Subscription.open(name) as ReliableSubscription;
    const second = closeAfterTest(Subscription.open(name) as ReliableSubscription);
    const err = thrown(() => closeAfterTest(Subscription.open(name)));
    expect({ code: err.code, message: err.message }).toEqual({
      code: ErrorCode.NO_CONSUMER_SLOT,
      message: 'all consumer slots are taken by live consumers: maxConsumers=2',
    });
    first.close();
    const third = closeAfterTest(Subscription.open(name) as ReliableSubscription);
    expect([second.slot, third.slot]).toEqual([1, 0]);
  });

  it('gives a slot whose consumer process was SIGKILLed to the next consumer', async () => {
    const name = uniqueName('dead-slot');
    closeAfterTest(Publication.create(name, { capacity: 4096, maxConsumers: 1 }));
    const child = startChild('ring/consumer.js', {
      name,
      run: { mode: 'reliable', seed: 1, minLength: 0, maxLength: 8 },
      count: 1_000_000,
    });
    expect(await child.json<{ slot: number }>('ready ')).toMatchObject({ slot: 0 });
    expect(thrown(() => closeAfterTest(Subscription.open(name))).code).toBe(ErrorCode.NO_CONSUMER_SLOT);
    child.process.kill('SIGKILL');
    await child.exit(5000);
    const sub = closeAfterTest(Subscription.open(name) as ReliableSubscription);
    expect(sub.slot).toBe(0);
  });

  it.each(['oldest', 'Latest', 1])('refuses from=%j with a TypeError before it joins', (from) => {
    const name = uniqueName('from');
    closeAfterTest(Publication.create(name, { capacity: 4096, maxConsumers: 1 }));
    const err = thrown(() => closeAfterTest(Subscription.open(name, { from: from as 'latest' })));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe(`from must be 'latest' or 'earliest': from=${String(from)}`);
    expect(ringInfo(name).consumers).toEqual([]);
    closeAfterTest(Subscription.open(name)); // the only slot is still free
  });

  it('throws ENOENT for a ring that does not exist', () => {
    const name = uniqueName('missing');
    const err = thrown(() => closeAfterTest(Subscription.open(name, { openTimeoutMs: 0 })));
    expect(err.code).toBe('ENOENT');
  });
});

describe('opening a file that is not a good ring', () => {
  it('refuses a foreign file with ERR_SHMRING_NOT_A_RING (bad magic)', () => {
    const name = uniqueName('foreign');
    fs.writeFileSync(pathOf(name), Buffer.alloc(8192, 'x'), { mode: 0o600 });
    expectOpenError(name, ErrorCode.NOT_A_RING, `not a shmring ring: bad magic 0x78787878: ${pathOf(name)}`);
  });

  it('refuses a file shorter than a page with ERR_SHMRING_NOT_A_RING', () => {
    const name = uniqueName('short');
    fs.writeFileSync(pathOf(name), Buffer.alloc(100, 1), { mode: 0o600 });
    expectOpenError(name, ErrorCode.NOT_A_RING, `not a shmring ring: file is 100 bytes: ${pathOf(name)}`);
  });

  it('refuses a truncated ring with ERR_SHMRING_NOT_A_RING', () => {
    const name = uniqueName('truncated');
    createRing(name, { capacity: 8192 });
    fs.truncateSync(pathOf(name), 4096);
    expectOpenError(
      name,
      ErrorCode.NOT_A_RING,
      `ring file is truncated: size=4096 expected=${L.fileLengthFor(L.MODE_RELIABLE, 8192, 16)}: ${pathOf(name)}`,
    );
  });

  it('refuses another major version with ERR_SHMRING_VERSION_MISMATCH showing both; accepts another minor', () => {
    const name = uniqueName('version');
    createRing(name, { capacity: 4096 });
    pokeInt32(pathOf(name), L.VERSION_OFFSET, (1 << 16) | 0);
    expectOpenError(
      name,
      ErrorCode.VERSION_MISMATCH,
      `incompatible ring layout: app=${L.VERSION_MAJOR}.${L.VERSION_MINOR} file=1.0: ${pathOf(name)}`,
    );
    pokeInt32(pathOf(name), L.VERSION_OFFSET, (2 << 16) | 7);
    expect(ringInfo(name).version).toBe('2.7');
  });

  it.each([
    ['mode', L.MODE_OFFSET, 4],
    ['mode', L.MODE_OFFSET, 0],
    ['capacity', L.CAPACITY_OFFSET, 1000],
    ['capacity', L.CAPACITY_OFFSET, 6144],
    ['capacity', L.CAPACITY_OFFSET, -8192],
    ['capacity', L.CAPACITY_OFFSET, 2 ** 30 * 2 - 1],
    ['maxConsumers', L.MAX_CONSUMERS_OFFSET, 0],
    ['maxConsumers', L.MAX_CONSUMERS_OFFSET, 1025],
    ['dataOffset', L.DATA_OFFSET_OFFSET, 8192],
    ['dataOffset', L.DATA_OFFSET_OFFSET, 0],
    ['fileLength', L.FILE_LENGTH_OFFSET, 1 << 30],
    ['fileLength', L.FILE_LENGTH_OFFSET, 4096],
    ['maxMessageLength', L.MAX_MESSAGE_LENGTH_OFFSET, 0],
    ['maxMessageLength', L.MAX_MESSAGE_LENGTH_OFFSET, 1025],
    ['maxFramePayload', L.MAX_FRAME_PAYLOAD_OFFSET, 0],
    ['maxFramePayload', L.MAX_FRAME_PAYLOAD_OFFSET, 1025],
  ])('refuses an impossible header value with ERR_SHMRING_CORRUPT: %s=%i', (field, offset, value) => {
    const name = uniqueName('corrupt');
    createRing(name, { capacity: 8192 }); // maxMessageLength 1024
    pokeInt32(pathOf(name), offset, value);
    expectOpenError(name, ErrorCode.CORRUPT, `ring is corrupt: ${field}=${value}`);
  });

  it('waits for a creator that has not written the version word, then throws ERR_SHMRING_NOT_READY', () => {
    const zeros = uniqueName('zeros');
    fs.writeFileSync(pathOf(zeros), Buffer.alloc(8192), { mode: 0o600 });
    const started = Date.now();
    expectOpenError(zeros, ErrorCode.NOT_READY, notInitialised(zeros));
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 50);
    const unversioned = uniqueName('unversioned');
    createRing(unversioned, { capacity: 4096 });
    pokeInt32(pathOf(unversioned), L.VERSION_OFFSET, 0); // magic written, version (the ready signal) not yet
    expectOpenError(unversioned, ErrorCode.NOT_READY, notInitialised(unversioned));
  });

  it('throws ERR_SHMRING_NOT_READY for a file its creator has not sized yet', () => {
    const name = uniqueName('empty');
    fs.writeFileSync(pathOf(name), Buffer.alloc(0), { mode: 0o600 });
    expectOpenError(name, ErrorCode.NOT_READY, `${pathOf(name)} has size 0: its creator has not sized it yet (retry)`);
  });

  it('opens a ring whose creator publishes the version word while it waits', async () => {
    const name = uniqueName('late');
    createRing(name, { capacity: 4096 });
    pokeInt32(pathOf(name), L.VERSION_OFFSET, 0);
    // Another process finishes the header 150 ms from now; open waits (blocking this thread) up to 5 s.
    const creator = startChild('ring/poke.js', {
      file: pathOf(name),
      offset: L.VERSION_OFFSET,
      value: L.LAYOUT_VERSION,
      afterMs: 150,
    });
    await creator.line('waiting ');
    const started = Date.now();
    const sub = closeAfterTest(Subscription.open(name, { openTimeoutMs: 5000 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(sub.mode).toBe('reliable');
    expect(await creator.exit(5000)).toEqual({ code: 0, signal: null });
  });
});

describe('unlinkRing', () => {
  it('removes the file; processes that have it mapped keep using it', () => {
    const name = uniqueName('unlink');
    const pub = closeAfterTest(Publication.create(name, { capacity: 4096 }));
    const sub = closeAfterTest(Subscription.open(name, { from: 'earliest' }));
    unlinkRing(name);
    expect(fs.existsSync(pathOf(name))).toBe(false);
    expect(pub.offer(new Uint8Array([42]))).toBeGreaterThan(0);
    const got: number[] = [];
    sub.poll((buffer, offset) => got.push(buffer[offset]));
    expect(got).toEqual([42]);
    expect(thrown(() => unlinkRing(name)).code).toBe('ENOENT');
    expect(thrown(() => Publication.unlink(name)).code).toBe('ENOENT');
    // The name is free again.
    closeAfterTest(Publication.create(name, { capacity: 4096 }));
    Publication.unlink(name);
    expect(fs.existsSync(pathOf(name))).toBe(false);
  });
});

describe('listRings and removeStaleRings', () => {
  it('lists the rings of a directory, skips foreign files, and removes only the stale ones', () => {
    const dir = privateShmDir('list');
    createRing('stale', { dir, capacity: 4096 });
    createRing('stale-broadcast', { dir, mode: 'broadcast', capacity: 4096 });
    closeAfterTest(Publication.create('live', { dir, capacity: 4096 }));
    createRing('consumed', { dir, capacity: 4096 });
    closeAfterTest(Subscription.open('consumed', { dir }));
    createRing('future', { dir, capacity: 4096 });
    pokeInt32(path.join(dir, 'future'), L.VERSION_OFFSET, 3 << 16);
    fs.writeFileSync(path.join(dir, 'foreign'), Buffer.alloc(8192, 'x'));
    const listing = listRings({ dir }).sort((a, b) => a.name.localeCompare(b.name));
    expect(listing).toEqual([
      { name: 'consumed', path: path.join(dir, 'consumed'), mode: 'reliable', producerAlive: false, stale: false },
      {
        name: 'future',
        path: path.join(dir, 'future'),
        mode: null,
        producerAlive: false,
        stale: false,
        error: `incompatible ring layout: app=${L.VERSION_MAJOR}.${L.VERSION_MINOR} file=3.0: ${path.join(dir, 'future')}`,
      },
      { name: 'live', path: path.join(dir, 'live'), mode: 'reliable', producerAlive: true, stale: false },
      { name: 'stale', path: path.join(dir, 'stale'), mode: 'reliable', producerAlive: false, stale: true },
      {
        name: 'stale-broadcast',
        path: path.join(dir, 'stale-broadcast'),
        mode: 'broadcast',
        producerAlive: false,
        stale: true,
      },
    ]);
    expect(removeStaleRings({ dir, olderThanMs: 60_000 })).toEqual([]); // all created just now
    expect(removeStaleRings({ dir }).sort()).toEqual(['stale', 'stale-broadcast']);
    expect(fs.readdirSync(dir).sort()).toEqual(['consumed', 'foreign', 'future', 'live']);
  });

  it("reports a ring it may not open with error: 'permission' instead of omitting it", () => {
    const dir = privateShmDir('permission');
    fs.chmodSync(dir, 0o755);
    createRing('shared', { dir, capacity: 4096, fileMode: 0o666 });
    createRing('private', { dir, capacity: 4096, fileMode: 0o600 });
    // Root opens any file: list as another user then (nobody), else as ourselves with the file's mode bits at 0.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) fs.chmodSync(path.join(dir, 'private'), 0o000);
    const script = `console.log(JSON.stringify(require(${JSON.stringify(DIST_INDEX)}).listRings({ dir: ${JSON.stringify(
      dir,
    )} })))`;
    const child = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    expect({ status: child.status, stderr: child.stderr }).toEqual({ status: 0, stderr: '' });
    const listing = (JSON.parse(child.stdout) as Array<{ name: string }>).sort((a, b) => a.name.localeCompare(b.name));
    expect(listing).toEqual([
      {
        name: 'private',
        path: path.join(dir, 'private'),
        mode: null,
        producerAlive: false,
        stale: false,
        error: 'permission',
      },
      { name: 'shared', path: path.join(dir, 'shared'), mode: 'reliable', producerAlive: false, stale: true },
    ]);
  });
});

describe('a world-writable ring directory', () => {
  it('is refused without the sticky bit (another user could replace a ring in it) with ERR_SHMRING_UNSAFE_DIRECTORY', () => {
    const dir = privateShmDir('world-writable');
    createRing('ring', { dir, capacity: 4096 });
    fs.chmodSync(dir, 0o777);
    const message =
      `${dir} is writable by every user without the sticky bit (mode 0o777): another user can ` +
      'replace or remove a ring in it; use a directory only its owner can write (mode 0o700), or set the sticky ' +
      'bit (chmod +t) as /dev/shm has';
    for (const call of [
      () => closeAfterTest(Publication.create('new', { dir, capacity: 4096 })),
      () => createRing('other', { dir, capacity: 4096 }),
      () => closeAfterTest(Publication.attach('ring', { dir })),
      () => closeAfterTest(Subscription.open('ring', { dir })),
      () => ringInfo('ring', { dir }),
      () => listRings({ dir }),
      () => removeStaleRings({ dir }),
    ]) {
      const err = thrown(call);
      expect({ code: err.code, path: err.path, message: err.message }).toEqual({
        code: ErrorCode.UNSAFE_DIRECTORY,
        path: dir,
        message,
      });
    }
    expect(fs.readdirSync(dir)).toEqual(['ring']);
  });

  it('is accepted with the sticky bit, as /dev/shm and /tmp are', () => {
    const dir = privateShmDir('sticky');
    fs.chmodSync(dir, 0o1777);
    createRing('ring', { dir, capacity: 4096 });
    closeAfterTest(Publication.attach('ring', { dir }));
    closeAfterTest(Subscription.open('ring', { dir }));
    expect(listRings({ dir }).map((r) => r.name)).toEqual(['ring']);
  });
});

describe('rings shared with worker threads', () => {
  const COUNT = 2000;
  const workerScript = (role: 'consumer' | 'producer', name: string): string => `
    const { parentPort } = require('worker_threads');
    const { Publication, Subscription } = require(${JSON.stringify(DIST_INDEX)});
    const deadline = Date.now() + 15000;
    const message = (i) => Uint8Array.from({ length: 1 + (i % 200) }, (_, k) => (i + k) & 0xff);
    if (${JSON.stringify(role)} === 'consumer') {
      const sub = Subscription.open(${JSON.stringify(name)}, { from: 'earliest' });
      parentPort.postMessage({ ready: true });
      let next = 0, bad = 0;
      while (next < ${COUNT} && Date.now() < deadline) {
        if (sub.poll((buffer, offset, length, typeId) => {
          const expected = message(next);
          if (typeId !== next % 1000 || length !== expected.length ||
              expected.some((b, k) => buffer[offset + k] !== b)) bad++;
          next++;
        }, 50) === 0) sub.waitSync(100);
      }
      sub.close();
      parentPort.postMessage({ received: next, bad });
    } else {
      const pub = Publication.attach(${JSON.stringify(name)});
      let i = 0;
      while (i < ${COUNT} && Date.now() < deadline) {
        if (pub.offer(message(i), i % 1000) >= 0) i++;
        else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 0.1);
      }
      pub.close();
      parentPort.postMessage({ sent: i });
    }`;

  function runWorker(
    role: 'consumer' | 'producer',
    name: string,
  ): { worker: Worker; results: unknown[]; next(): Promise<Record<string, unknown>> } {
    const worker = new Worker(workerScript(role, name), { eval: true });
    const results: unknown[] = [];
    const waiting: Array<(value: Record<string, unknown>) => void> = [];
    worker.on('message', (m: Record<string, unknown>) => {
      const w = waiting.shift();
      if (w) w(m);
      else results.push(m);
    });
    closeAfterTest({ close: () => void worker.terminate() });
    return {
      worker,
      results,
      next: () =>
        new Promise((resolve, reject) => {
          if (results.length > 0) return resolve(results.shift() as Record<string, unknown>);
          const timer = setTimeout(() => reject(new Error(`${role} worker sent nothing within 20 s`)), 20_000);
          worker.once('error', (err) => {
            clearTimeout(timer);
            reject(err);
          });
          waiting.push((m) => {
            clearTimeout(timer);
            resolve(m);
          });
        }),
    };
  }

  const message = (i: number): Uint8Array => Uint8Array.from({ length: 1 + (i % 200) }, (_, k) => (i + k) & 0xff);

  it('a worker opens the ring by name and consumes what the main thread produces', async () => {
    const name = uniqueName('worker-consumer');
    const pub = closeAfterTest(Publication.create(name, { capacity: 8192 }));
    const consumer = runWorker('consumer', name);
    expect(await consumer.next()).toEqual({ ready: true });
    const deadline = Date.now() + 15_000;
    for (let i = 0; i < COUNT;) {
      if (pub.offer(message(i), i % 1000) >= 0) i++;
      else if (Date.now() > deadline) throw new Error('back-pressured past the deadline');
      else await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await consumer.next()).toEqual({ received: COUNT, bad: 0 });
  });

  it('the main thread consumes what a worker produces', async () => {
    const name = uniqueName('worker-producer');
    createRing(name, { capacity: 8192 });
    const sub = closeAfterTest(Subscription.open(name, { from: 'earliest' }));
    const producer = runWorker('producer', name);
    let next = 0;
    let bad = 0;
    const deadline = Date.now() + 15_000;
    while (next < COUNT && Date.now() < deadline) {
      const n = sub.poll((buffer, offset, length, typeId) => {
        const expected = message(next);
        if (typeId !== next % 1000 || length !== expected.length || expected.some((b, k) => buffer[offset + k] !== b))
          bad++;
        next++;
      }, 50);
      if (n === 0) await sub.wait({ timeoutMs: 100 });
    }
    expect({ next, bad }).toEqual({ next: COUNT, bad: 0 });
    expect(await producer.next()).toEqual({ sent: COUNT });
  });
});
