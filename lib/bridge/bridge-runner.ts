/**
 * The life cycle both bridge directions share: a run loop started once connected, the connection's state, live
 * counters mirrored to a status file about once a second, and a `Bridge` handle whose `close()` stops the loop and
 * then releases the ring and the connection (in that order: the loop may be using both).
 */
import type { Bridge, BridgeCommonOptions } from './bridge-common';
import {
  emptyStats,
  removeStatus,
  statusPath,
  writeStatus,
  type BridgeStats,
  type BridgeStatus,
} from './bridge-status';
import { ConnectionState, sleep, type NatsConnection } from './nats-client';

const STATUS_INTERVAL_MS = 1000;

export abstract class BridgeRunner {
  readonly stats: BridgeStats = emptyStats();
  protected readonly connection: ConnectionState;
  private statusFile: string | null = null;
  private readonly startedAt = Date.now();

  constructor(
    private readonly direction: 'out' | 'in',
    protected readonly nc: NatsConnection,
    private readonly common: BridgeCommonOptions,
    protected readonly signal: AbortSignal,
    protected readonly log: (event: string) => void,
  ) {
    this.connection = new ConnectionState(nc, log);
  }

  /** The loop: runs until `signal` aborts (resolves) or something stops it for good (rejects). */
  protected abstract run(): Promise<void>;
  /** Leaves the ring (after the loop ended). */
  protected abstract closeRing(): void;
  protected abstract describe(): Pick<BridgeStatus, 'name' | 'transport' | 'stream'>;

  /** Starts the loop; `stop` is the controller whose signal the runner was given. */
  launch(stop: AbortController): Bridge {
    const o = this.common;
    if (o.statusFile === true) {
      this.statusFile = statusPath(o.dir ?? '/dev/shm', o.ring, this.direction, this.describe().name);
    }
    const timer = setInterval(() => this.writeStatus(), STATUS_INTERVAL_MS);
    this.writeStatus();
    const done = this.run().finally(async () => {
      clearInterval(timer);
      this.closeRing();
      if (this.statusFile !== null) removeStatus(this.statusFile);
      await this.nc.close().catch(() => undefined);
    });
    done.catch(() => undefined); // reported through `done`
    return {
      stats: this.stats,
      done,
      close: async () => {
        stop.abort();
        await done.catch(() => undefined);
      },
    };
  }

  /** Waits before another attempt: until NATS is back, at most `ms`. */
  protected async backOff(ms: number): Promise<void> {
    if (this.connection.connected) await sleep(ms, this.signal);
    else await Promise.race([this.connection.whenConnected(ms), sleep(ms, this.signal)]);
  }

  private writeStatus(): void {
    this.stats.connected = this.connection.connected;
    this.stats.reconnects = this.connection.reconnects;
    if (this.statusFile === null) return;
    const o = this.common;
    writeStatus(this.statusFile, {
      direction: this.direction,
      ring: o.ring,
      ...this.describe(),
      subject: o.subject,
      servers: Array.isArray(o.servers) ? o.servers : [o.servers],
      pid: process.pid,
      startedAt: this.startedAt,
      updatedAt: Date.now(),
      stats: this.stats,
    });
  }
}
