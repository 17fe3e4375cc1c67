/**
 * bridgeOut's restart after a crash between JetStream's ack and the ring commit, made deterministic: the stream already
 * holds the first messages (published with the ids and headers bridge out gives them) while the bridge's durable ring
 * consumer still stands before them, as a bridge killed right after the acks leaves it. Past the stream's duplicate
 * window, message-id de-duplication cannot help; the bridge must still publish each message once.
 */
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { bridgeOut } from '../../lib/bridge/bridge-out';
import { Header, ringIdOf } from '../../lib/bridge/bridge-common';
import { Publication } from '../../lib/publication';
import { ringInfo } from '../../lib/rings';
import { Subscription } from '../../lib/subscription';
import { natsServerAvailable, NatsServer, cleanupAfterTest, uniqueBridgeRing } from '../helpers/nats-env';
import { closeAfterTest } from '../helpers/ring-env';

describe.skipIf(!natsServerAvailable())('bridgeOut after a crash between ack and commit', () => {
  it('publishes each message once, past the duplicate window too', async () => {
    const server = await NatsServer.start();
    const ring = uniqueBridgeRing('bridge-out-resume');
    const subject = `resume.${process.pid}`;
    const stream = `RESUME_${process.pid}`;
    const pub = closeAfterTest(Publication.create(ring, { capacity: 64 * 1024 }));
    // The bridge's durable consumer exists and has committed nothing: it stands before every message.
    Subscription.open(ring, { durable: 'bridge-out', autoCommit: false, from: 'earliest' }).close();
    const positions: number[] = [];
    for (let i = 0; i < 50; i++) positions.push(pub.offer(new Uint8Array([i, i, i]), 5));

    const nc = await connect({ servers: server.url });
    cleanupAfterTest(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject], duplicate_window: 1_000_000_000 }); // 1 s
    const info = ringInfo(ring);
    const ringId = ringIdOf(ring, info.createdAt, info.creatorPid);
    const js = jetstream(nc);
    for (let i = 0; i < 30; i++) {
      const h = headers();
      h.set(Header.RING_ID, ringId);
      h.set(Header.POSITION, String(positions[i]));
      h.set(Header.TYPE_ID, '5');
      await js.publish(subject, new Uint8Array([i, i, i]), { msgID: `${ringId}:${positions[i]}`, headers: h });
    }
    await new Promise((resolve) => setTimeout(resolve, 1500)); // past the duplicate window

    const events: string[] = [];
    const bridge = await bridgeOut({
      ring,
      servers: server.url,
      subject,
      jetstream: stream,
      onEvent: (e) => events.push(e),
    });
    cleanupAfterTest(() => bridge.close());
    const deadline = Date.now() + 20_000;
    while ((await jsm.streams.info(stream)).state.messages < 50 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300)); // anything extra would land meanwhile
    const state = (await jsm.streams.info(stream)).state;
    expect(state.messages).toBe(50);
    expect(bridge.stats.messages).toBe(20);
    expect(events).toContain(`the stream holds this ring's messages up to position ${positions[29]}`);
    // Stored in ring order, payload and type id unchanged.
    for (let seq = 1; seq <= 50; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      expect(m?.data).toEqual(new Uint8Array([seq - 1, seq - 1, seq - 1]));
      expect(m?.header.get(Header.POSITION)).toBe(String(positions[seq - 1]));
      expect(m?.header.get(Header.TYPE_ID)).toBe('5');
    }
    await bridge.close();
    // The commit followed the acks: a durable consumer opened now has nothing left to read.
    const after = closeAfterTest(Subscription.open(ring, { durable: 'bridge-out', autoCommit: false }));
    expect(after.poll(() => undefined, 100)).toBe(0);
  }, 60_000);
});
