/**
 * docs/FORMAT.md is the human spec of a ring file and lib/layout.ts the code's copy of it (as Aeron's C client pins
 * every field with `_Static_assert(offsetof(...) == N)`): this reads the numbers written in the document (the
 * offset table, the section diagram, the per-structure bit diagrams) and asserts each constant equals them, in both
 * directions, so the two cannot drift.
 */
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import * as L from '../lib/layout';
import { describeNewRing, readDescriptor, writeHeader } from '../lib/ring-file';

const FORMAT = fs.readFileSync(path.resolve(__dirname, '..', 'docs', 'FORMAT.md'), 'utf8');

interface Row {
  name: string;
  offset: number;
  size: number | null;
}

/** The `| NAME | offset | size | written by |` rows of the offset table, in document order. */
function offsetTable(): Row[] {
  const rows: Row[] = [];
  for (const match of FORMAT.matchAll(/^\| ([A-Z][A-Z0-9_]*) \| (\d+) \| ([^|]*)\|/gm)) {
    const size = /^\d+$/.test(match[3].trim()) ? Number(match[3].trim()) : null;
    rows.push({ name: match[1], offset: Number(match[2]), size });
  }
  return rows;
}

/** The fenced code block that follows the heading (or line) containing `marker`. */
function diagramAfter(marker: string): string {
  const start = FORMAT.indexOf(marker);
  if (start < 0) throw new Error(`docs/FORMAT.md has no ${JSON.stringify(marker)}`);
  const open = FORMAT.indexOf('```', start);
  const close = FORMAT.indexOf('```', open + 3);
  return FORMAT.slice(open + 3, close);
}

/** Bit-diagram rows `| label ... |  N`: label (first words inside the box) -> byte offset N on the right. */
function bitDiagramOffsets(marker: string): Map<string, number> {
  const offsets = new Map<string, number>();
  for (const match of diagramAfter(marker).matchAll(/^\|(.*)\|\s+(\d+)\b/gm)) {
    const label = match[1]
      .replace(/\s*\|\s*/g, ' | ')
      .replace(/\s+/g, ' ')
      .trim();
    offsets.set(label, Number(match[2]));
  }
  return offsets;
}

/** The offset in `offsets` of the row whose label starts with `prefix` (exactly one must). */
function offsetOf(offsets: Map<string, number>, prefix: string): number {
  const found = [...offsets].filter(([label]) => label.startsWith(prefix));
  if (found.length !== 1)
    throw new Error(`expected one row starting ${JSON.stringify(prefix)}: ${JSON.stringify([...offsets])}`);
  return found[0][1];
}

const layout = L as unknown as Record<string, unknown>;

describe('docs/FORMAT.md offset table', () => {
  const rows = offsetTable();

  it('has a row for every field the table promises (and each name only once)', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });

  it('matches the exported constant of lib/layout.ts for every row', () => {
    const mismatches = rows
      .filter((row) => layout[row.name] !== row.offset)
      .map((row) => `${row.name}: doc=${row.offset} code=${String(layout[row.name])}`);
    expect(mismatches).toEqual([]);
  });

  it('has a row for every exported *_OFFSET and *_LENGTH constant (the line starts are in the section diagram)', () => {
    const inSectionDiagram = new Set([
      'DESCRIPTOR_LINE_OFFSET',
      'PRODUCER_LINE_OFFSET',
      'WAKE_LINE_OFFSET',
      'COUNTERS_LINE_OFFSET',
    ]);
    const documented = new Set(rows.map((r) => r.name));
    const missing = Object.keys(layout)
      .filter((name) => typeof layout[name] === 'number' && /_(OFFSET|LENGTH)$/.test(name))
      .filter((name) => !documented.has(name) && !inSectionDiagram.has(name));
    expect(missing).toEqual([]);
  });

  it('lists fields that do not overlap, and header fields that stay inside one 128-byte line', () => {
    for (let i = 0; i + 1 < rows.length; i++) {
      const [row, next] = [rows[i], rows[i + 1]];
      if (row.size !== null && next.offset > row.offset) {
        expect(row.offset + row.size, `${row.name} runs into ${next.name}`).toBeLessThanOrEqual(next.offset);
      }
    }
    for (const row of rows.filter((r) => r.size !== null && r.offset < L.CONSUMER_SLOTS_OFFSET && r.offset >= 4)) {
      const size = row.size as number;
      expect(Math.floor(row.offset / L.LINE_LENGTH), row.name).toBe(
        Math.floor((row.offset + size - 1) / L.LINE_LENGTH),
      );
    }
  });
});

