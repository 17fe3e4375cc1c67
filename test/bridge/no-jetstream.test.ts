/**
 * A reliable bridge needs JetStream on the server: bridge out publishes to a stream, bridge in consumes one. Against a
 * core-only nats-server both refuse to start with ERR_SHMRING_BRIDGE_CONFIG saying so, and leave nothing running.
 */
import { describe, expect, it } from 'vitest';
import { bridgeIn } from '../../lib/bridge/bridge-in';
import { bridgeOut } from '../../lib/bridge/bridge-out';
import { ErrorCode } from '../../lib/errors';
import { Publication } from '../../lib/publication';
import { ringInfo } from '../../lib/rings';
import { NatsServer, natsServerAvailable, uniqueBridgeRing } from '../helpers/nats-env';
import { closeAfterTest } from '../helpers/ring-env';

describe.skipIf(!natsServerAvailable())('a reliable bridge against a server without JetStream', () => {
  it('bridge out refuses to start with ERR_SHMRING_BRIDGE_CONFIG', async () => {
    const server = await NatsServer.start({ jetstream: false });
    const ring = uniqueBridgeRing('no-js-out');
    closeAfterTest(Publication.create(ring, { capacity: 64 * 1024 }));
    const failure = await bridgeOut({ ring, servers: server.url, subject: 'no.js.out', jetstream: 'NOJS' }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({
      code: ErrorCode.BRIDGE_CONFIG,
      message: expect.stringContaining('JetStream is not available on that server') as unknown,
    });
    expect(ringInfo(ring).consumers.filter((c) => c.alive)).toHaveLength(0);
  });

  it('bridge in with a durable name refuses to start with ERR_SHMRING_BRIDGE_CONFIG', async () => {
    const server = await NatsServer.start({ jetstream: false });
    const ring = uniqueBridgeRing('no-js-in');
    const failure = await bridgeIn({ ring, servers: server.url, subject: 'no.js.in', durable: 'in' }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({
      code: ErrorCode.BRIDGE_CONFIG,
      message: expect.stringContaining('JetStream is not available on that server') as unknown,
    });
  });
});
