/**
 * `bridgeIn`: the producer of a local ring, fed from NATS.
 *
 * - With `durable`: a JetStream durable (pull) consumer. Each message is written into the ring as its own batch,
 *   and before the batch commits the ring's upstream record (lib/bridge/upstream-sequence.ts) is given the
 *   message's stream sequence: the ring itself remembers, atomically with its records, the last upstream message it
 *   holds. Only after the commit is the message acknowledged to JetStream. After a crash the next run reads that
 *   sequence back and acknowledges without writing every redelivered message at or below it: nothing is written
 *   twice, nothing skipped. A full ring back-pressures the consumer (the bridge stops taking messages).
 * - Without: a core NATS subscription, at most once. Messages wait in a bounded queue while the ring is full;
 *   past it they are dropped and counted.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { Msg, MsgHdrs } from '@nats-io/transport-node';
import { ErrorCode, ShmringError } from '../errors';
import * as L from '../layout';
import { OfferResult } from '../offer-result';
import { Publication } from '../publication';
import type { ReliablePublication } from '../reliable-publication';
import type { CreateRingOptions } from '../rings';
import { BridgeRunner } from './bridge-runner';
import type { BridgeStatus } from './bridge-status';
import { Header, type Bridge, type BridgeCommonOptions } from './bridge-common';
import { connectNats, jetStreamManager, loadNats, sleep, type NatsConnection, type NatsModules } from './nats-client';
import { readUpstreamMark, upstreamId, UpstreamMarkWriter } from './upstream-sequence';

export interface BridgeInOptions extends BridgeCommonOptions {
  /** JetStream durable consumer name: reliable, resumable. Without it, a core NATS subscription (at most once). */
  durable?: string;
  /** The stream to consume; default: the stream that captures `subject`. */
  stream?: string;
  /** Options of the ring when the bridge has to create it (it attaches to an existing one). Default reliable, 1 MiB. */
  create?: Omit<CreateRingOptions, 'dir'>;
  /** Producer's eviction timeout for stalled ring consumers (ms). Default: the library's. */
  evictionTimeoutMs?: number;
  /** Core mode: messages held while the ring is full before newer ones are dropped. Default 65 536. */
  maxQueued?: number;
  /** JetStream: messages the consumer buffers ahead. Default 1024. */
  prefetch?: number;
}

/** Acknowledge (ack-all consumers) after this many messages or this long, whichever comes first. */
const ACK_EVERY = 64;
const ACK_INTERVAL_MS = 50;

/** Starts a bridge from NATS into the ring `options.ring` (created when missing); resolves once it runs. */
export async function bridgeIn(options: BridgeInOptions): Promise<Bridge> {
  const nats = await loadNats();
  const stop = new AbortController();
  const log = options.onEvent ?? (() => undefined);
  const nc = await connectNats(nats, {
    servers: options.servers,
    retry: options.retry,
    signal: stop.signal,
    name: `shmring bridge in ${options.ring}`,
    onEvent: log,
  });
  let pub: ReliablePublication | null = null;
  try {
    pub = attachOrCreate(options);
    const runner =
      options.durable === undefined
        ? new CoreIn(nats, nc, pub, options, stop.signal, log)
        : await JetStreamIn.start(nats, nc, pub, options, stop.signal, log);
    return runner.launch(stop);
  } catch (err) {
    pub?.close();
    await nc.close();
    throw err;
  }
}

function attachOrCreate(options: BridgeInOptions): ReliablePublication {
  const producerOptions = { evictionTimeoutMs: options.evictionTimeoutMs };
  let pub;
  try {
    pub = Publication.attach(options.ring, { dir: options.dir, openTimeoutMs: 1000, ...producerOptions });
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    pub = Publication.create(options.ring, { ...options.create, dir: options.dir, ...producerOptions });
  }
  if (pub.mode !== 'reliable') {
    pub.close();
    throw new ShmringError(
      ErrorCode.BRIDGE_CONFIG,
      `bridgeIn writes reliable rings only: ${options.ring} is a broadcast ring`,
    );
  }
  return pub;
}

