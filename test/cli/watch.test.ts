/**
 * `shmring stat --watch`: rates come from positions over time. Without a terminal it prints one plain line (or one
 * JSON document) per sample; under a real terminal (tmux) it redraws one screen in place, and Ctrl-C quits. In both
 * the producer's rate moves from non-zero to zero when the producer pauses, and a consumer that does not move shows
 * its idle time growing.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { Subscription, type ReliableSubscription } from '../../lib/index';
import type { StatSample } from '../../lib/cli/stat';
import { closeAfterTest, privateShmDir, waitFor } from '../helpers/ring-env';
import { SHMRING_BIN, command, startProducer, startShmring } from './cli-env';

const CAPACITY = 1 << 20; // the stalled consumer must not back-pressure the streaming producer during the test

describe('shmring stat --watch without a terminal', () => {
  it('prints one line per sample, the producer rate going from positive to 0 B/s when it pauses', async () => {
    const dir = privateShmDir('cli-watch-lines');
    const producer = await startProducer('stream', dir, { capacity: CAPACITY });
    await command(producer, 'stream 10 5', 'streaming');
    const watch = startShmring(['stat', 'stream', '--watch', '0.2', '--dir', dir]);
    const moving = /producer alive position \d+ rate (?!0 B\/s)\d+(\.\d)? (B|KiB)\/s/;
    await watch.line((l) => moving.test(l));
    await command(producer, 'pause', 'paused');
    const skip = watch.lines.length + 1; // the sample in flight may still span the pause
    await watch.line((l) => /producer alive position \d+ rate 0 B\/s \|/.test(l), 4000, skip);
    watch.process.kill('SIGINT');
    expect(await watch.exit()).toEqual({ code: 0, signal: null });
    expect(watch.lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z \| producer alive position \d+ rate - \| back-pressure 0 \(-\/s\) evicted 0 reaped 0$/,
    );
    expect(watch.lines.at(-1)).toMatch(/ \| back-pressure 0 \(0\/s\) evicted 0 reaped 0$/);
  });

  it("prints one JSON document per line with rates and a stalled consumer's growing idle time", async () => {
    const dir = privateShmDir('cli-watch-json');
    const producer = await startProducer('stream', dir, { capacity: CAPACITY });
    const stalled = closeAfterTest(Subscription.open('stream', { dir }) as ReliableSubscription);
    await command(producer, 'stream 10 5', 'streaming');
    const watch = startShmring(['stat', 'stream', '--watch', '0.2', '--json', '--dir', dir]);
    await waitFor('three samples', () => watch.lines.length >= 4);
    watch.process.kill('SIGTERM');
    expect(await watch.exit()).toEqual({ code: 0, signal: null });
    const samples = watch.lines.filter((l) => l !== '').map((l) => JSON.parse(l) as StatSample);
    expect(samples[0].rates).toBeNull();
    for (const s of samples.slice(1)) expect(s.rates?.producer).toBeGreaterThan(0);
    const slot = `${stalled.slot}`;
    const idle = samples.map((s) => s.idleMs?.[slot] ?? -1);
    expect(idle[0]).toBe(0);
    expect(idle.at(-1)).toBeGreaterThanOrEqual(400);
    const last = samples[samples.length - 1];
    expect(last.consumers[0].lag).toBe(last.producer.position - last.consumers[0].position);
  });
});

/** A private tmux server (its own socket file) for one test. */
class Tmux {
  readonly socket = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-tmux-')), 'socket');

  run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], {
      encoding: 'utf8',
      timeout: 3000,
      env: { ...process.env, TERM: 'xterm-256color' },
    });
    if (r.error !== undefined) {
      throw new Error(
        `tmux is needed for this test (apt-get install -y tmux; .ci/run installs it): ${r.error.message}`,
        { cause: r.error },
      );
    }
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  screen(): string {
    return this.run('capture-pane', '-p', '-t', 'watch').stdout;
  }

  close(): void {
    this.run('kill-server');
    fs.rmSync(path.dirname(this.socket), { recursive: true, force: true });
  }
}

const servers: Tmux[] = [];
afterEach(() => {
  for (const tmux of servers.splice(0)) tmux.close();
});

describe('shmring stat --watch in a terminal', () => {
  it('redraws one screen in place with rates that change, and quits on Ctrl-C', async () => {
    const dir = privateShmDir('cli-watch-tty');
    const producer = await startProducer('stream', dir, { capacity: CAPACITY });
    const stalled = closeAfterTest(Subscription.open('stream', { dir }) as ReliableSubscription);
    await command(producer, 'stream 10 5', 'streaming');
    const tmux = new Tmux();
    servers.push(tmux);
    const started = tmux.run(
      'new-session',
      '-d',
      '-s',
      'watch',
      '-x',
      '120',
      '-y',
      '30',
      `${process.execPath} ${SHMRING_BIN} stat stream --watch 0.2 --dir ${dir}`,
    );
    expect(started.stderr).toBe('');

    let screen = '';
    const moving = /^rate {6}(?!0 B\/s)\d+(\.\d)? (B|KiB)\/s, 0 back-pressure events\/s$/m;
    await waitFor('a positive rate on the screen', () => moving.test((screen = tmux.screen())));
    // One frame, redrawn in place: the header once, at the top, and the stalled consumer's row with RATE and IDLE.
    expect(screen.split('\n')[0]).toBe(`ring      stream (${dir}/stream)`);
    expect(screen.match(/^ring {6}/gm)).toHaveLength(1);
    expect(screen).toMatch(/^SLOT +PID +ALIVE +STATE +POSITION +LAG +LAG% +PROGRESS +BLOCKING +RATE +IDLE$/m);
    expect(screen).toMatch(new RegExp(`^ *${stalled.slot} +${process.pid} +yes +active +0 `, 'm'));

    await command(producer, 'pause', 'paused');
    await waitFor('the rate to drop to 0 B/s', () =>
      /^rate {6}0 B\/s, 0 back-pressure events\/s$/m.test((screen = tmux.screen())),
    );
    expect(screen.match(/^ring {6}/gm)).toHaveLength(1);

    tmux.run('send-keys', '-t', 'watch', 'C-c');
    await waitFor(
      'the command to quit (its tmux session ends)',
      () => tmux.run('has-session', '-t', 'watch').status !== 0,
    );
  });
});
