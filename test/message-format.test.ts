/**
 * The one test message format (test/fixtures/ring/sequence.js; test/interop/message.h is its C twin): what a message
 * is made of, that its two ends name its seq and stream, and that each verifier rejects what it must.
 */
import { describe, expect, it } from 'vitest';
import * as sequence from './fixtures/ring/sequence';

const RUN: sequence.Run = { mode: 'reliable', seed: 0x5eed, minLength: 8, maxLength: 96 };

describe('test message format', () => {
  it('carries seq at the head and seq ^ fmix32(stream) at the tail, around a seeded body', () => {
    for (const stream of [0, 1, 2, 0xffffffff]) {
      for (const seq of [0, 1, 77, 2 ** 32 - 1]) {
        const message = sequence.encode({ ...RUN, stream }, seq);
        const view = new DataView(message.buffer);
        expect(view.getUint32(0, true)).toBe(seq);
        expect(view.getUint32(message.length - 4, true)).toBe((seq ^ sequence.fmix32(stream)) >>> 0);
        expect(sequence.decodeStream(message, 0, message.length)).toBe(stream);
        expect(sequence.decodeSeq(message, 0, message.length, stream)).toBe(seq);
        expect(sequence.messageError(RUN, message, 0, message.length)).toBeNull();
      }
    }
    // Stream 0's tail is the seq itself: the benchmark stamps the same word at both ends.
    expect(sequence.fmix32(0)).toBe(0);
  });

  it('pins the bytes of a message, so the C twin and any change of the generator are caught', () => {
    const message = sequence.encode({ ...RUN, minLength: 16, maxLength: 16, stream: 1 }, 3);
    expect(Buffer.from(message).toString('hex')).toBe(PINNED_HEX);
  });

  it('unfmix32 inverts fmix32', () => {
    const random = sequence.prng(9);
    for (let i = 0; i < 10_000; i++) {
      const value = random();
      expect(sequence.unfmix32(sequence.fmix32(value))).toBe(value);
    }
  });

  it('names what is wrong: torn ends, a scribbled body, a wrong length', () => {
    const a = sequence.encode(RUN, 10);
    const b = sequence.encode(RUN, 11);
    const torn = Uint8Array.from(a);
    torn.set(b.subarray(b.length - 4), a.length - 4); // a's head, b's tail
    expect(sequence.decodeSeq(torn, 0, torn.length)).toBe(-1);
    expect(sequence.messageError(RUN, torn, 0, torn.length)).toMatch(/^stream=\d+ seq=10: /);
    const scribbled = Uint8Array.from(a);
    scribbled[5] ^= 1;
    expect(sequence.messageError(RUN, scribbled, 0, scribbled.length)).toBe('stream=0 seq=10: bytes differ');
    expect(sequence.messageError(RUN, a, 0, 7)).toBe('message of 7 bytes carries no seq');
  });

  it('sameBody runs share message 0 body; typeId pins the type of every message', () => {
    const run: sequence.Run = { ...RUN, minLength: 32, maxLength: 32, sameBody: true, typeId: 9 };
    const first = sequence.encode(run, 0);
    const later = sequence.encode(run, 1234);
    expect(later.subarray(4, 28)).toEqual(first.subarray(4, 28));
    expect(sequence.typeIdFor(run, 1234)).toBe(9);
    const reader = new sequence.SeqReader(32);
    expect(reader.read(later, 0, 32)).toBe(1234);
    expect(reader.read(later, 0, 31)).toBe(-1);
  });

  it('RunsVerifier summarises successive producers as runs and lists corrupt messages', () => {
    const verifier = new sequence.RunsVerifier({ ...RUN, minLength: 16, maxLength: 64 });
    const run1 = { ...RUN, minLength: 16, maxLength: 64, stream: 1 };
    const run2 = { ...run1, stream: 2 };
    for (let seq = 0; seq < 5; seq++) verifier.accept(sequence.encode(run1, seq));
    verifier.accept(sequence.encode(run1, 3)); // a duplicate starts a run of its own
    for (let seq = 0; seq < 3; seq++) verifier.accept(sequence.encode(run2, seq));
    verifier.accept(new Uint8Array(20).fill(0xee));
    const summary = verifier.summary();
    expect(summary.runs).toEqual([
      [1, 0, 4],
      [1, 3, 3],
      [2, 0, 2],
    ]);
    expect(summary.count).toBe(10);
    expect(summary.errors).toHaveLength(1);
  });
});

// Message 3 of stream 1, seed 0x5eed, 16 bytes: head 3, twelve bytes of mulberry32 fill, tail 3 ^ fmix32(1).
const PINNED_HEX = '03000000bbf5e059ffd0148bb4284e51';
