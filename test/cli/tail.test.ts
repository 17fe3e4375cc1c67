/**
 * `shmring tail` joins a real ring as a consumer in its own process, prints what a producer process publishes, and
 * leaves cleanly (its slot freed) after --count, on SIGINT/SIGTERM, or when the producer closes the ring. While the
 * ring is idle it sleeps on the futex: its CPU time does not grow.
 */
import fs from 'fs';
import { describe, expect, it } from 'vitest';
import { formatMessage } from '../../lib/cli/tail';
import { ringInfo } from '../../lib/index';
import { privateShmDir, waitFor, type Child } from '../helpers/ring-env';
import { command, startProducer, startShmring } from './cli-env';

/** Waits until `tail` holds a live consumer slot of the ring. */
async function joined(tail: Child, name: string, dir: string): Promise<void> {
  await waitFor('tail to join', () =>
    ringInfo(name, { dir }).consumers.some((c) => c.pid === tail.process.pid && c.alive),
  );
}

/** User + system CPU time of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15). */
function cpuTicks(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

describe('shmring tail', () => {
  it("prints a producer process's messages as JSON lines and leaves after --count, freeing its slot", async () => {
    const dir = privateShmDir('cli-tail');
    const producer = await startProducer('feed', dir);
    const tail = startShmring(['tail', 'feed', '--format', 'json', '--count', '3', '--dir', dir]);
    await joined(tail, 'feed', dir);
    await command(producer, 'send 4 hello', 'sent');

    expect(await tail.exit()).toEqual({ code: 0, signal: null });
    const messages = tail.lines.filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(messages).toEqual([
      { position: 16, typeId: 7, length: 7, utf8: 'hello-0' },
      { position: 32, typeId: 7, length: 7, utf8: 'hello-1' },
      { position: 48, typeId: 7, length: 7, utf8: 'hello-2' },
    ]);
    expect(tail.stderr.join('')).toBe('');
    expect(ringInfo('feed', { dir }).consumers).toEqual([]);
  });

  it("prints a broadcast ring's messages as a receiver (no slot taken)", async () => {
    const dir = privateShmDir('cli-tail-broadcast');
    const producer = await startProducer('ticks', dir, { mode: 'broadcast' });
    await command(producer, 'send 2 tick', 'sent');
    const tail = startShmring(['tail', 'ticks', '--from', 'earliest', '--format', 'json', '-n', '2', '--dir', dir]);
    expect(await tail.exit()).toEqual({ code: 0, signal: null });
    expect(tail.lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { position: 16, typeId: 7, length: 6, utf8: 'tick-0' },
      { position: 32, typeId: 7, length: 6, utf8: 'tick-1' },
    ]);
  });

  it('prints from the earliest retained message, as text or hex', async () => {
    const dir = privateShmDir('cli-tail-earliest');
    const producer = await startProducer('feed', dir);
    await command(producer, 'send 2 ab', 'sent');

    const text = startShmring(['tail', 'feed', '--from', 'earliest', '--count', '2', '--dir', dir]);
    expect(await text.exit()).toEqual({ code: 0, signal: null });
    expect(text.lines).toEqual(['ab-0', 'ab-1']);

    const hex = startShmring(['tail', 'feed', '--from', 'earliest', '-n', '1', '--format', 'hex', '--dir', dir]);
    expect(await hex.exit()).toEqual({ code: 0, signal: null });
    expect(hex.lines[0]).toBe(`position=16 typeId=7 length=4 ${Buffer.from('ab-0').toString('hex')}`);
  });

  it('sleeps while the ring is idle and leaves on SIGINT and on SIGTERM, freeing its slot', async () => {
    const dir = privateShmDir('cli-tail-signal');
    await startProducer('quiet', dir);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const tail = startShmring(['tail', 'quiet', '--dir', dir]);
      await joined(tail, 'quiet', dir);
      const pid = tail.process.pid as number;
      await new Promise((resolve) => setTimeout(resolve, 100)); // past the lingering turns, asleep on the futex
      const before = cpuTicks(pid);
      await new Promise((resolve) => setTimeout(resolve, 400));
      // A spinning tail would burn ~40 ticks (100 Hz) in 400 ms; a sleeping one none (allow 2 for noise).
      expect(cpuTicks(pid) - before).toBeLessThanOrEqual(2);
      tail.process.kill(signal);
      expect(await tail.exit()).toEqual({ code: 0, signal: null });
      expect(ringInfo('quiet', { dir }).consumers).toEqual([]);
    }
  });

  it("exits 1 with the library's one-line reason when the producer evicted it for stalling", async () => {
    const dir = privateShmDir('cli-tail-evicted');
    const producer = await startProducer('feed', dir, { capacity: 4096, evictionTimeoutMs: 50 });
    const tail = startShmring(['tail', 'feed', '--dir', dir]);
    await joined(tail, 'feed', dir);
    tail.process.kill('SIGSTOP'); // a tail whose reader stopped, as far as the producer can tell
    await command(producer, 'send 400 x', 'sent'); // 6.4 KB into a 4 KiB ring
    expect(await command(producer, 'push y 2000', 'pushed')).toBe('pushed {"ok":true}'); // evicted after 50 ms
    tail.process.kill('SIGCONT');
    expect(await tail.exit()).toEqual({ code: 1, signal: null });
    expect(tail.stderr.join('')).toBe(
      'shmring tail: consumer was evicted by the producer after stalling past its ' +
        'eviction timeout; messages may have been lost\n',
    );
  });

  it('ends with exit code 0 when the producer closes the ring and everything was printed', async () => {
    const dir = privateShmDir('cli-tail-close');
    const producer = await startProducer('closing', dir);
    const tail = startShmring(['tail', 'closing', '--dir', dir]);
    await joined(tail, 'closing', dir);
    await command(producer, 'send 2 last', 'sent');
    await command(producer, 'close', 'closed');
    expect(await tail.exit()).toEqual({ code: 0, signal: null });
    expect(tail.lines).toEqual(['last-0', 'last-1']);
  });

  it('prints a payload that is not UTF-8 as base64 in JSON, and as replacement characters as text', () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x41]);
    expect(formatMessage('json', bytes, 3, 24)).toBe('{"position":24,"typeId":3,"length":3,"base64":"/wBB"}\n');
    expect(formatMessage('hex', bytes, 3, 24)).toBe('position=24 typeId=3 length=3 ff0041\n');
    expect(formatMessage('utf8', bytes, 3, 24)).toBe('\ufffd\u0000A\n');
  });
});
