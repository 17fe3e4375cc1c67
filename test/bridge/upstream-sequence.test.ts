/**
 * The ring's upstream record (docs/FORMAT.md, "Upstream record"): after any crash, the sequence read back names the
 * last upstream message whose batch committed, never one that did not, whatever point the writer died at.
 */
import { describe, expect, it } from 'vitest';
import { readUpstreamMark, upstreamId, UpstreamMarkWriter } from '../../lib/bridge/upstream-sequence';
import * as L from '../../lib/layout';
import { Publication } from '../../lib/publication';
import type { ReliablePublication } from '../../lib/reliable-publication';
import { uniqueBridgeRing } from '../helpers/nats-env';
import { closeAfterTest, pokeInt32, SHM_DIR } from '../helpers/ring-env';

const ID = upstreamId('STREAM@2026-12-01T00:00:00Z');

/** Writes `message` as a batch of its own whose upstream record says `sequence`; commits unless told not to. */
function writeMarked(pub: ReliablePublication, mark: UpstreamMarkWriter, sequence: number, commit = true): number {
  pub.beginBatch();
  const end = pub.offer(new Uint8Array([sequence & 0xff, 1, 2, 3]));
  expect(end).toBeGreaterThan(0);
  mark.write(ID, end, sequence);
  if (commit) pub.commitBatch();
  return end;
}

/** Dies without committing: the memory (and with it the producer lock) goes, the open batch stays unpublished. */
function crash(pub: ReliablePublication): void {
  pub.memory.close();
}

function attach(name: string): ReliablePublication {
  return closeAfterTest(Publication.attach(name) as ReliablePublication);
}

describe('upstream record', () => {
  it('is empty in a new ring', () => {
    const pub = closeAfterTest(Publication.create(uniqueBridgeRing('up-empty'), { capacity: 4096 }));
    expect(readUpstreamMark(pub.memory.buffer, pub.position)).toBeNull();
  });

  it('names the last committed sequence after a clean close and re-attach', () => {
    const name = uniqueBridgeRing('up-clean');
    const pub = Publication.create(name, { capacity: 4096 });
    const mark = new UpstreamMarkWriter(pub.memory.buffer, null);
    for (let seq = 1; seq <= 100; seq++) writeMarked(pub, mark, seq * 3);
    const end = pub.position;
    pub.close();
    const again = attach(name);
    expect(again.position).toBe(end);
    expect(readUpstreamMark(again.memory.buffer, again.position)).toEqual({
      upstreamId: ID,
      sequence: 300,
      endPosition: end,
      slot: 1,
    });
  });

  it('ignores a batch whose mark was written but that never committed (crash before the commit)', () => {
    const name = uniqueBridgeRing('up-uncommitted');
    const pub = Publication.create(name, { capacity: 4096 });
    const mark = new UpstreamMarkWriter(pub.memory.buffer, null);
    writeMarked(pub, mark, 7);
    const committedEnd = writeMarked(pub, mark, 8);
    writeMarked(pub, mark, 9, false);
    crash(pub);
    const again = Publication.attach(name) as ReliablePublication; // crashed below: not closed after the test
    expect(again.position).toBe(committedEnd);
    const recovered = readUpstreamMark(again.memory.buffer, again.position);
    expect(recovered?.sequence).toBe(8);
    // The next writer keeps the slot that holds 8 and rewrites the other one.
    const next = new UpstreamMarkWriter(again.memory.buffer, recovered);
    writeMarked(again, next, 10, false);
    crash(again);
    const third = attach(name);
    expect(readUpstreamMark(third.memory.buffer, third.position)?.sequence).toBe(8);
  });

  it('falls back to the other slot when the newer one was torn (stamp 0: the writer died inside it)', () => {
    const name = uniqueBridgeRing('up-torn');
    const pub = Publication.create(name, { capacity: 4096 });
    const mark = new UpstreamMarkWriter(pub.memory.buffer, null);
    writeMarked(pub, mark, 41); // slot 0
    writeMarked(pub, mark, 42); // slot 1
    pub.close();
    // Slot 1 torn: its stamp reads 0, as it does while it is rewritten. Were it the only slot, nothing would count.
    pokeInt32(`${SHM_DIR}/${name}`, L.UPSTREAM_SLOTS_OFFSET + L.UPSTREAM_SLOT_LENGTH + L.UPSTREAM_STAMP_OFFSET, 0);
    const again = attach(name);
    expect(readUpstreamMark(again.memory.buffer, again.position)?.sequence).toBe(41);
  });

  it('counts every batch after a wrap of the ring and sequences past 2^32', () => {
    const name = uniqueBridgeRing('up-wrap');
    const pub = Publication.create(name, { capacity: 4096 });
    const mark = new UpstreamMarkWriter(pub.memory.buffer, null);
    const base = 2 ** 40;
    for (let i = 1; i <= 2000; i++) writeMarked(pub, mark, base + i); // 16 B records: ~8 laps of 4 KiB
    pub.close();
    const again = attach(name);
    expect(readUpstreamMark(again.memory.buffer, again.position)?.sequence).toBe(base + 2000);
  });

  it('refuses an impossible sequence as corrupt', () => {
    const name = uniqueBridgeRing('up-corrupt');
    const pub = Publication.create(name, { capacity: 4096 });
    writeMarked(pub, new UpstreamMarkWriter(pub.memory.buffer, null), 5);
    pub.close();
    pokeInt32(`${SHM_DIR}/${name}`, L.UPSTREAM_SLOTS_OFFSET + L.UPSTREAM_SEQUENCE_OFFSET + 4, -1);
    const again = attach(name);
    let code: unknown = null;
    try {
      readUpstreamMark(again.memory.buffer, again.position);
    } catch (err) {
      code = (err as { code?: unknown }).code;
    }
    expect(code).toBe('ERR_SHMRING_CORRUPT');
  });
});
