/**
 * `shmring bridge out NAME --nats URL --subject S [--jetstream STREAM]` and
 * `shmring bridge in NAME --nats URL --subject S [--durable D]`: runs a bridge between a ring and NATS until
 * SIGINT/SIGTERM (docs/bridge.md). Events go to stderr, one line each; counters to a status file `shmring stat`
 * shows. NATS down at start is one line and exit 1, unless `--retry`.
 */
import { bridgeIn } from '../bridge/bridge-in';
import { bridgeOut } from '../bridge/bridge-out';
import type { Bridge } from '../bridge/bridge-common';
import {
  ExitCode,
  parseChoice,
  parseDuration,
  parseSize,
  usage,
  type CommandSpec,
  type Output,
  type Parsed,
} from './common';

/** `shmring bridge`: its synopsis, help and options. */
export const spec: CommandSpec = {
  name: 'bridge',
  synopsis: 'out|in NAME --nats URL --subject S [--jetstream STREAM] [--durable D] [--retry]',
  description:
    'Bridges a ring to NATS until Ctrl-C / SIGTERM.\n' +
    '  out: consumes the ring and publishes each message to S. A reliable ring goes to JetStream (acked,\n' +
    '       de-duplicated by message id; --jetstream names the stream, created when missing; the bridge is a\n' +
    '       durable consumer, --durable names it, default bridge-out). A broadcast ring goes to core NATS (at\n' +
    '       most once; what the ring laps is counted).\n' +
    "  in:  is the ring's producer (creates a reliable ring when missing). With --durable D: a JetStream durable\n" +
    '       consumer, resumes exactly after the last message the ring holds. Without: a core subscription.\n' +
    'Counters (messages, bytes, last upstream sequence...) appear in `shmring stat NAME`.',
  options: {
    nats: { type: 'string', value: 'URL', help: 'NATS server URL(s), comma-separated (nats://host:4222)' },
    subject: { type: 'string', value: 'S', help: 'the NATS subject' },
    jetstream: { type: 'string', value: 'STREAM', help: 'out: JetStream stream (created when missing)' },
    stream: { type: 'string', value: 'STREAM', help: 'in: stream to consume (default: the one capturing S)' },
    durable: { type: 'string', value: 'D', help: 'out: the ring durable consumer; in: the JetStream durable' },
    capacity: { type: 'string', value: 'SIZE', help: 'in: capacity of a ring the bridge creates (default 1m)' },
    'eviction-timeout': {
      type: 'string',
      value: 'DURATION',
      help: 'in: evict a ring consumer stalled this long (default 10s)',
    },
    from: { type: 'string', value: 'FROM', help: "out: where a new ring consumer starts: 'earliest' or 'latest'" },
    retry: { type: 'boolean', help: 'keep retrying with back-off while NATS is down at start' },
    quiet: { type: 'boolean', short: 'q', help: 'do not print connection events' },
  },
  positionals: { min: 2, max: 2, names: 'out|in and NAME' },
};

/** Runs `shmring bridge`; resolves with the exit code once stopped. */
export async function run(args: Parsed, output: Output): Promise<number> {
  const v = args.values;
  const direction = parseChoice('bridge', 'direction', args.positionals[0], ['out', 'in'] as const);
  const ring = args.positionals[1];
  if (typeof v.nats !== 'string' || v.nats === '') throw usage('bridge', 'missing --nats URL');
  if (typeof v.subject !== 'string' || v.subject === '') throw usage('bridge', 'missing --subject S');
  const servers = v.nats.split(',').map((s) => s.trim());
  const str = (name: string): string | undefined => {
    const value = v[name];
    return typeof value === 'string' ? value : undefined;
  };
  if (direction === 'out' && ['stream', 'capacity', 'eviction-timeout'].some((o) => str(o) !== undefined)) {
    throw usage('bridge', '--stream, --capacity and --eviction-timeout are options of bridge in');
  }
  if (direction === 'in' && (str('jetstream') !== undefined || str('from') !== undefined)) {
    throw usage('bridge', '--jetstream and --from are options of bridge out (bridge in takes --stream)');
  }
  const from =
    str('from') === undefined
      ? undefined
      : parseChoice('bridge', '--from', str('from') as string, ['earliest', 'latest'] as const);
  const capacity =
    str('capacity') === undefined ? undefined : parseSize('bridge', '--capacity', str('capacity') as string);
  const onEvent = v.quiet === true ? undefined : (line: string): void => output.err(`shmring bridge: ${line}\n`);
  const common = { ring, dir: v.dir, servers, subject: v.subject, retry: v.retry === true, statusFile: true, onEvent };
  const bridge: Bridge =
    direction === 'out'
      ? await bridgeOut({ ...common, jetstream: str('jetstream'), durable: str('durable'), from })
      : await bridgeIn({
          ...common,
          durable: str('durable'),
          stream: str('stream'),
          create: capacity === undefined ? undefined : { capacity },
          evictionTimeoutMs:
            str('eviction-timeout') === undefined
              ? undefined
              : parseDuration('bridge', '--eviction-timeout', str('eviction-timeout') as string),
        });
  onEvent?.(`running: ring ${ring} ${direction === 'out' ? '->' : '<-'} NATS subject ${v.subject}; Ctrl-C stops`);
  const stop = (): void => void bridge.close();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await bridge.done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  const s = bridge.stats;
  onEvent?.(`stopped after ${s.messages} messages (${s.bytes} bytes)`);
  return ExitCode.OK;
}