/** The type id a message carries in its header (from a bridgeOut), else 1. */
function typeIdOf(headers: MsgHdrs | undefined): number {
  const text = headers?.get(Header.TYPE_ID);
  const typeId = text === undefined || text === '' ? 1 : Number(text);
  return Number.isInteger(typeId) && typeId >= 0 && typeId <= L.MAX_TYPE_ID ? typeId : 1;
}

abstract class InRunner extends BridgeRunner {
  constructor(
    nc: NatsConnection,
    protected readonly pub: ReliablePublication,
    protected readonly options: BridgeInOptions,
    signal: AbortSignal,
    log: (event: string) => void,
  ) {
    super('in', nc, options, signal, log);
  }

  protected closeRing(): void {
    this.pub.close();
  }

  /**
   * Offers `data` into the ring, waiting (back-pressure) while it is full. With `mark`, the message is its own batch
   * and the upstream record names `sequence` before the batch commits. False when the bridge was stopped first.
   */
  protected async write(
    data: Uint8Array,
    typeId: number,
    mark: UpstreamMarkWriter | null,
    id: number,
    sequence: number,
  ) {
    let wait = 1;
    for (;;) {
      if (data.length > this.pub.maxMessageLength) {
        this.stats.rejected++;
        this.log(`message of ${data.length} bytes is longer than the ring's max message ${this.pub.maxMessageLength}`);
        return true;
      }
      let result: number;
      if (mark === null) {
        result = this.pub.offer(data, typeId);
      } else {
        this.pub.beginBatch();
        result = this.pub.offer(data, typeId);
        if (result >= 0) mark.write(id, result, sequence);
        this.pub.commitBatch();
      }
      if (result >= 0) {
        this.stats.messages++;
        this.stats.bytes += data.length;
        return true;
      }
      if (result === OfferResult.CLOSED) throw new ShmringError(ErrorCode.CLOSED, 'the ring producer was closed');
      if (this.signal.aborted) return false;
      await sleep(wait, this.signal);
      wait = Math.min(wait * 2, 50);
    }
  }
}

/** A message read from the stream directly (to fill a delivery gap). */
interface StoredMessage {
  seq: number;
  data: Uint8Array;
  typeId: number;
}

/** JetStream durable consumer → ring, exactly once into the ring. */
class JetStreamIn extends InRunner {
  private unacked: JsMsg | null = null;
  private unackedCount = 0;

  private constructor(
    private readonly nats: NatsModules,
    nc: NatsConnection,
    pub: ReliablePublication,
    options: BridgeInOptions,
    private readonly stream: string,
    private readonly ackAll: boolean,
    private readonly id: number,
    private lastSequence: number,
    private readonly mark: UpstreamMarkWriter,
    signal: AbortSignal,
    log: (event: string) => void,
  ) {
    super(nc, pub, options, signal, log);
    this.stats.lastUpstreamSequence = lastSequence;
  }

