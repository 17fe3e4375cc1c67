/**
 * What the recovery tests look at in a ring beyond its API: the header words the wake protocol uses, whether a
 * process sleeps in the kernel on a ring's wake word, what each FUTEX_WAKE woke, and offering a seeded range with
 * back-pressure. The scaffolding (names, children, cleanup) is test/helpers/ring-env.ts.
 */
import * as L from '../../lib/layout';
import type { ReliablePublication } from '../../lib/reliable-publication';
import { kernelWait } from '../fixtures/kernel-wait';
import * as messages from '../fixtures/recovery/messages';
import type { RunsSummary } from '../fixtures/ring/sequence';

// The fixtures are plain CommonJS; the tests use the same modules the children run.
export { messages };

/** The int32 view of a ring's mapping: the header words the protocol uses, read as another process sees them. */
export function ringWords(pub: ReliablePublication): {
  wakeSequence(): number;
  /** The length word of the record slot at the producer's tail: 0 empty, SLEEPING_MARK when a consumer sleeps. */
  tailWord(): number;
} {
  const i32 = new Int32Array(pub.memory.buffer);
  const dataOffset = L.int32Index(Atomics.load(i32, L.int32Index(L.DATA_OFFSET_OFFSET)));
  return {
    wakeSequence: () => Atomics.load(i32, L.int32Index(L.WAKE_SEQUENCE_OFFSET)),
    tailWord: () => Atomics.load(i32, dataOffset + L.int32Index(pub.position & (pub.capacity - 1))),
  };
}

/** True when a thread of process `pid` is blocked in the kernel waiting on the wake word of the ring file `ringPath`. */
export function sleepsInKernel(pid: number, ringPath: string): boolean {
  return kernelWait(pid, ringPath, L.WAKE_SEQUENCE_OFFSET) !== null;
}

/** Records what each FUTEX_WAKE the producer issues returns: how many sleepers (in any process) it woke. */
export function recordWakes(pub: ReliablePublication): number[] {
  const woken: number[] = [];
  const memory = pub.memory as unknown as { wake(byteOffset: number): number };
  const wake = memory.wake.bind(memory);
  memory.wake = (byteOffset) => {
    const count = wake(byteOffset);
    woken.push(count);
    return count;
  };
  return woken;
}

/**
 * Offers messages `from .. to - 1` of `tag`, retrying on back-pressure (yielding to the event loop so IPC and other
 * consumers progress) until `deadlineMs`. Returns the number of BACK_PRESSURED results seen.
 */
export async function offerRange(
  pub: ReliablePublication,
  seed: number,
  tag: number,
  from: number,
  to: number,
  deadlineMs = 20_000,
): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  let backPressured = 0;
  for (let seq = from; seq < to; seq++) {
    const message = messages.makeMessage(seed, tag, seq);
    for (;;) {
      const result = pub.offer(message);
      if (result >= 0) break;
      backPressured++;
      if (Date.now() > deadline) throw new Error(`offer of seq ${seq} still failing after ${deadlineMs} ms: ${result}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return backPressured;
}

/** What a consumer fixture reports when it is done. */
export type DoneReport = RunsSummary & { waits?: number };
