/**
 * The bridge's end-to-end pipeline, as real processes: producer → ring A → `shmring bridge out` → NATS →
 * `shmring bridge in` → ring B → consumer, each side optionally inside its own network namespace, with chaos at set
 * points of the stream (kill -9 a bridge and restart it, kill -9 the nats-server and restart it). The producer and
 * the consumer are the ring suite's fixtures: every message carries its sequence number and a checksum, so the
 * consumer's verifier classifies anything that is not "each message once, in order, intact".
 */
import path from 'path';
import { readStatuses, type BridgeStatus } from '../../lib/bridge/bridge-status';
import { readRingState } from '../../lib/cli/ring-state';
import { createRing } from '../../lib/rings';
import type { BroadcastSummary, ReliableSummary, Run } from '../fixtures/ring/sequence';
import { CLI, RING_FIXTURE_DIR, uniqueBridgeRing, startProcess, type NatsServer, type Proc } from './nats-env';

const STREAM_INFO = path.resolve(__dirname, '..', 'fixtures', 'bridge', 'stream-info.js');
import { SHM_DIR } from './ring-env';

export type Chaos = 'kill-bridge-out' | 'kill-bridge-in' | 'kill-nats';

export interface PipelineOptions {
  mode: 'reliable' | 'broadcast';
  count: number;
  /** The server both bridges talk to (may run in a namespace), and the URL each side reaches it at. */
  server: NatsServer;
  urlA: string;
  urlB: string;
  nsA?: string;
  nsB?: string;
  /** Chaos events, each fired once ring B holds that fraction of `count` (reliable) or after that fraction of time. */
  chaos: Array<{ at: number; what: Chaos }>;
  /** Broadcast: the producer sleeps 1 ms after every this many messages. */
  paceEvery?: number;
  deadlineMs: number;
  log?: (line: string) => void;
}

export interface PipelineResult {
  consumer: (ReliableSummary | BroadcastSummary) & { timedOut: boolean; error: string | null };
  /** Status of each bridge read just before it was stopped (last one of each direction). */
  bridgeOut: BridgeStatus | null;
  bridgeIn: BridgeStatus | null;
  /** Reliable: messages the JetStream stream holds at the end. */
  streamMessages: number | null;
  /** The upstream sequence ring B remembers at the end (its upstream record). */
  ringBUpstream: number | null;
  elapsedMs: number;
  chaosFired: Chaos[];
}

const SUBJECT_PREFIX = 'shmring.test';

function nodeProcess(script: string, args: string[], netns: string | undefined, label: string, all: Proc[]): Proc {
  const p = startProcess(process.execPath, [script, ...args], { netns, label });
  all.push(p);
  return p;
}