  static async start(
    nats: NatsModules,
    nc: NatsConnection,
    pub: ReliablePublication,
    options: BridgeInOptions,
    signal: AbortSignal,
    log: (event: string) => void,
  ): Promise<JetStreamIn> {
    const jsm = await jetStreamManager(nats, nc);
    let stream = options.stream;
    if (stream === undefined) {
      try {
        stream = await jsm.streams.find(options.subject);
      } catch {
        throw new ShmringError(ErrorCode.BRIDGE_CONFIG, `no JetStream stream captures subject ${options.subject}`);
      }
    }
    const streamInfo = await jsm.streams.info(stream);
    // A sequence means something only for the stream it came from: one deleted and re-created starts again at 1.
    const id = upstreamId(`${stream}@${streamInfo.created}`);
    const recovered = readUpstreamMark(pub.memory.buffer, pub.position);
    const lastSequence = recovered !== null && recovered.upstreamId === id ? recovered.sequence : 0;
    if (recovered !== null && recovered.upstreamId !== id) {
      log(`the ring's last upstream sequence ${recovered.sequence} belongs to another stream: not used`);
    }
    const durable = options.durable as string;
    let consumerInfo;
    try {
      consumerInfo = await jsm.consumers.info(stream, durable);
    } catch {
      const { AckPolicy, DeliverPolicy } = nats.jetstream;
      consumerInfo = await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.All,
        filter_subject: options.subject,
        max_ack_pending: 20_000,
        ...(lastSequence > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSequence + 1 }
          : { deliver_policy: DeliverPolicy.All }),
      });
    }
    const ackAll = consumerInfo.config.ack_policy === nats.jetstream.AckPolicy.All;
    const mark = new UpstreamMarkWriter(pub.memory.buffer, recovered);
    return new JetStreamIn(nats, nc, pub, options, stream, ackAll, id, lastSequence, mark, signal, log);
  }

  protected describe(): Pick<BridgeStatus, 'name' | 'transport' | 'stream'> {
    return { name: this.options.durable as string, transport: 'jetstream', stream: this.stream };
  }

  protected async run(): Promise<void> {
    const js = this.nats.jetstream.jetstream(this.nc);
    const consumer = await js.consumers.get(this.stream, this.options.durable);
    const messages = await consumer.consume({ max_messages: this.options.prefetch ?? 1024 });
    const onAbort = (): void => void messages.close().catch(() => undefined);
    this.signal.addEventListener('abort', onAbort, { once: true });
    const ackTimer = setInterval(() => this.flushAck(), ACK_INTERVAL_MS);
    try {
      for await (const m of messages) {
        if (this.signal.aborted) break;
        if (m.seq <= this.lastSequence) {
          // Already in the ring (a redelivery after a restart): acknowledge, never write it twice.
          this.stats.skipped++;
          this.ack(m);
          continue;
        }
        // A consumer delivers in stream order except redeliveries: messages delivered before a disconnect and lost
        // on the way come again only after the ack wait, behind newer ones. Whatever lies between the ring's last
        // sequence and this one is read from the stream first, so the ring stays in stream order without a gap.
        if (this.lastSequence > 0 && m.seq > this.lastSequence + 1 && !(await this.fillGap(m.seq))) break;
        if (!(await this.write(m.data, typeIdOf(m.headers), this.mark, this.id, m.seq))) break;
        this.lastSequence = m.seq;
        this.stats.lastUpstreamSequence = m.seq;
        this.ack(m);
      }
      if (!this.signal.aborted) {
        // Not stopped by us: the consumer was deleted or the stream went away. Say so rather than idle.
        throw new ShmringError(
          ErrorCode.BRIDGE_CONFIG,
          `JetStream stopped delivering: consumer ${this.options.durable} of stream ${this.stream} is gone`,
        );
      }
    } finally {
      clearInterval(ackTimer);
      this.signal.removeEventListener('abort', onAbort);
      this.flushAck();
      await messages.close().catch(() => undefined);
    }
  }

  /**
   * Writes the stream's messages on the subject with sequences after the ring's last and before `before`, in order,
   * read directly from the stream (retried while NATS is away). False when the bridge was stopped first.
   */
  private async fillGap(before: number): Promise<boolean> {
    let wait = 50;
    while (!this.signal.aborted) {
      let next: StoredMessage | null;
      try {
        next = await this.nextStored(this.lastSequence + 1);
      } catch (err) {
        this.stats.retries++;
        this.log(`reading the stream to fill a delivery gap failed, will retry: ${(err as Error).message}`);
        await sleep(wait, this.signal);
        wait = Math.min(wait * 2, 2000);
        continue;
      }
      if (next === null || next.seq >= before) return true;
      if (!(await this.write(next.data, next.typeId, this.mark, this.id, next.seq))) return false;
      this.lastSequence = next.seq;
      this.stats.lastUpstreamSequence = next.seq;
      this.stats.fetched++;
    }
    return false;
  }

  /** The stream's first message on the subject at or after `seq` (JetStream's message-get API), or null. */
  private async nextStored(seq: number): Promise<StoredMessage | null> {
    const reply = await this.nc.request(
      `$JS.API.STREAM.MSG.GET.${this.stream}`,
      JSON.stringify({ seq, next_by_subj: this.options.subject }),
      { timeout: 5000 },
    );
    const answer = reply.json<{
      error?: { code: number; description: string };
      message?: { seq: number; data?: string; hdrs?: string };
    }>();
    if (answer.error !== undefined) {
      if (answer.error.code === 404) return null;
      throw new Error(answer.error.description);
    }
    const message = answer.message;
    if (message === undefined || !Number.isSafeInteger(message.seq)) throw new Error('malformed message-get answer');
    const data = new Uint8Array(Buffer.from(message.data ?? '', 'base64'));
    const headers = Buffer.from(message.hdrs ?? '', 'base64').toString('latin1');
    const typeLine = headers.split('\r\n').find((l) => l.toLowerCase().startsWith(`${Header.TYPE_ID.toLowerCase()}:`));
    const typeId = typeLine === undefined ? 1 : Number(typeLine.slice(Header.TYPE_ID.length + 1).trim());
    return {
      seq: message.seq,
      data,
      typeId: Number.isInteger(typeId) && typeId >= 0 && typeId <= L.MAX_TYPE_ID ? typeId : 1,
    };
  }

  /** Acknowledges after the ring commit only; an ack-all consumer once per ACK_EVERY messages (or per interval). */
  private ack(m: JsMsg): void {
    if (!this.ackAll) {
      m.ack();
      return;
    }
    this.unacked = m;
    if (++this.unackedCount >= ACK_EVERY) this.flushAck();
  }

  private flushAck(): void {
    if (this.unacked === null) return;
    this.unacked.ack();
    this.unacked = null;
    this.unackedCount = 0;
  }
}