describe('docs/FORMAT.md diagrams', () => {
  it('puts each section at the file offset the section diagram shows', () => {
    const sections = new Map<string, number>();
    const lines = diagramAfter('## Sections').split('\n');
    for (let i = 0; i + 1 < lines.length; i++) {
      const start = /^ (\d+)\s+\+-+\+/.exec(lines[i]);
      const label = /^\s+\| (.+?)\s*\|/.exec(lines[i + 1]);
      if (start !== null && label !== null) sections.set(label[1].replace(/\s*\(\d+ B\)$/, ''), Number(start[1]));
    }
    expect(sections.get('descriptor line')).toBe(L.DESCRIPTOR_LINE_OFFSET);
    expect(sections.get('producer line')).toBe(L.PRODUCER_LINE_OFFSET);
    expect(sections.get('wake line')).toBe(L.WAKE_LINE_OFFSET);
    expect(sections.get('consumer slot 0')).toBe(L.CONSUMER_SLOTS_OFFSET);
    expect(sections.get('counters line')).toBe(L.COUNTERS_LINE_OFFSET);
    // Each section is one line after the one before.
    expect(L.PRODUCER_LINE_OFFSET - L.DESCRIPTOR_LINE_OFFSET).toBe(L.LINE_LENGTH);
    expect(L.WAKE_LINE_OFFSET - L.PRODUCER_LINE_OFFSET).toBe(L.LINE_LENGTH);
    expect(L.COUNTERS_LINE_OFFSET - L.WAKE_LINE_OFFSET).toBe(L.LINE_LENGTH);
    expect(L.CONSUMER_SLOTS_OFFSET - L.COUNTERS_LINE_OFFSET).toBe(L.LINE_LENGTH);
  });

  it("draws the descriptor line with the constants' offsets", () => {
    const d = bitDiagramOffsets('## Descriptor line');
    expect(offsetOf(d, 'magic')).toBe(L.MAGIC_OFFSET);
    expect(offsetOf(d, 'version minor')).toBe(L.VERSION_OFFSET);
    expect(offsetOf(d, 'mode')).toBe(L.MODE_OFFSET);
    expect(offsetOf(d, 'flags')).toBe(L.FLAGS_OFFSET);
    expect(offsetOf(d, 'capacity')).toBe(L.CAPACITY_OFFSET);
    expect(offsetOf(d, 'max message length')).toBe(L.MAX_MESSAGE_LENGTH_OFFSET);
    expect(offsetOf(d, 'max frame payload length')).toBe(L.MAX_FRAME_PAYLOAD_OFFSET);
    expect(offsetOf(d, 'max consumers')).toBe(L.MAX_CONSUMERS_OFFSET);
    expect(offsetOf(d, 'data offset')).toBe(L.DATA_OFFSET_OFFSET);
    expect(offsetOf(d, 'file length')).toBe(L.FILE_LENGTH_OFFSET);
    expect(offsetOf(d, 'created at')).toBe(L.CREATED_AT_OFFSET);
    expect(offsetOf(d, 'creator pid')).toBe(L.CREATOR_PID_OFFSET);
  });

  it("draws the consumer slot, the record header and the broadcast trailer with the constants' offsets", () => {
    const slot = bitDiagramOffsets('## Consumer slots');
    expect(offsetOf(slot, 'position (int64, low word)')).toBe(L.SLOT_POSITION_OFFSET);
    expect(offsetOf(slot, 'position (int64, high word)')).toBe(L.SLOT_POSITION_OFFSET + 4);
    expect(offsetOf(slot, 'generation')).toBe(L.SLOT_STATE_OFFSET);
    expect(offsetOf(slot, 'consumer pid')).toBe(L.SLOT_PID_OFFSET);
    expect(offsetOf(slot, 'progress time / laps')).toBe(L.SLOT_PROGRESS_TIME_OFFSET);
    expect(L.SLOT_LAPS_OFFSET).toBe(L.SLOT_PROGRESS_TIME_OFFSET);
    expect(offsetOf(slot, 'blocked-since time / lost bytes')).toBe(L.SLOT_BLOCKED_SINCE_OFFSET);
    expect(L.SLOT_LOST_BYTES_OFFSET).toBe(L.SLOT_BLOCKED_SINCE_OFFSET);
    const counters = bitDiagramOffsets('## Counters line');
    expect(offsetOf(counters, 'back-pressure events') + L.COUNTERS_LINE_OFFSET).toBe(L.BACK_PRESSURE_EVENTS_OFFSET);
    expect(offsetOf(counters, 'evicted consumers') + L.COUNTERS_LINE_OFFSET).toBe(L.EVICTED_CONSUMERS_OFFSET);
    expect(offsetOf(counters, 'reaped consumers') + L.COUNTERS_LINE_OFFSET).toBe(L.REAPED_CONSUMERS_OFFSET);
    expect(offsetOf(counters, 'zero (104 bytes)') + 104).toBe(L.LINE_LENGTH);
    expect(offsetOf(slot, 'durable timeout')).toBe(L.SLOT_DURABLE_TIMEOUT_OFFSET);
    expect(offsetOf(slot, 'durable name length')).toBe(L.SLOT_DURABLE_NAME_LENGTH_OFFSET);
    expect(offsetOf(slot, 'detached since')).toBe(L.SLOT_DETACHED_SINCE_OFFSET);
    expect(offsetOf(slot, 'evicted at')).toBe(L.SLOT_EVICTED_AT_OFFSET);
    expect(offsetOf(slot, 'durable name (UTF-8, 64 bytes)')).toBe(L.SLOT_DURABLE_NAME_OFFSET);
    expect(L.SLOT_DURABLE_NAME_OFFSET + L.DURABLE_NAME_MAX_LENGTH).toBe(L.CONSUMER_SLOT_LENGTH);
    // The durable fields live in slot bytes 32..127, after the progress/blocked-since (laps/lost bytes) words.
    expect(L.SLOT_DURABLE_TIMEOUT_OFFSET).toBe(32);
    const record = bitDiagramOffsets('## Records (reliable mode)');
    expect(offsetOf(record, 'record length')).toBe(L.LENGTH_FIELD_OFFSET);
    expect(offsetOf(record, 'type id')).toBe(L.TYPE_FIELD_OFFSET);
    expect(offsetOf(record, 'payload')).toBe(L.HEADER_LENGTH);
    const trailer = bitDiagramOffsets('## Broadcast mode');
    expect(offsetOf(trailer, 'tail-intent counter')).toBe(L.TAIL_INTENT_COUNTER_OFFSET);
    expect(offsetOf(trailer, 'tail counter')).toBe(L.TAIL_COUNTER_OFFSET);
    expect(offsetOf(trailer, 'latest counter')).toBe(L.LATEST_COUNTER_OFFSET);
    expect(offsetOf(trailer, 'zero (104 bytes)') + 104).toBe(L.BROADCAST_TRAILER_LENGTH);
  });

  it("draws the many-to-one trailer with the constants' offsets (Agrona's RingBufferDescriptor)", () => {
    const trailer = bitDiagramOffsets('## Many-to-one mode');
    expect(offsetOf(trailer, 'tail position')).toBe(L.TAIL_POSITION_OFFSET);
    expect(offsetOf(trailer, 'head cache position')).toBe(L.HEAD_CACHE_POSITION_OFFSET);
    expect(offsetOf(trailer, 'head position')).toBe(L.HEAD_POSITION_OFFSET);
    expect(offsetOf(trailer, 'correlation counter')).toBe(L.CORRELATION_COUNTER_OFFSET);
    expect(offsetOf(trailer, 'consumer heartbeat')).toBe(L.CONSUMER_HEARTBEAT_OFFSET);
    // Agrona: each counter on its own pair of 64-byte cache lines, starting after one such pair.
    const counters = [
      L.TAIL_POSITION_OFFSET,
      L.HEAD_CACHE_POSITION_OFFSET,
      L.HEAD_POSITION_OFFSET,
      L.CORRELATION_COUNTER_OFFSET,
      L.CONSUMER_HEARTBEAT_OFFSET,
    ];
    expect(counters).toEqual([1, 2, 3, 4, 5].map((i) => i * 2 * 64));
    expect(L.RING_BUFFER_TRAILER_LENGTH).toBe(6 * 2 * 64);
    expect(L.RING_BUFFER_PADDING_TYPE).toBe(-1);
  });

  it('states the magic, the version, the flags and the type id range the code uses', () => {
    expect(FORMAT).toContain(`magic 0x${L.MAGIC.toString(16).toUpperCase()} ("SHMR")`);
    expect(Buffer.from('SHMR', 'latin1').readUInt32LE(0)).toBe(L.MAGIC);
    expect(FORMAT).toMatch(
      new RegExp(`^# shmring file format, layout version ${L.VERSION_MAJOR}\\.${L.VERSION_MINOR}$`, 'm'),
    );
    expect(L.LAYOUT_VERSION).toBe(L.VERSION_MAJOR * 65536 + L.VERSION_MINOR);
    expect(FORMAT).toContain(
      `\`0x${L.BEGIN_FLAG.toString(16)}\` BEGIN, \`0x${L.END_FLAG.toString(16)}\` END; ` +
        `\`0x${L.UNFRAGMENTED.toString(16).toUpperCase()}\` an unfragmented message`,
    );
    expect(FORMAT).toContain('Type ids are 0 .. 2^24 - 2.');
    expect(L.MAX_TYPE_ID).toBe(2 ** 24 - 2);
    expect(L.PADDING_TYPE).toBe(-1);
    expect(L.BROADCAST_PADDING_TYPE).toBe(-1);
    expect(L.SLEEPING_MARK).toBe(-1);
    expect(FORMAT).toContain('mode (1 reliable, 2 broadcast, 3 many-to-one)');
    expect([L.MODE_RELIABLE, L.MODE_BROADCAST, L.MODE_MANY_TO_ONE]).toEqual([1, 2, 3]);
    expect(FORMAT).toContain('(0 free, 1 active, 2 evicted)');
    expect([L.SLOT_FREE, L.SLOT_ACTIVE, L.SLOT_EVICTED]).toEqual([0, 1, 2]);
    expect(FORMAT).toContain('producer (0 none, 1 active, 2 closed cleanly)');
    expect([L.PRODUCER_STATE_NONE, L.PRODUCER_STATE_ACTIVE, L.PRODUCER_STATE_CLOSED]).toEqual([0, 1, 2]);
    expect(FORMAT).toContain('capacity a power of two in [4096, 2^30], 1 ≤ maxConsumers ≤ 1024');
    expect([L.MIN_CAPACITY, L.MAX_CAPACITY, L.MAX_CONSUMERS_LIMIT]).toEqual([4096, 2 ** 30, 1024]);
    expect(FORMAT).toContain('OFD write lock on file byte `1 + slot`; the producer holds one on byte 0');
    expect([L.PRODUCER_LOCK_BYTE, L.CONSUMER_LOCK_BYTE_BASE]).toEqual([0, 1]);
    expect(FORMAT).toContain('an OFD write lock on file byte `1025`');
    expect(L.DURABLE_NAMES_LOCK_BYTE).toBe(1025);
  });

  it('is major version 2: a 1.x producer would reap a detached durable consumer, so 1.x must refuse these rings', () => {
    expect(L.VERSION_MAJOR).toBe(2);
    expect(FORMAT).toContain('which is why this layout is major version 2 and 1.x software refuses it');
    const d = describeNewRing({ capacity: L.MIN_CAPACITY });
    const buffer = new SharedArrayBuffer(d.fileLength);
    writeHeader(buffer, d);
    // A file of layout 1.0 is refused with both versions in the message.
    new DataView(buffer).setUint32(L.VERSION_OFFSET, (1 << 16) | 0, true);
    expect(() => readDescriptor(buffer, '/dev/shm/old')).toThrow(
      `incompatible ring layout: app=${L.VERSION_MAJOR}.${L.VERSION_MINOR} file=1.0: /dev/shm/old`,
    );
  });

  it('stores the version word as little-endian major << 16 | minor: minor at bytes 4-5, major at 6-7', () => {
    const d = describeNewRing({ capacity: L.MIN_CAPACITY });
    const buffer = new SharedArrayBuffer(d.fileLength);
    writeHeader(buffer, d);
    const view = new DataView(buffer);
    expect(view.getUint32(L.MAGIC_OFFSET, true)).toBe(L.MAGIC);
    expect(view.getUint16(L.VERSION_OFFSET, true)).toBe(L.VERSION_MINOR);
    expect(view.getUint16(L.VERSION_OFFSET + 2, true)).toBe(L.VERSION_MAJOR);
    expect(readDescriptor(buffer, null)).toEqual(d);
  });
});

