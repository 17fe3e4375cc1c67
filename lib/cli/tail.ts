/**
 * `shmring tail NAME`: joins the ring as a consumer and prints each message as it arrives. It sleeps on the ring's
 * futex (`sub.wait()`) while nothing arrives, and leaves (closing the subscription, which frees its slot) after
 * `--count` messages, on SIGINT/SIGTERM, when the producer closed and everything was read, or when stdout closes.
 */
import { Subscription } from '../subscription';
import { ExitCode, parseChoice, parseCount, type CommandSpec, type Parsed } from './common';

/** `shmring tail`: its synopsis, help and options. */
export const spec: CommandSpec = {
  name: 'tail',
  synopsis: 'NAME [--from earliest|latest] [--format hex|utf8|json] [--count N]',
  description:
    'Joins the ring as a consumer (a reliable ring: it takes a slot and holds the producer back like any\n' +
    'consumer) and prints each message as it arrives. Stops after --count messages, on Ctrl-C, or when the\n' +
    'producer closed the ring and every message was printed; the slot is freed on the way out.',
  options: {
    from: {
      type: 'string',
      value: 'FROM',
      help: "'latest' (default): new messages only; 'earliest': all still in the ring",
    },
    format: {
      type: 'string',
      value: 'FORMAT',
      help: "'utf8' (default): the payload as text; 'hex'; 'json': one object per line",
    },
    count: { type: 'string', short: 'n', value: 'N', help: 'stop after N messages' },
  },
  positionals: { min: 1, max: 1, names: 'NAME' },
};

type Format = 'hex' | 'utf8' | 'json';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One message as `tail` prints it. `position` is the ring position just past the message (Aeron's
 * `header.position()`).
 */
export function formatMessage(format: Format, data: Uint8Array, typeId: number, position: number): string {
  if (format === 'utf8') return `${Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8')}\n`;
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.length);
  if (format === 'hex') return `position=${position} typeId=${typeId} length=${data.length} ${bytes.toString('hex')}\n`;
  let text: string | null = null;
  try {
    text = strictUtf8.decode(data);
  } catch {
    text = null; // not UTF-8: base64 below
  }
  const payload = text === null ? { base64: bytes.toString('base64') } : { utf8: text };
  return `${JSON.stringify({ position, typeId, length: data.length, ...payload })}\n`;
}

/** Runs `shmring tail`; resolves with the exit code once it has left the ring. */
export async function run(args: Parsed, stdout: NodeJS.WritableStream): Promise<number> {
  const name = args.positionals[0];
  const v = args.values;
  const from = parseChoice('tail', '--from', typeof v.from === 'string' ? v.from : 'latest', ['earliest', 'latest']);
  const format = parseChoice('tail', '--format', typeof v.format === 'string' ? v.format : 'utf8', [
    'hex',
    'utf8',
    'json',
  ] as const);
  const count = typeof v.count === 'string' ? parseCount('tail', '--count', v.count) : Infinity;

  const sub = Subscription.open(name, { dir: v.dir, from, openTimeoutMs: 1000 });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  const onStdoutError = (): void => stop.abort(); // EPIPE: the reader went away
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  stdout.on('error', onStdoutError);
  let printed = 0;
  const got: { data: Uint8Array | null; typeId: number } = { data: null, typeId: 0 };
  const take = (buffer: Uint8Array, offset: number, length: number, typeId: number): void => {
    got.data = buffer.slice(offset, offset + length);
    got.typeId = typeId;
  };
  try {
    while (printed < count && !stop.signal.aborted) {
      // One message per poll: the position after the poll is the end of that message.
      if (sub.poll(take, 1) === 0 || got.data === null) {
        let ready: boolean;
        try {
          ready = await sub.wait({ signal: stop.signal });
        } catch {
          break; // aborted by a signal
        }
        if (!ready && sub.producerClosed && !sub.hasData()) break;
        continue;
      }
      const message = got.data;
      got.data = null;
      printed++;
      if (!stdout.write(formatMessage(format, message, got.typeId, sub.position))) {
        // Back-pressure from a slow reader of our stdout: stop polling (the ring holds the rest) until it drains.
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stdout.off('drain', done);
            stop.signal.removeEventListener('abort', done);
            resolve();
          };
          stdout.on('drain', done);
          stop.signal.addEventListener('abort', done, { once: true });
        });
      }
    }
  } finally {
    sub.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stdout.off('error', onStdoutError);
  }
  return ExitCode.OK;
}