const EMPTY_SLOT = null as unknown as Msg;

/** Core NATS subscription → ring, at most once. */
class CoreIn extends InRunner {
  private readonly queue: Msg[] = [];
  /** Position (Header.POSITION) of the last message received, -1 before the first. */
  private lastPosition = -1;
  /** Index of the next queued message to write. */
  private head = 0;
  private wake: (() => void) | null = null;

  constructor(
    _nats: NatsModules,
    nc: NatsConnection,
    pub: ReliablePublication,
    options: BridgeInOptions,
    signal: AbortSignal,
    log: (event: string) => void,
  ) {
    super(nc, pub, options, signal, log);
  }

  protected describe(): Pick<BridgeStatus, 'name' | 'transport' | 'stream'> {
    return { name: 'core', transport: 'core', stream: null };
  }

  /** Counts a break in the chain of positions: messages bridge out published that never arrived here. */
  private checkChain(headers: MsgHdrs | undefined): void {
    const position = Number(headers?.get(Header.POSITION) ?? NaN);
    if (!Number.isSafeInteger(position)) return;
    const previous = Number(headers?.get(Header.PREVIOUS) || NaN);
    if (this.lastPosition >= 0 && Number.isSafeInteger(previous) && previous !== this.lastPosition) {
      this.stats.gaps++;
      if (previous > this.lastPosition) this.stats.lostBytes += previous - this.lastPosition;
    }
    this.lastPosition = position;
  }

  protected async run(): Promise<void> {
    const maxQueued = this.options.maxQueued ?? 65_536;
    const sub = this.nc.subscribe(this.options.subject, {
      callback: (err, m) => {
        if (err !== null) return;
        this.checkChain(m.headers);
        if (this.queue.length - this.head >= maxQueued) {
          this.stats.dropped++;
          return;
        }
        this.queue.push(m);
        const wake = this.wake;
        this.wake = null;
        wake?.();
      },
    });
    const onAbort = (): void => this.wake?.();
    this.signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!this.signal.aborted) {
        if (this.head === this.queue.length) {
          this.queue.length = 0;
          this.head = 0;
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        // write() waits while the ring is full; the queue grows meanwhile, up to maxQueued.
        const m = this.queue[this.head];
        this.queue[this.head++] = EMPTY_SLOT;
        if (!(await this.write(m.data, typeIdOf(m.headers), null, 0, 0))) break;
        if (this.head >= 4096 && this.head * 2 >= this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
      }
    } finally {
      this.signal.removeEventListener('abort', onAbort);
      sub.unsubscribe();
    }
  }
}
