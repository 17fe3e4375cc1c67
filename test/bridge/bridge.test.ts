/**
 * The NATS bridge with a real nats-server (JetStream, temporary store) on a free loopback port, and real processes:
 * producer → ring A → `shmring bridge out` → NATS → `shmring bridge in` → ring B → consumer, every message carrying
 * its sequence number and a checksum.
 *
 * Acceptable outcomes:
 * - reliable (JetStream): exactly the produced messages, once each, in order, intact — whatever was killed on the
 *   way (each bridge kill -9'd and restarted, the server kill -9'd and restarted); the stream holds each message once.
 * - broadcast (core NATS): every delivered message intact, in order, never twice; messages lost while the server was
 *   down, and bridge out counted ring laps for them.
 * The cross-host version of the same pipeline (two network namespaces and a veth pair) is netns.test.ts.
 */
import fs from 'fs';
import { describe, expect, it } from 'vitest';
import { readStatuses } from '../../lib/bridge/bridge-status';
import { Publication } from '../../lib/publication';
import { createRing } from '../../lib/rings';
import { runPipeline } from '../helpers/bridge-pipeline';
import { CLI, freePort, natsServerAvailable, NatsServer, uniqueBridgeRing, startProcess } from '../helpers/nats-env';
import { SHM_DIR } from '../helpers/ring-env';

/** Messages per pipeline run in `npm test` (test/stress/bridge.stress.ts runs 1 M across namespaces). */
const COUNT = 20_000;

