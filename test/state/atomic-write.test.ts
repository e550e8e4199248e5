import t from 'tap';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { removeStaleTempFiles, writeFileAtomic } from '../../src/state/atomic-write';

t.test('writes the whole file, creating the directory, leaving no temp', async (t) => {
  const dir = join(t.testdir({}), 'sub');
  await writeFileAtomic(join(dir, 'a.json'), 'one\n', { errorCode: 'ZONE_STATE_WRITE' });
  await writeFileAtomic(join(dir, 'a.json'), 'two\n', { errorCode: 'ZONE_STATE_WRITE' });
  t.equal(await fsp.readFile(join(dir, 'a.json'), 'utf8'), 'two\n');
  t.same(await fsp.readdir(dir), ['a.json']);
});

t.test('a failed step throws the caller\'s code and keeps the old file', async (t) => {
  const dir = t.testdir({ 'a.json': 'old' });
  const fs = { ...fsp, rename: async () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })) };
  const write = writeFileAtomic(join(dir, 'a.json'), 'new', { errorCode: 'SNAPSHOT_WRITE', fs });
  await t.rejects(write, { code: 'SNAPSHOT_WRITE', message: /cannot write .*a\.json: EIO/ });
  t.equal(await fsp.readFile(join(dir, 'a.json'), 'utf8'), 'old');
  t.same(await fsp.readdir(dir), ['a.json']);
});

t.test('removeStaleTempFiles removes only dead writers\' temps of that file', async (t) => {
  const deadPid = 2 ** 22 + 12345; // above pid_max on common systems: no such process
  const dir = t.testdir({
    [`.a.json.${deadPid}.0badc0de.tmp`]: 'x',
    [`.b.json.${deadPid}.0badc0de.tmp`]: 'x',
    [`.a.json.${process.ppid}.0badc0de.tmp`]: 'x',
    'a.json': 'keep',
  });
  t.same(await removeStaleTempFiles(dir, 'a.json'), [`.a.json.${deadPid}.0badc0de.tmp`]);
  t.same((await fsp.readdir(dir)).sort(), [`.a.json.${process.ppid}.0badc0de.tmp`, `.b.json.${deadPid}.0badc0de.tmp`, 'a.json'].sort());
  t.same(await removeStaleTempFiles(join(dir, 'missing'), 'a.json'), []);
});