describe('layout helpers', () => {
  it('dataOffsetFor puts the data region on the first page boundary after the slots', () => {
    expect(L.dataOffsetFor(1)).toBe(4096);
    expect(L.dataOffsetFor(16)).toBe(4096);
    expect(L.dataOffsetFor(28)).toBe(4096); // 512 + 28 * 128 = 4096 exactly
    expect(L.dataOffsetFor(29)).toBe(8192);
    expect(L.dataOffsetFor(1024)).toBe(135168);
    // The formula the section diagram gives: align(512 + 128 * maxConsumers, 4096).
    for (let n = 1; n <= L.MAX_CONSUMERS_LIMIT; n++) {
      expect(L.dataOffsetFor(n)).toBe(Math.ceil((512 + 128 * n) / 4096) * 4096);
    }
  });

  it('fileLengthFor adds the data region (and the trailer of its mode) and rounds up to whole pages', () => {
    expect(L.fileLengthFor(L.MODE_MANY_TO_ONE, 4096, 1)).toBe(12288);
    expect(L.fileLengthFor(L.MODE_MANY_TO_ONE, 1 << 20, 1)).toBe(4096 + (1 << 20) + 4096);
    expect([1, 2, 3].map(L.trailerLengthFor)).toEqual([0, 128, 768]);
    expect(L.fileLengthFor(L.MODE_RELIABLE, 4096, 16)).toBe(8192);
    expect(L.fileLengthFor(L.MODE_BROADCAST, 4096, 16)).toBe(12288);
    expect(L.fileLengthFor(L.MODE_RELIABLE, 1 << 20, 16)).toBe(4096 + (1 << 20));
    expect(L.fileLengthFor(L.MODE_BROADCAST, 1 << 20, 29)).toBe(8192 + (1 << 20) + 4096);
    expect(L.fileLengthFor(L.MODE_BROADCAST, L.MAX_CAPACITY, 1024)).toBe(135168 + 2 ** 30 + 4096);
  });

  it('align, isPowerOfTwo, consumerSlotOffset, maxMessageLengthFor and int32Index', () => {
    expect([0, 1, 7, 8, 9, 13, 16].map((v) => L.align(v, 8))).toEqual([0, 8, 8, 8, 16, 16, 16]);
    expect([4096, 1, 2 ** 30].every(L.isPowerOfTwo)).toBe(true);
    expect([0, -4, 12288, 1.5, Number.NaN].some(L.isPowerOfTwo)).toBe(false);
    expect(L.consumerSlotOffset(0)).toBe(L.CONSUMER_SLOTS_OFFSET);
    expect(L.consumerSlotOffset(3)).toBe(512 + 3 * 128);
    expect(L.maxMessageLengthFor(4096)).toBe(512);
    expect(L.maxMessageLengthFor(2 ** 30)).toBe(2 ** 27);
    expect(L.int32Index(L.WAKE_REQUESTED_OFFSET)).toBe(65);
  });

  it('record words: length and type indices, aligned length, the reliable type word', () => {
    const recordOffset = 4096 + 24;
    expect(L.recordLengthIndex(recordOffset)).toBe((4096 + 24) / 4);
    expect(L.recordTypeIndex(recordOffset)).toBe((4096 + 24 + 4) / 4);
    expect([8, 9, 15, 16, 17, 40].map(L.alignedRecordLength)).toEqual([8, 16, 16, 16, 24, 40]);
    expect(L.recordLengthFor(5)).toBe(L.HEADER_LENGTH + 5);
    expect(L.payloadLengthOf(L.HEADER_LENGTH + 5)).toBe(5);
    expect(L.payloadOffset(recordOffset)).toBe(recordOffset + L.HEADER_LENGTH);
    const word = L.typeWord(0xabcdef - 1, L.UNFRAGMENTED);
    expect(word).toBe((0xc0 << 24) | (0xabcdef - 1));
    expect(L.typeWordFlags(word)).toBe(L.UNFRAGMENTED);
    expect(L.typeWordTypeId(word)).toBe(0xabcdef - 1);
    expect(L.typeWord(7, L.BEGIN_FLAG) >>> 24).toBe(0x80);
    expect(L.broadcastTrailerOffset(4096, 8192)).toBe(4096 + 8192);
  });

  it('slot words: indices of slot 3 and the state word, whose generation goes up with every change', () => {
    expect(L.slotPositionIndex(3)).toBe((512 + 3 * 128 + 0) / 4);
    expect(L.slotStateIndex(3)).toBe((512 + 3 * 128 + 8) / 4);
    expect(L.slotPidIndex(3)).toBe((512 + 3 * 128 + 12) / 4);
    const active = L.nextSlotWord(0, L.SLOT_ACTIVE);
    expect(active).toBe((1 << 8) | L.SLOT_ACTIVE);
    expect(L.slotState(active)).toBe(L.SLOT_ACTIVE);
    const evicted = L.nextSlotWord(active, L.SLOT_EVICTED);
    expect(evicted).toBe((2 << 8) | L.SLOT_EVICTED);
    expect(L.slotState(evicted)).toBe(L.SLOT_EVICTED);
    // The 24-bit generation wraps to 0 instead of spilling out of the word.
    expect(L.nextSlotWord((0xffffff << 8) | L.SLOT_ACTIVE, L.SLOT_FREE)).toBe(L.SLOT_FREE);
  });
});
