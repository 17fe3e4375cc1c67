/**
 * docs/api.md's table of error codes is the users' list of what shmring throws on purpose: it must name every code of
 * `ErrorCode` (lib/errors.ts) once, and nothing else, so a code added to either side without the other fails here.
 */
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lib/errors';

const API_DOC = path.resolve(__dirname, '..', '..', 'docs', 'api.md');

/** The first cell of each row of the table under `## Errors`, in order. */
function documentedCodes(markdown: string): string[] {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('Errors\n'));
  if (section === undefined) throw new Error(`${API_DOC} has no "## Errors" section`);
  return section
    .split('\n')
    .map((line) => /^\| `(ERR_[A-Z_]+)` \|/.exec(line)?.[1])
    .filter((code): code is string => code !== undefined);
}

describe('docs/api.md error table', () => {
  it('lists every ErrorCode exactly once and no other code', () => {
    const documented = documentedCodes(fs.readFileSync(API_DOC, 'utf8'));
    expect(new Set(documented).size, `a code is listed twice: ${documented.join(', ')}`).toBe(documented.length);
    expect([...documented].sort()).toEqual(Object.values(ErrorCode).sort());
  });
});
