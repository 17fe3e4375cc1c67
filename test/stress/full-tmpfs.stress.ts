/**
 * A full tmpfs: a 2 MiB tmpfs is mounted (as root) for this file and unmounted after it; a child fills it with rings
 * until creation fails, then uses every ring it holds while the filesystem is full (fixtures/full-tmpfs.js).
 *
 * Outcomes. Acceptable: creation fails with ENOSPC and leaves no file behind; rings created before keep working.
 * Failures: a SIGBUS or any other crash, another error, a hang.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitFault, fdCount, printFigures, scaled, SEED, startChild } from './harness';

const ROUNDS = scaled(5, 50);
const isRoot = process.getuid?.() === 0;
let mountPoint = '';

describe('a full tmpfs', () => {
  beforeAll(() => {
    if (!isRoot) return;
    mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-stress-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'shmring-stress', mountPoint]);
  });

  afterAll(() => {
    if (mountPoint === '') return;
    try {
      execFileSync('umount', [mountPoint]);
    } finally {
      fs.rmdirSync(mountPoint);
    }
  });

  // Mounting needs root: without it the case is reported skipped, never passed without having tried.
  it.runIf(isRoot)(
    'fails ring creation with ENOSPC, never SIGBUS, and the rings made before keep working',
    async () => {
      const fdsBefore = fdCount();
      const child = startChild(
        'full-tmpfs.js',
        { dir: mountPoint, seed: SEED, rounds: ROUNDS },
        { boundMs: 120_000, silenceMs: 10_000 },
      );
      const exit = await child.exited;
      const done = child.reports.find((r) => r.event === 'done');
      printFigures('full-tmpfs', {
        rounds: ROUNDS,
        created: done?.created,
        failures: done?.failures,
        messagesSent: done?.sent,
        messagesReceived: done?.received,
        crashes: exit.signal !== null ? 1 : 0,
        fdsBefore,
        fdsAfter: fdCount(),
      });
      expect(exitFault(exit), child.stderrTail()).toBeNull();
      expect(done?.uncoded).toEqual([]);
      expect((done?.failures as Record<string, number>).ENOSPC).toBeGreaterThan(0);
      expect(fs.readdirSync(mountPoint)).toEqual([]);
      expect(fdCount()).toBe(fdsBefore);
    },
  );
});
