/**
 * A bridge's live counters, and the small status file through which `shmring stat` shows them: the ring's header has
 * no room for them (and they change per message), so a running bridge rewrites `<dir>/<ring>.bridge-<out|in>.<name>.json`
 * about once a second (write to a temporary name, then rename: a reader never sees half a file) and removes it when
 * it closes. A file left by a killed bridge names a pid that no longer lives; `stat` says so.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Counters of one bridge, updated as it runs. */
export interface BridgeStats {
  /** Messages carried across (published to NATS, or committed into the ring). */
  messages: number;
  /** Payload bytes of those messages. */
  bytes: number;
  /**
   * bridgeIn: upstream (JetStream stream) sequence of the last message committed into the ring; bridgeOut to
   * JetStream: stream sequence of the last acknowledged publish. 0 when none yet.
   */
  lastUpstreamSequence: number;
  /** bridgeOut to JetStream: publishes the server recognised as duplicates of a message id it had (not stored twice). */
  duplicates: number;
  /** bridgeIn: upstream messages skipped because the ring already held them (redeliveries after a restart). */
  skipped: number;
  /** bridgeIn: messages read from the stream directly to fill a delivery gap (redeliveries overtaken by newer ones). */
  fetched: number;
  /** Broadcast bridgeOut: times the ring lapped the bridge. */
  lapped: number;
  /** Core bridgeIn: breaks in the chain of positions bridge out published (messages lost on the way through NATS). */
  gaps: number;
  /** Ring bytes lost: lapped in the ring (bridgeOut), or missing between two received messages (core bridgeIn). */
  lostBytes: number;
  /** Core-NATS bridgeIn: messages dropped because the ring stayed full past the bridge's queue. */
  dropped: number;
  /** Messages refused for good (larger than the ring's max message), each logged. */
  rejected: number;
  /** Publish or delivery attempts that failed and were retried (NATS away, timeouts). */
  retries: number;
  /** Times the NATS connection came back after a loss. */
  reconnects: number;
  /** Whether the NATS connection is up now. */
  connected: boolean;
}

export function emptyStats(): BridgeStats {
  return {
    messages: 0,
    bytes: 0,
    lastUpstreamSequence: 0,
    duplicates: 0,
    skipped: 0,
    fetched: 0,
    lapped: 0,
    gaps: 0,
    lostBytes: 0,
    dropped: 0,
    rejected: 0,
    retries: 0,
    reconnects: 0,
    connected: false,
  };
}

/** What a status file holds. */
export interface BridgeStatus {
  direction: 'out' | 'in';
  ring: string;
  /** The durable name (JetStream consumer or ring consumer) or 'core'. */
  name: string;
  subject: string;
  servers: string[];
  /** 'jetstream' (acked, de-duplicated) or 'core' (at most once). */
  transport: 'jetstream' | 'core';
  stream: string | null;
  pid: number;
  startedAt: number;
  updatedAt: number;
  stats: BridgeStats;
}

const SUFFIX = '.json';

/** The status file of a bridge. */
export function statusPath(dir: string, ring: string, direction: 'out' | 'in', name: string): string {
  return path.join(dir, `${ring}.bridge-${direction}.${name.replace(/[^A-Za-z0-9_.-]/g, '_')}${SUFFIX}`);
}

/** Rewrites a status file; failures are ignored (counters are informational, the bridge must not stop for them). */
export function writeStatus(file: string, status: BridgeStatus): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, `${JSON.stringify(status)}\n`, { mode: 0o600 });
    fs.renameSync(temporary, file);
  } catch {
    try {
      fs.unlinkSync(temporary);
    } catch {
      // nothing was written
    }
  }
}

export function removeStatus(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone
  }
}

/** The status files of the bridges of `ring` in `dir`; unreadable or foreign files are skipped. */
export function readStatuses(dir: string, ring: string): BridgeStatus[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const statuses: BridgeStatus[] = [];
  for (const name of names) {
    if (!name.startsWith(`${ring}.bridge-`) || !name.endsWith(SUFFIX)) continue;
    try {
      const file = path.join(dir, name);
      const st = fs.lstatSync(file);
      if (!st.isFile() || st.size > 64 * 1024) continue;
      const status = JSON.parse(fs.readFileSync(file, 'utf8')) as BridgeStatus;
      if (status.ring === ring && typeof status.stats === 'object' && status.stats !== null) statuses.push(status);
    } catch {
      // being replaced, or not ours
    }
  }
  return statuses;
}

/** Whether process `pid` lives (for a status file left by a killed bridge). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}
