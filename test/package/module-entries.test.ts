/**
 * The package's two entry points, resolved through its own `exports` map (Node resolves a package's own name from
 * inside it): `require('shmring')` is the CommonJS build, `import ... from 'shmring'` the generated ES module, which
 * has the same named exports and hands out the same objects (one copy of the library, one native binding).
 * Runs real Node processes on the built dist/lib (npm test builds it first).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');

function runModule(source: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', source], { cwd: ROOT, encoding: 'utf8' });
}

describe('package entry points', () => {
  it('maps import to the ES module entry and require to the CommonJS build, each with its types', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
    };
    expect(pkg.exports['.']).toEqual({
      import: { types: './dist/lib/index.d.mts', default: './dist/lib/index.mjs' },
      require: { types: './dist/lib/index.d.ts', default: './dist/lib/index.js' },
    });
    for (const file of ['index.mjs', 'index.d.mts', 'index.js', 'index.d.ts']) {
      expect(fs.existsSync(path.join(ROOT, 'dist', 'lib', file)), file).toBe(true);
    }
    const resolved = runModule(
      "import { createRequire } from 'node:module';\n" +
        "console.log(JSON.stringify([import.meta.resolve('shmring'), createRequire(import.meta.url).resolve('shmring')]));",
    );
    expect(JSON.parse(resolved)).toEqual([
      `file://${path.join(ROOT, 'dist', 'lib', 'index.mjs')}`,
      path.join(ROOT, 'dist', 'lib', 'index.js'),
    ]);
  });

  it('gives import the same named exports as require, bound to the same objects', () => {
    const out = runModule(
      "import { createRequire } from 'node:module';\n" +
        "import * as esm from 'shmring';\n" +
        "import shmring, { Publication, Subscription, ErrorCode } from 'shmring';\n" +
        "const cjs = createRequire(import.meta.url)('shmring');\n" +
        'const named = Object.keys(esm).filter((k) => k !== "default").sort();\n' +
        'const same = named.filter((k) => esm[k] === cjs[k]);\n' +
        'console.log(JSON.stringify({ named, cjs: Object.keys(cjs).sort(), same: same.length, ' +
        'defaultIsCjs: shmring === cjs, picked: [Publication === cjs.Publication, Subscription === cjs.Subscription, ' +
        'ErrorCode.CLOSED] }));',
    );
    const result = JSON.parse(out) as {
      named: string[];
      cjs: string[];
      same: number;
      defaultIsCjs: boolean;
      picked: unknown[];
    };
    expect(result.named).toEqual(result.cjs);
    expect(result.named).toContain('Publication');
    expect(result.same).toBe(result.named.length);
    expect(result.defaultIsCjs).toBe(true);
    expect(result.picked).toEqual([true, true, 'ERR_SHMRING_CLOSED']);
  });
});
