/**
 * The ring server (lib/ring-server.ts): the addon's listen/accept driven from a timer, never blocking the event loop.
 * A consumer is served whether it connects at once or after the server idled (its look-ups backed off), each
 * connection gets exactly one fd, a path already in use is refused, close() removes the socket file, and an unref()ed
 * server lets its process exit.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Publication, Subscription } from '../../lib/index';
import { closeAfterTest, DIST_INDEX, privateShmDir, sleep } from '../helpers/ring-env';

describe('RingServer', () => {
  it('serves consumers that connect at once and after it idled, one fd each', async () => {
    const socketPath = path.join(privateShmDir('server'), 'ring.sock');
    const pub = closeAfterTest(Publication.createAnonymous({ capacity: 4096 }));
    const server = closeAfterTest(await pub.serve(socketPath));
    expect(fs.statSync(socketPath).mode & 0o777).toBe(0o600);
    const first = closeAfterTest(await Subscription.connect(socketPath, { from: 'earliest', connectTimeoutMs: 2000 }));
    await sleep(300); // no connection for a while: the server now looks every 50 ms
    const started = Date.now();
    const second = closeAfterTest(await Subscription.connect(socketPath, { from: 'earliest', connectTimeoutMs: 2000 }));
    const waitedMs = Date.now() - started;
    expect(server.served).toBe(2);
    expect(waitedMs).toBeLessThan(2000);
    pub.offer(new Uint8Array([7]));
    for (const sub of [first, second]) expect(sub.poll(() => undefined, 10)).toBe(1);
  });

  it('refuses a path in use, and close() removes the socket file (twice is harmless)', async () => {
    const socketPath = path.join(privateShmDir('server-busy'), 'ring.sock');
    const pub = closeAfterTest(Publication.createAnonymous({ capacity: 4096 }));
    const server = await pub.serve(socketPath);
    await expect(pub.serve(socketPath)).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    await server.close();
    await server.close();
    expect(fs.existsSync(socketPath)).toBe(false);
    await expect(Subscription.connect(socketPath, { connectTimeoutMs: 200 })).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('lets the process exit once unref()ed', () => {
    const socketPath = path.join(privateShmDir('server-unref'), 'ring.sock');
    const script = `
      const { Publication } = require(${JSON.stringify(DIST_INDEX)});
      const pub = Publication.createAnonymous({ capacity: 4096 });
      pub.serve(${JSON.stringify(socketPath)}).then((server) => { server.unref(); console.log('serving'); });`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect({ status: child.status, signal: child.signal, stdout: child.stdout }).toEqual({
      status: 0,
      signal: null,
      stdout: 'serving\n',
    });
  });
});