async function until(what: string, predicate: () => boolean, deadline: number): Promise<void> {
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs the pipeline and returns what the consumer verified and what the bridges counted. */
export async function runPipeline(o: PipelineOptions): Promise<PipelineResult> {
  const all: Proc[] = [];
  try {
    return await pipeline(o, all);
  } catch (err) {
    // Whatever went wrong, say what every process printed.
    let state = '';
    try {
      state = describeState();
    } catch (e) {
      state = String(e);
    }
    throw new Error(`${(err as Error).message}\n${all.map((p) => p.describe()).join('\n')}\n${state}`);
  }
}

/** What the bridges' status files and ring B say, for a failure's message. */
let describeState: () => string = () => '';

async function pipeline(o: PipelineOptions, all: Proc[]): Promise<PipelineResult> {
  const started = Date.now();
  const deadline = started + o.deadlineMs;
  const log = o.log ?? (() => undefined);
  const ringA = uniqueBridgeRing(`bridge-a-${o.mode}`);
  const ringB = uniqueBridgeRing(`bridge-b-${o.mode}`);
  const subject = `${SUBJECT_PREFIX}.${o.mode}.${process.pid}.${Date.now()}`;
  const stream = `SHMRING_TEST_${process.pid}_${Date.now()}`;
  const durableIn = 'bridge-test-in';
  const run: Run = { mode: o.mode, seed: 0x5eed ^ o.count, minLength: 8, maxLength: 64 };
  const reliable = o.mode === 'reliable';
  describeState = () =>
    JSON.stringify({
      out: readStatuses(SHM_DIR, ringA),
      in: readStatuses(SHM_DIR, ringB),
      ringA: readRingState(ringA, {}).consumers,
      ringB: readRingState(ringB, {}).upstream,
    });
  createRing(ringA, { mode: o.mode, capacity: reliable ? 256 * 1024 : 16 * 1024 });
  createRing(ringB, { capacity: 256 * 1024 });

  const consumer = nodeProcess(
    path.join(RING_FIXTURE_DIR, 'consumer.js'),
    [
      JSON.stringify({
        name: ringB,
        from: 'earliest',
        run,
        count: reliable ? o.count : undefined,
        deadlineMs: o.deadlineMs,
      }),
    ],
    o.nsB,
    'consumer',
    all,
  );
  await consumer.waitLine('ready');

  const outArgs = ['bridge', 'out', ringA, '--nats', o.urlA, '--subject', subject];
  if (reliable) outArgs.push('--jetstream', stream);
  const inArgs = ['bridge', 'in', ringB, '--nats', o.urlB, '--subject', subject];
  if (reliable) inArgs.push('--durable', durableIn, '--stream', stream);
  const startOut = async (): Promise<Proc> => {
    const p = nodeProcess(CLI, outArgs, o.nsA, 'bridge out', all);
    await p.waitLine('running', 20_000, true);
    return p;
  };
  const startIn = async (): Promise<Proc> => {
    const p = nodeProcess(CLI, inArgs, o.nsB, 'bridge in', all);
    await p.waitLine('running', 20_000, true);
    return p;
  };
  let out = await startOut(); // creates the stream bridge in consumes
  let inn = await startIn();

  const producer = nodeProcess(
    path.join(RING_FIXTURE_DIR, 'producer.js'),
    [
      JSON.stringify({
        name: ringA,
        run,
        count: o.count,
        deadlineMs: o.deadlineMs,
        attach: { evictionTimeoutMs: 120_000 },
        paceEvery: reliable ? undefined : (o.paceEvery ?? 50),
        paceMs: 1,
      }),
    ],
    o.nsA,
    'producer',
    all,
  );

  const status = (direction: 'out' | 'in'): BridgeStatus | null =>
    readStatuses(SHM_DIR, direction === 'out' ? ringA : ringB).find(
      (s) => s.pid === (direction === 'out' ? out : inn).process.pid,
    ) ?? null;
  let lastOut: BridgeStatus | null = null;
  let lastIn: BridgeStatus | null = null;
  const remember = (): void => {
    lastOut = status('out') ?? lastOut;
    lastIn = status('in') ?? lastIn;
  };
  // Progress: reliable, the upstream sequence ring B holds (exactly its message count); broadcast, the producer's time.
  const inRingB = (): number => readRingState(ringB, { openTimeoutMs: 1000 }).upstream?.sequence ?? 0;
  const fired: Chaos[] = [];
  const producerStarted = Date.now();
  const expectedProducerMs = reliable ? 0 : (o.count / (o.paceEvery ?? 50)) * 1.2;
  for (const event of [...o.chaos].sort((a, b) => a.at - b.at)) {
    if (reliable)
      await until(`ring B to hold ${event.at * o.count} messages`, () => inRingB() >= event.at * o.count, deadline);
    else
      await until(
        'the producer to get there',
        () => Date.now() - producerStarted >= event.at * expectedProducerMs,
        deadline,
      );
    remember();
    log(`chaos: ${event.what} at ${reliable ? inRingB() : `${Date.now() - producerStarted} ms`}`);
    if (event.what === 'kill-bridge-out') {
      await out.kill();
      out = await startOut();
    } else if (event.what === 'kill-bridge-in') {
      await inn.kill();
      inn = await startIn();
    } else {
      await o.server.kill();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await o.server.launch();
    }
    fired.push(event.what);
  }
  const produced = await producer.json<{ sent: number }>('done ', Math.max(1000, deadline - Date.now()));
  log(`producer done: ${JSON.stringify(produced)}`);
  if (!reliable) {
    // Let what is in flight arrive, then stop bridge in cleanly: ring B's producer closes and the consumer ends.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    remember();
    inn.process.kill('SIGTERM');
    await inn.exited;
  }
  const report = await consumer.json<PipelineResult['consumer']>('report ', Math.max(1000, deadline - Date.now()));
  remember();
  let streamMessages: number | null = null;
  if (reliable) {
    const info = nodeProcess(STREAM_INFO, [o.urlB, stream], o.nsB, 'stream info', all);
    streamMessages = (await info.json<{ messages: number }>('info ', 15_000)).messages;
  }
  const ringBUpstream = readRingState(ringB, {}).upstream?.sequence ?? null;
  return {
    ringBUpstream,
    consumer: report,
    bridgeOut: lastOut,
    bridgeIn: lastIn,
    streamMessages,
    elapsedMs: Date.now() - started,
    chaosFired: fired,
  };
}
