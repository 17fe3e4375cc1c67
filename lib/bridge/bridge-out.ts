/**
 * `bridgeOut`: a consumer of a local ring that publishes each message to NATS, payload unchanged, with the ring's
 * name, the message's ring position and its type id in headers.
 *
 * - A reliable ring goes to JetStream. The bridge is a durable consumer of the ring that commits nothing by itself:
 *   it publishes a window of messages, each with the message id `<ring id>:<position>`, awaits every ack, and only
 *   then commits its ring position up to the last acknowledged message. Killed anywhere, it resumes from the last
 *   commit: messages published but not committed go out again with the same ids, and the stream drops them as
 *   duplicates (within its duplicate window; at start the bridge also reads the subject's last stored message and
 *   skips ring messages up to the position it names). NATS away: publishes fail, the bridge rewinds to its commit
 *   and tries again with back-off, and the ring back-pressures its producer meanwhile.
 * - A broadcast ring goes to core NATS: at most once. While NATS is away the bridge stops reading, the ring laps
 *   it, and the bytes it lost are counted (`stats.lapped`, `stats.lostBytes`).
 */
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { ErrorCode, ShmringError } from '../errors';
import type { MessageHandler } from '../message-handler';
import type { BroadcastSubscription } from '../broadcast-subscription';
import type { ReliableSubscription } from '../reliable-subscription';
import { ringInfo } from '../rings';
import { Subscription } from '../subscription';
import { BridgeRunner } from './bridge-runner';
import type { BridgeStatus } from './bridge-status';
import { connectNats, jetStreamManager, loadNats, sleep, type NatsConnection, type NatsModules } from './nats-client';
import { Header, ringIdOf, type Bridge, type BridgeCommonOptions } from './bridge-common';

export interface BridgeOutOptions extends BridgeCommonOptions {
  /**
   * JetStream stream for a reliable ring: created when missing (capturing `subject`, with `duplicateWindowMs`). When
   * not given, the stream that captures `subject` is looked up. Ignored for a broadcast ring (core NATS).
   */
  jetstream?: string;
  /** Name of the bridge's durable consumer of a reliable ring (1..64 bytes). Default 'bridge-out'. */
  durable?: string;
  /** How long the ring keeps the durable consumer's place while the bridge is down. Default 1 hour. */
  durableTimeoutMs?: number;
  /** Duplicate window of a stream the bridge creates. Default 10 minutes. */
  duplicateWindowMs?: number;
  /** Most publishes in flight before the bridge waits for their acks. Default 256. */
  window?: number;
  /** How long to wait for one publish's ack. Default 5000 ms. */
  ackTimeoutMs?: number;
}

const DEFAULT_WINDOW = 256;
const DEFAULT_DURABLE = 'bridge-out';
/** Broadcast: messages published between two flushes (a flush waits for the server: the bridge's flow control). */
const FLUSH_EVERY = 1024;
const MAX_BACKOFF_MS = 2000;

