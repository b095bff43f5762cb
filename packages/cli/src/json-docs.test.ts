// docs/json.md stays true to the code: its exit-status table gives every error code the status the CLI exits
// with, and every document it describes has a schema file (the e2e contract test checks the output against them).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CODES } from '@shmsnap/core';
import { EXIT_STATUS_BY_CODE } from './exit-codes.js';

const docs = readFileSync(new URL('../../../docs/json.md', import.meta.url), 'utf8');
const schemas = new URL('../schemas/', import.meta.url);

describe('docs/json.md', () => {
  it('gives every error code the exit status the CLI uses', () => {
    const documented = new Map<string, number>();
    for (const [, codes, status] of docs.matchAll(/^\| ((?:`[A-Z_]+`(?:, )?)+) \| (\d+) \|/gm)) {
      for (const [, code] of codes!.matchAll(/`([A-Z_]+)`/g)) documented.set(code!, Number(status));
    }
    assert.deepEqual([...documented.keys()].sort(), [...ERROR_CODES].sort(), 'every code, once');
    for (const code of ERROR_CODES) assert.equal(documented.get(code), EXIT_STATUS_BY_CODE[code], code);
  });

  it('describes a document for every schema file, and a file for every document', () => {
    const described = [...docs.matchAll(/^## `(shmsnap\.[a-z-]+\/1)`/gm)].map((m) => m[1]!).sort();
    const files = readdirSync(schemas).filter((f) => f.endsWith('.json') && f !== 'defs.json').map((f) => `shmsnap.${f.replace(/\.json$/, '')}/1`).sort();
    assert.deepEqual(described, files);
    for (const file of readdirSync(schemas)) JSON.parse(readFileSync(new URL(file, schemas), 'utf8'));
  });
});
