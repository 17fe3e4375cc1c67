/**
 * `shmring create`, `rm` and `gc` on real ring files: gc removes only what no live process uses (kernel locks, not
 * pids), --dry-run removes nothing, --older-than spares new rings; rm refuses files that are not rings and rings in
 * use (unless --force).
 */
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { Publication, Subscription, createRing, ringInfo } from '../../lib/index';
import * as L from '../../lib/layout';
import { closeAfterTest, privateShmDir } from '../helpers/ring-env';
import { command, shmring, startProducer } from './cli-env';

/** A producer process that published a little and exited without closing. */
async function deadRing(name: string, dir: string): Promise<void> {
  const producer = await startProducer(name, dir);
  await command(producer, 'send 1 x', 'sent');
  producer.send('die');
  await producer.exit();
}

describe('shmring create', () => {
  it('creates a ring with no producer, of the mode and capacity asked', async () => {
    const dir = privateShmDir('cli-create');
    const result = await shmring(['create', 'orders', '--capacity', '64k', '--mode', 'broadcast', '--dir', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `created ${dir}/orders: broadcast, capacity 64 KiB, max message 8 KiB, ` + 'file 72 KiB\n',
    );
    expect(ringInfo('orders', { dir })).toMatchObject({ mode: 'broadcast', capacity: 1 << 16, producerAlive: false });
  });

  it('creates a many-to-one ring that producers join with Publication.open and its consumer with Subscription.open', async () => {
    const dir = privateShmDir('cli-create-m2o');
    const result = await shmring(['create', 'requests', '--capacity', '64k', '--mode', 'many-to-one', '--dir', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^created ${dir}/requests: many-to-one, capacity 64 KiB, `));
    expect(ringInfo('requests', { dir })).toMatchObject({ mode: 'many-to-one', capacity: 1 << 16 });
    const consumer = closeAfterTest(Subscription.open('requests', { dir }));
    const producer = closeAfterTest(Publication.open('requests', { dir }));
    expect(producer.offer(Buffer.from('ping'), 7)).toBeGreaterThan(0);
    const got: string[] = [];
    consumer.poll((buffer, offset, length, typeId) => {
      got.push(`${typeId}:${Buffer.from(buffer.buffer, buffer.byteOffset + offset, length).toString()}`);
    });
    expect(got).toEqual(['7:ping']);
  });

  it('refuses a name that exists (exit 7) and a capacity that is not a power of two (exit 2)', async () => {
    const dir = privateShmDir('cli-create-errors');
    createRing('taken', { dir });
    expect(await shmring(['create', 'taken', '--dir', dir])).toMatchObject({
      code: 7,
      stdout: '',
      stderr: `shmring create: a file of that name exists already: ${dir}/taken\n`,
    });
    const odd = await shmring(['create', 'odd', '--capacity', '5000', '--dir', dir]);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(
      /^shmring create: capacity must be a power of two.*capacity=5000.*\(see shmring create --help\)\n$/,
    );
    expect(fs.existsSync(path.join(dir, 'odd'))).toBe(false);
  });
});

describe('shmring rm', () => {
  it('removes a ring nobody uses and refuses one in use unless --force', async () => {
    const dir = privateShmDir('cli-rm');
    createRing('unused', { dir });
    const live = await startProducer('live', dir);
    expect(await shmring(['rm', 'unused', '--dir', dir])).toMatchObject({ code: 0, stdout: `removed ${dir}/unused\n` });
    expect(fs.existsSync(path.join(dir, 'unused'))).toBe(false);

    const refused = await shmring(['rm', 'live', '--dir', dir]);
    expect(refused).toMatchObject({ code: 7, stdout: '' });
    expect(refused.stderr).toBe(
      `shmring rm: in use by 1 live process (producer pid ${live.pid}, 0 live consumers): ` +
        `${dir}/live (--force removes it anyway)\n`,
    );
    expect(fs.existsSync(path.join(dir, 'live'))).toBe(true);
    expect(await shmring(['rm', 'live', '--force', '--dir', dir])).toMatchObject({ code: 0 });
    expect(fs.existsSync(path.join(dir, 'live'))).toBe(false);
  });

  it('refuses a file that is not a ring (exit 4) and removes a ring of another layout version', async () => {
    const dir = privateShmDir('cli-rm-foreign');
    fs.writeFileSync(path.join(dir, 'junk'), Buffer.alloc(L.PAGE_LENGTH));
    const junk = await shmring(['rm', 'junk', '--dir', dir]);
    expect(junk.code).toBe(4);
    expect(junk.stderr).toMatch(/^shmring rm: not a ring: .*\n$/);
    expect(fs.existsSync(path.join(dir, 'junk'))).toBe(true);

    createRing('old', { dir });
    const version = Buffer.alloc(4);
    version.writeInt32LE(2 << 16);
    const fd = fs.openSync(path.join(dir, 'old'), 'r+');
    fs.writeSync(fd, version, 0, 4, L.VERSION_OFFSET);
    fs.closeSync(fd);
    expect(await shmring(['rm', 'old', '--dir', dir])).toMatchObject({ code: 0, stdout: `removed ${dir}/old\n` });
  });
});

describe('shmring gc', () => {
  it('removes only the rings no live process uses, and --dry-run removes nothing', async () => {
    const dir = privateShmDir('cli-gc');
    await deadRing('dead', dir);
    await startProducer('live', dir);
    await deadRing('consumed', dir);
    closeAfterTest(Subscription.open('consumed', { dir })); // a live consumer keeps a dead producer's ring
    fs.writeFileSync(path.join(dir, 'junk'), 'not a ring');

    const dry = await shmring(['gc', '--dry-run', '--dir', dir]);
    // "ms ago", or "1 s ago" when a loaded machine takes over a second to get here.
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(
        `^would remove ${dir}/dead \\(reliable, file 68 KiB, created \\d+ (ms|s) ago, ` + 'producer dead\\)\n$',
      ),
    );
    expect(fs.readdirSync(dir).sort()).toEqual(['consumed', 'dead', 'junk', 'live']);

    const spared = await shmring(['gc', '--older-than', '1h', '--dir', dir]);
    expect(spared).toMatchObject({ code: 0, stdout: `nothing to remove in ${dir}\n` });

    const gc = await shmring(['gc', '--dir', dir]);
    expect(gc.code).toBe(0);
    expect(gc.stdout).toMatch(new RegExp(`^removed ${dir}/dead \\(`));
    expect(gc.stdout.split('\n')).toHaveLength(2);
    expect(fs.readdirSync(dir).sort()).toEqual(['consumed', 'junk', 'live']);
  });
});
