import t from 'tap';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ERROR_CODES } from '../../src/errors';

/** docs/errors.md documents exactly the codes in ERROR_CODES. */

const doc = readFileSync(resolve(__dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
const documented: string[] = [];
for (const line of doc.split('\n')) {
  const m = /^\| `([A-Z_]+)` \| (.+) \| (.+) \|$/.exec(line);
  if (m) documented.push(m[1]);
}

t.test('every code is documented, and only those', async (t) => {
  const codes = Object.keys(ERROR_CODES);
  t.same(codes.filter((c) => !documented.includes(c)), [], 'codes missing from docs/errors.md');
  t.same(documented.filter((c) => !codes.includes(c)), [], 'documented codes that do not exist');
  t.equal(new Set(documented).size, documented.length, 'no code documented twice');
});
