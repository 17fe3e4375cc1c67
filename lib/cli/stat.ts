/**
 * `shmring stat NAME [--watch [SECONDS]] [--json]`: the producer and every consumer slot of one ring, with lags
 * (AeronStat-like). `--watch` samples again every SECONDS and adds rates computed from positions over time: a redraw
 * in place on a terminal, one plain line per sample otherwise, one JSON document per line with `--json`.
 */
import {
  ExitCode,
  formatAge,
  formatBytes,
  formatRate,
  parseCommand,
  table,
  usage,
  type CommandSpec,
  type Output,
  type Parsed,
} from './common';
import { pidAlive } from '../bridge/bridge-status';
import { readRingState, type ConsumerState, type RingState } from './ring-state';

/** `shmring stat`: its synopsis, help and options. */
export const spec: CommandSpec = {
  name: 'stat',
  synopsis: 'NAME [--watch [SECONDS]] [--json]',
  description:
    'Shows one ring: its header, the producer (pid, alive, state, position, counters) and each consumer slot\n' +
    '(pid, alive, state, position, lag in bytes and as % of capacity, time since progress, time blocking the\n' +
    'producer; a broadcast receiver that publishes its counters: laps and lost bytes). With --watch, samples\n' +
    'again every SECONDS (default 1) and adds byte and event rates and how long each consumer has not moved;\n' +
    'Ctrl-C stops.',
  options: {
    watch: {
      type: 'string',
      value: '[SECONDS]',
      help: 'refresh every SECONDS (default 1): a redraw on a terminal, lines otherwise',
    },
    json: { type: 'boolean', help: 'one JSON document (one per line with --watch)' },
  },
  positionals: { min: 1, max: 1, names: 'NAME' },
};

/** `--watch` takes an optional value: `--watch 2` and `--watch=2` become `--watch=2`, a bare `--watch` `--watch=1`. */
export function normalizeWatch(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (args[i] !== '--watch') out.push(args[i]);
    else if (i + 1 < args.length && /^\d+(\.\d+)?$/.test(args[i + 1])) out.push(`--watch=${args[++i]}`);
    else out.push('--watch=1');
  }
  return out;
}

/** Parses `stat`'s arguments (with the optional `--watch` value). */
export function parse(args: string[]): Parsed {
  return parseCommand(spec, normalizeWatch(args));
}

/** A sample with the rates since the previous one (watch mode). */
export interface StatSample extends RingState {
  /**
   * Bytes per second since the previous sample (rounded); null on the first sample, or for a consumer new since.
   * Reliable rings add back-pressure events per second.
   */
  rates: {
    producer: number | null;
    consumers: Record<string, number | null>;
    backPressureEvents?: number | null;
  } | null;
  /** Per consumer slot: ms since its position last changed, as observed since the watch began. */
  idleMs?: Record<string, number>;
}

/** Keeps the previous sample and when each consumer last moved; turns samples into rates. */
export class RateTracker {
  private previous: RingState | null = null;
  private readonly lastMove = new Map<string, { position: number; at: number }>();

