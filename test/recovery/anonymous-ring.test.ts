/**
 * An anonymous (memfd) ring handed to consumer processes over a Unix socket: `Publication.createAnonymous`,
 * `pub.serve(socketPath)`, `Subscription.connect(socketPath)` in two children. No name, no file in /dev/shm.
 *
 * Acceptable outcomes — exactly one: both children receive seq 0..N-1 in order and intact (one run, no error);
 * the socket is a 0600 socket while served and is gone after `server.close()`; the children map the ring as a
 * memfd (`/memfd:` in /proc/PID/maps) and nothing under /dev/shm; no ring file created by this test's processes
 * appears in /dev/shm.
 */
import fs from 'fs';
import { describe, expect, it } from 'vitest';
import * as L from '../../lib/layout';
import { Publication } from '../../lib/index';
import { closeAfterTest, startChild, uniqueSocketPath } from '../helpers/ring-env';
import { offerRange, type DoneReport } from './helpers';

const SEED = 0xa404;

/** /dev/shm files that are shmring rings created by one of `pids` (read from their header's creator pid). */
function ringFilesCreatedBy(pids: number[]): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/dev/shm', { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    try {
      const header = Buffer.alloc(L.PAGE_LENGTH);
      const fd = fs.openSync(`/dev/shm/${entry.name}`, 'r');
      try {
        if (fs.readSync(fd, header, 0, header.length, 0) < L.PAGE_LENGTH) continue;
      } finally {
        fs.closeSync(fd);
      }
      const magic = header.readUInt32LE(L.MAGIC_OFFSET);
      if (magic === L.MAGIC && pids.includes(header.readInt32LE(L.CREATOR_PID_OFFSET))) found.push(entry.name);
    } catch {
      // another user's file, or removed meanwhile: not ours
    }
  }
  return found;
}

describe('Publication.createAnonymous + serve / Subscription.connect', () => {
  it('delivers to consumer processes that fetched the memfd over a 0600 socket, with no file in /dev/shm', async () => {
    const before = new Set(fs.readdirSync('/dev/shm'));
    const socketPath = uniqueSocketPath('serve');
    const pub = closeAfterTest(Publication.createAnonymous({ capacity: 64 * 1024 }));
    const server = await pub.serve(socketPath);
    closeAfterTest(server);
    const stat = fs.statSync(socketPath);
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);

    const children = [0, 1].map(() =>
      startChild('recovery/consumer.js', { socket: socketPath, seed: SEED, style: 'iterate' }),
    );
    await Promise.all(children.map((child) => child.report('joined')));
    expect(server.served).toBe(2);
    for (const child of children) {
      const maps = fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8');
      expect(maps).toMatch(/\/memfd:shmring/);
      expect(maps).not.toMatch(/\/dev\/shm\//);
    }

    const count = 3_000;
    await offerRange(pub, SEED, 1, 0, count);
    pub.close();
    for (const child of children) {
      expect(await child.report<DoneReport>('done')).toEqual(
        expect.objectContaining({ count, runs: [[1, 0, count - 1]], errors: [] }),
      );
    }
    await server.close();
    expect(fs.existsSync(socketPath)).toBe(false);

    const created = [...new Set(fs.readdirSync('/dev/shm'))].filter((name) => !before.has(name));
    // Other test files may create rings meanwhile; none of the new files may come from this test's processes.
    expect(ringFilesCreatedBy([process.pid, ...children.map((c) => c.pid)]).filter((n) => created.includes(n))).toEqual(
      [],
    );
  });
});