/** CPU seconds (user + system) process `pid` has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function cli(args: string[]) {
  return startProcess(process.execPath, [CLI, ...args], { label: `shmring ${args.slice(0, 2).join(' ')}` });
}

describe.skipIf(!natsServerAvailable())('NATS bridge (real nats-server on loopback)', () => {
  it('reliable: loses and duplicates nothing through kill -9 of each bridge and of the server', async () => {
    const server = await NatsServer.start();
    const result = await runPipeline({
      mode: 'reliable',
      count: COUNT,
      server,
      urlA: server.url,
      urlB: server.url,
      chaos: [
        { at: 0.2, what: 'kill-bridge-out' },
        { at: 0.45, what: 'kill-bridge-in' },
        { at: 0.7, what: 'kill-nats' },
      ],
      deadlineMs: 90_000,
    });
    const c = result.consumer;
    expect(c.error).toBeNull();
    expect(c.timedOut).toBe(false);
    expect(c.reasons).toEqual([]);
    expect({ received: c.received, corrupt: c.corrupt, duplicates: c.duplicates, outOfOrder: c.outOfOrder }).toEqual({
      received: COUNT,
      corrupt: 0,
      duplicates: 0,
      outOfOrder: 0,
    });
    expect(result.chaosFired).toEqual(['kill-bridge-out', 'kill-bridge-in', 'kill-nats']);
    // De-duplication held at the stream too: one stored message per ring message.
    expect(result.streamMessages).toBe(COUNT);
    expect(result.ringBUpstream).toBe(COUNT);
  }, 120_000);

  it('broadcast: delivers intact messages in order, loses while NATS is down, and counts the laps', async () => {
    const server = await NatsServer.start();
    const result = await runPipeline({
      mode: 'broadcast',
      count: COUNT,
      server,
      urlA: server.url,
      urlB: server.url,
      paceEvery: 20,
      chaos: [{ at: 0.4, what: 'kill-nats' }],
      deadlineMs: 90_000,
    });
    const c = result.consumer as typeof result.consumer & { lostBySeqGap: number; last: number };
    expect(c.error).toBeNull();
    expect({ corrupt: c.corrupt, duplicates: c.duplicates, outOfOrder: c.outOfOrder }).toEqual({
      corrupt: 0,
      duplicates: 0,
      outOfOrder: 0,
    });
    expect(c.received).toBeGreaterThan(COUNT / 4);
    expect(c.lostBySeqGap).toBeGreaterThan(0);
    // While the server was away bridge out stopped reading: ring A lapped it, and it counted that.
    // Every loss is counted somewhere: ring A lapped bridge out while it could not publish, or bridge in saw a
    // break in the chain of positions bridge out published (lost inside NATS).
    const counted = (result.bridgeOut?.stats.lapped ?? 0) + (result.bridgeIn?.stats.gaps ?? 0);
    expect(counted).toBeGreaterThan(0);
    expect((result.bridgeOut?.stats.lostBytes ?? 0) + (result.bridgeIn?.stats.lostBytes ?? 0)).toBeGreaterThan(0);
  }, 120_000);

  it.each(['reliable', 'broadcast'] as const)(
    'bridge out (%s ring) idles without spinning once the producer closed, and stops at SIGTERM with exit 0',
    async (mode) => {
      const server = await NatsServer.start();
      const ring = uniqueBridgeRing(`bridge-idle-${mode}`);
      const pub = Publication.create(ring, { mode, capacity: 4096 });
      const args = ['bridge', 'out', ring, '--nats', server.url, '--subject', `idle.${mode}.${process.pid}`];
      const p = cli(mode === 'reliable' ? [...args, '--jetstream', `IDLE_${process.pid}`] : args);
      await p.waitLine('running', 20_000, true);
      pub.offer(new Uint8Array([1, 2, 3]));
      pub.close(); // from now on sub.wait() answers at once: the loop must still sleep
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const cpu = cpuSeconds(p.process.pid as number);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(cpuSeconds(p.process.pid as number) - cpu).toBeLessThan(0.3);
      p.process.kill('SIGTERM');
      const status = await Promise.race([
        p.exited,
        new Promise((resolve) => setTimeout(() => resolve('hung'), 10_000)),
      ]);
      expect(status).toEqual({ code: 0, signal: null });
    },
    60_000,
  );

  it('fails with one line and exit code 1 when NATS is down at start', async () => {
    const ring = uniqueBridgeRing('bridge-down');
    createRing(ring, { capacity: 4096 });
    const port = await freePort();
    const p = cli(['bridge', 'out', ring, '--nats', `nats://127.0.0.1:${port}`, '--subject', 'x']);
    const status = await p.exited;
    expect(status.code).toBe(1);
    const stderr = p.errLines.filter((l) => l !== '');
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(
      new RegExp(`^shmring bridge: cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}: `),
    );
  }, 30_000);

  it('with --retry, waits for a server that starts later, then bridges; stat shows it', async () => {
    const ring = uniqueBridgeRing('bridge-retry');
    const port = await freePort();
    const p = cli([
      'bridge',
      'in',
      ring,
      '--nats',
      `nats://127.0.0.1:${port}`,
      '--subject',
      `retry.${process.pid}`,
      '--retry',
    ]);
    await p.waitLine('retrying', 15_000, true);
    expect(fs.existsSync(`${SHM_DIR}/${ring}`)).toBe(false); // nothing is created before NATS answers
    await NatsServer.start({ port });
    await p.waitLine('running', 20_000, true);
    const stat = cli(['stat', ring]);
    expect((await stat.exited).code).toBe(0);
    expect(stat.lines.join('\n')).toMatch(
      new RegExp(`bridge {4}in <- retry\\.${process.pid} \\(core NATS\\), pid ${p.process.pid} alive, connected`),
    );
    expect(readStatuses(SHM_DIR, ring)).toHaveLength(1);
    p.process.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
    expect(readStatuses(SHM_DIR, ring)).toHaveLength(0); // removed at a clean stop
  }, 60_000);
});

describe('shmring bridge usage', () => {
  it.each([
    [['bridge', 'out'], 'shmring bridge: missing out|in and NAME (see shmring bridge --help)'],
    [
      ['bridge', 'sideways', 'r', '--nats', 'nats://x', '--subject', 's'],
      'shmring bridge: direction must be one of out, in: direction=sideways (see shmring bridge --help)',
    ],
    [['bridge', 'out', 'r', '--subject', 's'], 'shmring bridge: missing --nats URL (see shmring bridge --help)'],
    [['bridge', 'in', 'r', '--nats', 'nats://x'], 'shmring bridge: missing --subject S (see shmring bridge --help)'],
    [
      ['bridge', 'in', 'r', '--nats', 'nats://x', '--subject', 's', '--jetstream', 'S'],
      'shmring bridge: --jetstream and --from are options of bridge out (bridge in takes --stream) (see shmring bridge --help)',
    ],
  ])('refuses %j with exit 2 and one line', async (argv, line) => {
    const p = cli(argv);
    expect((await p.exited).code).toBe(2);
    expect(p.errLines.filter((l) => l !== '')).toEqual([line]);
  });

  it('documents itself in --help', async () => {
    const p = cli(['bridge', '--help']);
    expect((await p.exited).code).toBe(0);
    expect(p.lines[0]).toBe(
      'Usage: shmring bridge out|in NAME --nats URL --subject S [--jetstream STREAM] [--durable D] [--retry]',
    );
    expect(p.lines.join('\n')).toContain('--retry');
  });
});

describe('NATS bridge without the NATS client installed', () => {
  it('does not load the client with the library, and says what to install when a bridge starts', async () => {
    // A child whose module resolution cannot find @nats-io/*, as in a project that did not install them.
    const script = `
      const Module = require('module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request.startsWith('@nats-io/')) {
          const err = new Error("Cannot find module '" + request + "'");
          err.code = 'MODULE_NOT_FOUND';
          throw err;
        }
        return resolve.call(this, request, ...rest);
      };
      const shmring = require(${JSON.stringify(`${__dirname}/../../dist/lib/index.js`)});
      const loaded = Object.keys(require.cache).filter((k) => k.includes('@nats-io')).length;
      shmring.bridgeIn({ ring: 'never-created', servers: 'nats://127.0.0.1:1', subject: 'x' }).catch((err) => {
        console.log('result ' + JSON.stringify({ loaded, code: err.code, message: err.message }));
      });`;
    const p = startProcess(process.execPath, ['-e', script], { label: 'no-nats' });
    const result = await p.json<{ loaded: number; code: string; message: string }>('result ');
    expect(result.loaded).toBe(0);
    expect(result.code).toBe('ERR_SHMRING_NATS_CLIENT_MISSING');
    expect(result.message).toContain('npm install @nats-io/transport-node@3 @nats-io/jetstream@3');
  });
});