  /** Adds `state` and returns it with rates and idle times. */
  sample(state: RingState): StatSample {
    const prev = this.previous;
    const seconds = prev === null ? 0 : (state.sampledAt - prev.sampledAt) / 1000;
    const consumers: Record<string, number | null> = {};
    const idleMs: Record<string, number> = {};
    for (const c of state.consumers) {
      const key = `${c.slot}`;
      const before = prev?.consumers.find((p) => p.slot === c.slot && p.pid === c.pid);
      consumers[key] =
        before === undefined || seconds <= 0 ? null : Math.round((c.position - before.position) / seconds);
      const move = this.lastMove.get(key);
      if (move === undefined || move.position !== c.position) {
        this.lastMove.set(key, { position: c.position, at: state.sampledAt });
      }
      idleMs[key] = state.sampledAt - (this.lastMove.get(key)?.at ?? state.sampledAt);
    }
    const perSecond = (now: number | null | undefined, before: number | null | undefined): number | null =>
      typeof now === 'number' && typeof before === 'number' && seconds > 0
        ? Math.round((now - before) / seconds)
        : null;
    const producer = perSecond(state.producer.position, prev?.producer.position);
    this.previous = state;
    if (prev === null) return { ...state, rates: null, idleMs };
    const rates: NonNullable<StatSample['rates']> = { producer, consumers };
    if (state.producer.counters !== undefined) {
      rates.backPressureEvents = perSecond(
        state.producer.counters.backPressureEvents,
        prev.producer.counters?.backPressureEvents,
      );
    }
    return { ...state, rates, idleMs };
  }
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/**
 * A durable consumer's whereabouts: 'attached', 'away 12 s' (since it closed, or since the producer found it dead),
 * 'away' when no one noticed its death yet (the producer notices once the consumer holds it back).
 */
function durableWhereabouts(c: ConsumerState, sampledAt: number): string {
  if (c.alive) return 'attached';
  const since = c.durable?.detachedSince ?? null;
  return since === null ? 'away' : `away ${formatAge(Math.max(0, sampledAt - since))}`;
}

/** A count, or '?' for a counter the header holds garbage in. */
function count(value: number | null | undefined): string {
  return typeof value === 'number' ? `${value}` : '?';
}

/** An age in the past, or '-' when there is none. */
function age(ms: number | null | undefined): string {
  return typeof ms === 'number' ? formatAge(ms) : '-';
}

function countersLine(s: RingState): string | null {
  const c = s.producer.counters;
  if (c === undefined) return null;
  return (
    `counters  back-pressure events ${count(c.backPressureEvents)}, evicted consumers ` +
    `${count(c.evictedConsumers)}, reaped consumers ${count(c.reapedConsumers)}`
  );
}

function producerLine(s: RingState): string {
  const p = s.producer;
  // Many producers share a many-to-one ring (a shared lock): no single pid or state; the epoch counts joins.
  if (s.mode === 'many-to-one')
    return `${p.alive ? 'some alive' : 'none alive'}, ${p.epoch} joined, tail ${p.position}`;
  const who = p.state === 'none' && !p.alive ? 'none attached yet' : `${p.alive ? 'alive' : 'dead'}, pid ${p.pid}`;
  const where =
    s.mode === 'broadcast'
      ? `position ${p.position} (tail intent ${p.tailIntent}, latest ${p.latest})`
      : `position ${p.position} (checkpoint ${p.checkpoint})`;
  return `${who}, state ${p.state}, epoch ${p.epoch}, ${where}`;
}

/** The NATS bridges of the ring (docs/bridge.md): the upstream sequence in the ring, then one line per bridge. */
function bridgeLines(s: StatSample): string[] {
  const lines: string[] = [];
  if (s.upstream !== null)
    lines.push(`upstream  sequence ${s.upstream.sequence} committed up to position ${s.upstream.endPosition}`);
  for (const b of s.bridges) {
    const alive = pidAlive(b.pid) ? 'alive' : 'dead';
    const arrow = b.direction === 'out' ? `-> ${b.subject}` : `<- ${b.subject}`;
    const via = b.transport === 'jetstream' ? `JetStream ${b.stream ?? ''} ${b.name}`.trimEnd() : 'core NATS';
    const st = b.stats;
    const losses =
      b.transport === 'core'
        ? `, lapped ${st.lapped}, gaps ${st.gaps} (${formatBytes(st.lostBytes)} lost), dropped ${st.dropped}`
        : `, duplicates ${st.duplicates}, skipped ${st.skipped}, gap-filled ${st.fetched}`;
    lines.push(
      `bridge    ${b.direction} ${arrow} (${via}), pid ${b.pid} ${alive}, ${st.connected ? 'connected' : 'NATS away'}: ` +
        `${st.messages} messages, ${formatBytes(st.bytes)}, last upstream seq ${st.lastUpstreamSequence}${losses}, ` +
        `reconnects ${st.reconnects} (updated ${formatAge(s.sampledAt - b.updatedAt)} ago)`,
    );
  }
  return lines;
}

/** The text `stat` prints for a sample (with rate columns in watch mode). */
export function formatStat(s: StatSample, watching: boolean): string {
  const lines = [
    `ring      ${s.name} (${s.path})`,
    `mode      ${s.mode}, layout ${s.version}, capacity ${formatBytes(s.capacity)}, max message ` +
      `${formatBytes(s.maxMessageLength)}, ${s.maxConsumers} ${s.mode === 'reliable' ? 'consumer' : 'receiver'} slots, ` +
      `file ${formatBytes(s.fileLength)}`,
    `created   ${new Date(s.createdAt).toISOString()} by pid ${s.creatorPid} ` +
      `(${formatAge(s.sampledAt - s.createdAt)} ago)`,
    `producer  ${producerLine(s)}`,
  ];
  const counters = countersLine(s);
  if (counters !== null) lines.push(counters);
  if (watching) {
    const rate = s.rates?.producer;
    const events = s.rates?.backPressureEvents;
    lines.push(
      `rate      ${rate === null || rate === undefined ? '-' : formatRate(rate)}` +
        (events === null || events === undefined ? '' : `, ${events} back-pressure events/s`),
    );
  }
  lines.push(...bridgeLines(s));
  lines.push('');
  const broadcast = s.mode === 'broadcast';
  if (s.consumers.length === 0) {
    lines.push(
      broadcast
        ? 'consumers none listed: a broadcast receiver takes a slot only to publish its counters (publishCounters)'
        : 'consumers none',
    );
  } else {
    const header = broadcast
      ? ['SLOT', 'PID', 'ALIVE', 'POSITION', 'LAG', 'LAPS', 'LOST']
      : ['SLOT', 'PID', 'ALIVE', 'STATE', 'POSITION', 'LAG', 'LAG%', 'PROGRESS', 'BLOCKING'];
    const durable = !broadcast && s.consumers.some((c) => c.durable !== null);
    if (durable) header.push('DURABLE', 'TIMEOUT', 'DETACHED');
    if (watching) header.push('RATE', 'IDLE');
    lines.push(
      table(
        header,
        s.consumers.map((c) => {
          const row = broadcast
            ? [
                `${c.slot}`,
                `${c.pid}`,
                yesNo(c.alive),
                `${c.position}`,
                `${c.lag ?? '-'}`,
                count(c.lappedCount),
                count(c.lostBytes),
              ]
            : [
                `${c.slot}`,
                `${c.pid}`,
                yesNo(c.alive),
                c.state,
                `${c.position}`,
                `${c.lag ?? '-'}`,
                `${c.lagPercent ?? '-'}`,
                age(c.sinceProgressMs),
                age(c.blockedMs),
              ];
          if (durable) {
            row.push(
              c.durable?.name ?? '-',
              c.durable === null ? '-' : formatAge(c.durable.timeoutMs),
              c.durable === null ? '-' : durableWhereabouts(c, s.sampledAt),
            );
          }
          if (watching) {
            const rate = s.rates?.consumers[`${c.slot}`];
            row.push(
              rate === null || rate === undefined ? '-' : formatRate(rate),
              formatAge(s.idleMs?.[`${c.slot}`] ?? 0),
            );
          }
          return row;
        }),
      ).trimEnd(),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** One plain line per sample (watch mode without a terminal). */
export function formatStatLine(s: StatSample): string {
  const rate = (r: number | null | undefined): string => (r === null || r === undefined ? '-' : formatRate(r));
  const counters = s.producer.counters;
  const parts = [
    new Date(s.sampledAt).toISOString(),
    `producer ${s.producer.alive ? 'alive' : 'dead'} position ${s.producer.position} rate ${rate(s.rates?.producer)}`,
  ];
  if (counters !== undefined) {
    const events = s.rates?.backPressureEvents;
    parts.push(
      `back-pressure ${count(counters.backPressureEvents)} (${events === null || events === undefined ? '-' : events}/s) ` +
        `evicted ${count(counters.evictedConsumers)} reaped ${count(counters.reapedConsumers)}`,
    );
  }
  for (const c of s.consumers) {
    const lag = c.lag === null ? 'evicted' : `lag ${c.lag} (${c.lagPercent}%)`;
    const durable =
      c.durable === null ? '' : ` durable ${JSON.stringify(c.durable.name)} ${durableWhereabouts(c, s.sampledAt)}`;
    const extra =
      s.mode === 'broadcast'
        ? ` laps ${count(c.lappedCount)} lost ${count(c.lostBytes)}`
        : c.blockedMs === null || c.blockedMs === undefined
          ? ''
          : ` blocking ${formatAge(c.blockedMs)}`;
    parts.push(
      `slot ${c.slot} ${c.alive ? 'alive' : 'dead'}${durable} position ${c.position} ${lag}${extra} ` +
        `rate ${rate(s.rates?.consumers[`${c.slot}`])}`,
    );
  }
  return `${parts.join(' | ')}\n`;
}

/** Runs `shmring stat`; resolves with the exit code (watch mode: when interrupted). */
export async function run(args: Parsed, output: Output, stdoutIsTty: boolean): Promise<number> {
  const name = args.positionals[0];
  const dir = args.values.dir;
  const json = args.values.json === true;
  const watch = typeof args.values.watch === 'string' ? args.values.watch : undefined;
  const read = (): RingState => readRingState(name, { dir, openTimeoutMs: 1000 });
  if (watch === undefined) {
    const state = read();
    output.out(json ? `${JSON.stringify(state)}\n` : formatStat({ ...state, rates: null }, false));
    return ExitCode.OK;
  }
  if (!/^\d+(\.\d+)?$/.test(watch) || Number(watch) < 0.1) {
    throw usage('stat', `--watch must be a number of seconds, at least 0.1: --watch=${watch}`);
  }
  const tracker = new RateTracker();
  const redraw = stdoutIsTty && !json;
  const show = (): void => {
    const s = tracker.sample(read());
    if (json) output.out(`${JSON.stringify(s)}\n`);
    else if (redraw) output.out(`\x1b[H\x1b[2J${formatStat(s, true)}\nevery ${watch} s; Ctrl-C to stop\n`);
    else output.out(formatStatLine(s));
  };
  return new Promise<number>((resolve, reject) => {
    const stop = (): void => {
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(ExitCode.OK);
    };
    const tick = (): void => {
      try {
        show();
      } catch (err) {
        clearInterval(timer);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        reject(err);
      }
    };
    const timer = setInterval(tick, Number(watch) * 1000);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    tick();
  });
}