/** Starts a bridge from the ring `options.ring` to NATS; resolves once it runs (see the module comment). */
export async function bridgeOut(options: BridgeOutOptions): Promise<Bridge> {
  const nats = await loadNats();
  const info = ringInfo(options.ring, { dir: options.dir, openTimeoutMs: 1000 });
  const jetstream = info.mode === 'reliable';
  const stop = new AbortController();
  const log = options.onEvent ?? (() => undefined);
  const nc = await connectNats(nats, {
    servers: options.servers,
    retry: options.retry,
    signal: stop.signal,
    name: `shmring bridge out ${options.ring}`,
    onEvent: log,
  });
  try {
    const maxPayload = nc.info?.max_payload ?? Infinity;
    if (info.maxMessageLength > maxPayload) {
      throw new ShmringError(
        ErrorCode.BRIDGE_CONFIG,
        `the ring carries messages up to ${info.maxMessageLength} bytes but the NATS server's max_payload is ` +
          `${maxPayload}: raise max_payload or use a ring with a smaller capacity`,
      );
    }
    if (!jetstream && options.jetstream !== undefined) {
      log(
        `${options.ring} is a broadcast ring: it goes to core NATS (at most once), not to stream ${options.jetstream}`,
      );
    }
    const runner = jetstream
      ? await ReliableOut.start(nats, nc, options, info.createdAt, info.creatorPid, stop.signal, log)
      : new BroadcastOut(nats, nc, options, stop.signal, log);
    return runner.launch(stop);
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/** Reliable ring → JetStream, acked and de-duplicated. */
class ReliableOut extends BridgeRunner {
  private readonly positions: number[] = [];
  private readonly lengths: number[] = [];
  private readonly acks: Array<Promise<PubAck> | null> = [];
  private readonly ids: string[] = [];
  /**
   * Message id of the stream's last message as far as this bridge knows (its last acknowledged publish, or what the
   * stream held at start). Each publish expects the stream's last message id to be its predecessor's: a window's
   * message whose predecessor was lost is refused instead of stored out of order (de-duplication comes first, so a
   * retried message already stored is acknowledged as a duplicate).
   */
  private committedId: string | null = null;
  private previousId: string | null = null;
  private readonly publish: MessageHandler;
  /** Ring messages at or before this position are in the stream already (found at start): committed unpublished. */
  private skipUpTo = -1;

  private constructor(
    private readonly nats: NatsModules,
    nc: NatsConnection,
    private readonly options: BridgeOutOptions,
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly sub: ReliableSubscription,
    private readonly ringId: string,
    signal: AbortSignal,
    log: (event: string) => void,
  ) {
    super('out', nc, options, signal, log);
    const timeout = options.ackTimeoutMs ?? 5000;
    // One closure for the bridge's life, not one per message.
    this.publish = (buffer, offset, length, typeId) => {
      const position = this.sub.messagePosition;
      const msgID = `${this.ringId}:${position}`;
      this.positions.push(position);
      this.lengths.push(length);
      this.ids.push(msgID);
      const previous = this.previousId;
      this.previousId = msgID;
      if (position <= this.skipUpTo) {
        this.acks.push(null);
        return;
      }
      const headers = this.nats.transport.headers();
      headers.set(Header.RING, this.options.ring);
      headers.set(Header.RING_ID, this.ringId);
      headers.set(Header.POSITION, String(position));
      headers.set(Header.TYPE_ID, String(typeId));
      const data = buffer.slice(offset, offset + length);
      const expect = previous === null ? undefined : { lastMsgID: previous };
      this.acks.push(this.js.publish(this.options.subject, data, { msgID, headers, timeout, expect }));
    };
  }

  static async start(
    nats: NatsModules,
    nc: NatsConnection,
    options: BridgeOutOptions,
    createdAt: number,
    creatorPid: number,
    signal: AbortSignal,
    log: (event: string) => void,
  ): Promise<ReliableOut> {
    const stream = await ensureStream(nats, nc, options);
    const js = nats.jetstream.jetstream(nc);
    const ringId = ringIdOf(options.ring, createdAt, creatorPid);
    const sub = Subscription.open(options.ring, {
      dir: options.dir,
      from: options.from ?? 'earliest',
      durable: options.durable ?? DEFAULT_DURABLE,
      durableTimeoutMs: options.durableTimeoutMs ?? 3_600_000,
      autoCommit: false,
      openTimeoutMs: 1000,
    }) as ReliableSubscription;
    const runner = new ReliableOut(nats, nc, options, js, stream, sub, ringId, signal, log);
    try {
      runner.skipUpTo = await lastStoredPosition(nats, nc, stream, options.subject, ringId);
      runner.committedId = await lastStoredMsgId(nats, nc, stream);
      runner.previousId = runner.committedId;
    } catch (err) {
      sub.close();
      throw err;
    }
    if (runner.skipUpTo >= 0) log(`the stream holds this ring's messages up to position ${runner.skipUpTo}`);
    return runner;
  }

  protected describe(): Pick<BridgeStatus, 'name' | 'transport' | 'stream'> {
    return { name: this.options.durable ?? DEFAULT_DURABLE, transport: 'jetstream', stream: this.stream };
  }

  protected closeRing(): void {
    this.sub.close(); // detaches: the durable slot keeps the committed position for the next run
  }

  protected async run(): Promise<void> {
    const window = this.options.window ?? DEFAULT_WINDOW;
    let backoff = 50;
    while (!this.signal.aborted) {
      const count = this.sub.poll(this.publish, window);
      if (count === 0) {
        await this.idle();
        continue;
      }
      if (await this.settle()) {
        backoff = 50;
      } else {
        this.stats.retries++;
        this.sub.rewind();
        await this.backOff(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private idle(): Promise<void> {
    return idleOn(this.sub, this.signal);
  }

  /**
   * Awaits the window's acks in order and commits the ring up to the last message before the first failure. True
   * when every message was acknowledged.
   */
  private async settle(): Promise<boolean> {
    const acks = this.acks;
    const results = await Promise.allSettled(acks.map((a) => a ?? Promise.resolve(null)));
    let committed = -1;
    let failure: unknown = null;
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      if (result.status === 'rejected') {
        failure = result.reason;
        break;
      }
      const ack = result.value;
      if (ack !== null) {
        if (ack.duplicate) this.stats.duplicates++;
        else {
          this.stats.messages++;
          this.stats.bytes += this.lengths[i];
        }
        if (ack.seq > this.stats.lastUpstreamSequence) this.stats.lastUpstreamSequence = ack.seq;
      }
      committed = this.positions[i];
      this.committedId = this.ids[i];
    }
    acks.length = 0;
    this.positions.length = 0;
    this.lengths.length = 0;
    this.ids.length = 0;
    if (committed >= 0) this.sub.commit(committed);
    if (failure !== null) this.previousId = this.committedId; // the retry starts after the last stored message
    if (failure !== null) this.log(`publish to JetStream failed, will retry: ${(failure as Error).message}`);
    return failure === null;
  }
}

/** Broadcast ring → core NATS, at most once; lapped bytes counted. */
class BroadcastOut extends BridgeRunner {
  private readonly sub: BroadcastSubscription;
  private readonly publish: MessageHandler;
  private sinceFlush = 0;
  /** Position of the last message published: the next one names it (Header.PREVIOUS) so losses on the way show. */
  private lastPublished = -1;

  constructor(
    nats: NatsModules,
    nc: NatsConnection,
    private readonly options: BridgeOutOptions,
    signal: AbortSignal,
    log: (event: string) => void,
  ) {
    super('out', nc, options, signal, log);
    this.sub = Subscription.open(options.ring, {
      dir: options.dir,
      from: options.from ?? 'latest',
      openTimeoutMs: 1000,
    }) as BroadcastSubscription;
    // One headers object for the bridge's life: core publish encodes it at once, and each message overwrites its fields.
    const headers = nats.transport.headers();
    headers.set(Header.RING, options.ring);
    const publishOptions = { headers };
    this.publish = (buffer, offset, length, typeId) => {
      headers.set(Header.POSITION, String(this.sub.position));
      headers.set(Header.TYPE_ID, String(typeId));
      if (this.lastPublished >= 0) headers.set(Header.PREVIOUS, String(this.lastPublished));
      try {
        this.nc.publish(this.options.subject, buffer.slice(offset, offset + length), publishOptions);
        this.lastPublished = this.sub.position;
        this.stats.messages++;
        this.stats.bytes += length;
      } catch (err) {
        this.stats.dropped++;
        this.log(`publish failed, message dropped: ${(err as Error).message}`);
      }
      this.sinceFlush++;
    };
  }

  protected describe(): Pick<BridgeStatus, 'name' | 'transport' | 'stream'> {
    return { name: 'core', transport: 'core', stream: null };
  }

  protected closeRing(): void {
    this.sub.close();
  }

  protected async run(): Promise<void> {
    while (!this.signal.aborted) {
      if (!this.connection.connected) {
        // Not reading: the ring laps the bridge and the next poll counts what was lost.
        await this.connection.whenConnected(250);
        continue;
      }
      // One message per poll: the position after it is that message's end (the header says where it came from).
      let count = 0;
      while (count < FLUSH_EVERY && this.sub.poll(this.publish, 1) === 1) count++;
      this.stats.lapped = this.sub.lappedCount;
      this.stats.lostBytes = this.sub.lostBytes;
      if (this.sinceFlush >= FLUSH_EVERY || (count === 0 && this.sinceFlush > 0)) {
        this.sinceFlush = 0;
        // The server's answer paces the bridge: a NATS slower than the ring shows as laps, not as client memory.
        await Promise.race([this.nc.flush().catch(() => undefined), sleep(2000, this.signal)]);
      }
      if (count === 0) await idleOn(this.sub, this.signal);
    }
  }
}

/**
 * Waits for the ring's next message. `wait` returns at once while the ring's producer is closed (or gone) and nothing
 * is left: then sleep instead, so the loop never spins without giving timers and signals a turn (a new producer may
 * attach later; the bridge keeps waiting for it).
 */
async function idleOn(sub: ReliableSubscription | BroadcastSubscription, signal: AbortSignal): Promise<void> {
  const ready = await sub.wait({ signal, timeoutMs: 500 }).catch(() => false);
  if (!ready && !signal.aborted) await sleep(50, signal);
}

/** The stream the bridge publishes to: the named one (created when missing) or the one capturing the subject. */
async function ensureStream(nats: NatsModules, nc: NatsConnection, options: BridgeOutOptions): Promise<string> {
  const jsm = await jetStreamManager(nats, nc);
  const name = options.jetstream;
  if (name === undefined) {
    try {
      return await jsm.streams.find(options.subject);
    } catch {
      throw new ShmringError(
        ErrorCode.BRIDGE_CONFIG,
        `no JetStream stream captures subject ${options.subject} (name one to create with --jetstream STREAM)`,
      );
    }
  }
  try {
    await jsm.streams.info(name);
  } catch {
    await jsm.streams.add({
      name,
      subjects: [options.subject],
      duplicate_window: (options.duplicateWindowMs ?? 600_000) * 1_000_000,
    });
  }
  return name;
}

/** The message id of the stream's last message (null when empty or it has none). */
async function lastStoredMsgId(nats: NatsModules, nc: NatsConnection, stream: string): Promise<string | null> {
  const jsm = await nats.jetstream.jetstreamManager(nc);
  const last = (await jsm.streams.info(stream)).state.last_seq;
  if (last === 0) return null;
  try {
    const message = await jsm.streams.getMessage(stream, { seq: last });
    return message?.header.get('Nats-Msg-Id') || null;
  } catch {
    return null; // deleted meanwhile: no expectation for the first publish
  }
}

/** The ring position in the subject's last stored message, when that message came from this ring; else -1. */
async function lastStoredPosition(
  nats: NatsModules,
  nc: NatsConnection,
  stream: string,
  subject: string,
  ringId: string,
): Promise<number> {
  const jsm = await nats.jetstream.jetstreamManager(nc);
  let last;
  try {
    last = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  } catch {
    return -1; // no message on the subject yet
  }
  if (last === null || last.header.get(Header.RING_ID) !== ringId) return -1;
  const position = Number(last.header.get(Header.POSITION));
  return Number.isSafeInteger(position) && position >= 0 ? position : -1;
}
