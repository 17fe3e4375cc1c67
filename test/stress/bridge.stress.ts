/**
 * The NATS bridge under volume: 1 M messages in the full profile (100 000 in CI) through producer → ring A →
 * `shmring bridge out` → JetStream → `shmring bridge in` → ring B → consumer, across two network namespaces joined by
 * a veth pair when root (on loopback otherwise, said loudly), with each bridge and the nats-server kill -9'd and
 * restarted mid-stream.
 *
 * Outcomes. Acceptable: the consumer receives seq 0..N-1, each exactly once, byte for byte with its type id (sequence
 * + checksum), and the stream holds N messages. Failures: anything lost, duplicated, reordered or corrupt; a hang
 * past the bound.
 */
import { describe, expect, it } from 'vitest';
import { runPipeline } from '../helpers/bridge-pipeline';
import { natsServerAvailable, NatsServer } from '../helpers/nats-env';
import { createHostPair, netnsUnavailable } from '../helpers/netns';
import { printFigures, scaled } from './harness';

const COUNT = scaled(100_000, 1_000_000);
const cannot = netnsUnavailable();
if (cannot !== null) console.warn(`\n*** bridge stress runs on loopback, not across namespaces: ${cannot} ***\n`);

describe.skipIf(!natsServerAvailable())('NATS bridge under volume', () => {
  it(`carries ${COUNT} messages exactly once through kill -9 of both bridges and of the server`, async () => {
    const hosts = cannot === null ? createHostPair() : null;
    const server =
      hosts === null
        ? await NatsServer.start()
        : await NatsServer.start({ host: hosts.addressB, port: 4222, netns: hosts.nsB });
    const result = await runPipeline({
      mode: 'reliable',
      count: COUNT,
      server,
      urlA: server.url,
      urlB: server.url,
      nsA: hosts?.nsA,
      nsB: hosts?.nsB,
      chaos: [
        { at: 0.2, what: 'kill-bridge-out' },
        { at: 0.5, what: 'kill-nats' },
        { at: 0.8, what: 'kill-bridge-in' },
      ],
      deadlineMs: scaled(240_000, 1_200_000),
    });
    const c = result.consumer;
    printFigures('bridge', {
      messages: COUNT,
      acrossNamespaces: hosts !== null,
      elapsedMs: result.elapsedMs,
      messagesPerSecond: Math.round(COUNT / (result.elapsedMs / 1000)),
      received: c.received,
      duplicates: c.duplicates,
      outOfOrder: c.outOfOrder,
      corrupt: c.corrupt,
      streamMessages: result.streamMessages,
    });
    expect(c.error).toBeNull();
    expect(c.reasons).toEqual([]);
    expect({ received: c.received, corrupt: c.corrupt, duplicates: c.duplicates, outOfOrder: c.outOfOrder }).toEqual({
      received: COUNT,
      corrupt: 0,
      duplicates: 0,
      outOfOrder: 0,
    });
    expect(result.streamMessages).toBe(COUNT);
    expect(result.ringBUpstream).toBe(COUNT);
  });
});
