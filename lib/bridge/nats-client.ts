/**
 * The one place the bridge loads the NATS client. `@nats-io/transport-node` and `@nats-io/jetstream` (CommonJS
 * packages) are optional peer dependencies: the ring library never loads them, only `bridgeOut`/`bridgeIn` do, on
 * first use, and a missing package is ERR_SHMRING_NATS_CLIENT_MISSING saying what to install.
 *
 * Also here: connecting (one clear error when no server answers, or retry with back-off) and following the
 * connection's state, which the bridges use to stop reading while NATS is away.
 */
import type * as JetStreamModule from '@nats-io/jetstream';
import type * as TransportModule from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, ShmringError } from '../errors';

export type { NatsConnection };

/** The NATS client's two modules. */
export interface NatsModules {
  transport: typeof TransportModule;
  jetstream: typeof JetStreamModule;
}

let loaded: NatsModules | null = null;

const INSTALL_HINT = 'npm install @nats-io/transport-node@3 @nats-io/jetstream@3';

/** Loads the client packages (once); ERR_SHMRING_NATS_CLIENT_MISSING when either is not installed. */
export async function loadNats(): Promise<NatsModules> {
  if (loaded !== null) return loaded;
  try {
    // TypeScript compiles these to require(): both packages are CommonJS.
    const transport = await import('@nats-io/transport-node');
    const jetstream = await import('@nats-io/jetstream');
    loaded = { transport, jetstream };
    return loaded;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new ShmringError(
        ErrorCode.NATS_CLIENT_MISSING,
        `the NATS bridge needs the NATS client, which is not installed: ${INSTALL_HINT} (${(err as Error).message.split('\n')[0]})`,
      );
    }
    throw err;
  }
}

/**
 * The server's JetStream manager, or ERR_SHMRING_BRIDGE_CONFIG when the server has no JetStream (both reliable
 * bridges need it: bridge out publishes to a stream, bridge in consumes one).
 */
export async function jetStreamManager(
  nats: NatsModules,
  nc: NatsConnection,
): Promise<Awaited<ReturnType<NatsModules['jetstream']['jetstreamManager']>>> {
  try {
    return await nats.jetstream.jetstreamManager(nc);
  } catch (err) {
    throw new ShmringError(
      ErrorCode.BRIDGE_CONFIG,
      `JetStream is not available on that server: ${(err as Error).message}`,
    );
  }
}

/** How the bridge connects. */
export interface ConnectOptions {
  /** NATS server URL(s), e.g. 'nats://127.0.0.1:4222'. */
  servers: string | string[];
  /** Keep trying (with back-off up to 5 s) when no server answers at start, instead of failing at once. */
  retry?: boolean;
  /** Stops a retrying connect. */
  signal?: AbortSignal;
  /** Connection name shown by the server (`nats server report connections`). */
  name?: string;
  /** Called with a one-line description of each connection event (disconnect, reconnect...). */
  onEvent?: (event: string) => void;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/**
 * Connects, with unlimited reconnects afterwards (a bridge rides out server restarts). Without `retry`, a server that
 * does not answer is ERR_SHMRING_NATS_UNAVAILABLE naming the URLs and the cause.
 */
export async function connectNats(nats: NatsModules, options: ConnectOptions): Promise<NatsConnection> {
  const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
  let delay = FIRST_RETRY_MS;
  for (;;) {
    try {
      return await nats.transport.connect({
        servers,
        name: options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        pingInterval: 2000,
        maxPingOut: 3,
        timeout: 2000,
      });
    } catch (err) {
      if (options.retry !== true) {
        throw new ShmringError(
          ErrorCode.NATS_UNAVAILABLE,
          `cannot connect to NATS at ${servers.join(', ')}: ${(err as Error).message}`,
        );
      }
      options.onEvent?.(
        `NATS at ${servers.join(', ')} not reachable (${(err as Error).message}); retrying in ${delay} ms`,
      );
      await sleep(delay, options.signal);
      if (options.signal?.aborted === true) throw options.signal.reason;
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}

/** Follows the connection's status; `connected` is false from a disconnect until the reconnect. */
export class ConnectionState {
  connected = true;
  reconnects = 0;
  private waiters: Array<() => void> = [];

  constructor(nc: NatsConnection, onEvent?: (event: string) => void) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.connected = false;
          onEvent?.(`NATS connection lost (${s.server})`);
        } else if (s.type === 'reconnect') {
          this.connected = true;
          this.reconnects++;
          onEvent?.(`NATS reconnected (${s.server})`);
          const waiters = this.waiters;
          this.waiters = [];
          for (const wake of waiters) wake();
        }
      }
    })().catch(() => undefined);
  }

  /** Resolves once connected (at once if it is), or after `timeoutMs`. */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
