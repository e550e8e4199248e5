'use strict';
// Checks on the package's tree, run by build.sh with the node it ships:
//
//   node tree-check.cjs requires DIR   every literal require('x'), import ... from 'x', import('x')
//                                      and export ... from 'x' in DIR's .js/.cjs/.mjs files that
//                                      does NOT resolve from its file, one "FILE<TAB>SPECIFIER" a
//                                      line, sorted. build.sh runs it before and after the prune:
//                                      a line only in the second means the prune removed a file
//                                      something still loads.
//   node tree-check.cjs scripts DIR    the files under DIR starting with "#!", one a line: the
//                                      package ships none (lintian: script-not-executable).
//
// Requires built from expressions (moment's locales) are not seen; those modules guard them.
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

const JS = /\.(c|m)?js$/;
const SPECIFIERS = [
  /\brequire\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  /\bimport\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  /^\s*(?:import|export)\s[^'"\n;]*?\bfrom\s*(['"])([^'"\n]+)\1/gm,
  /^\s*import\s*(['"])([^'"\n]+)\1/gm,
];

function* files(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(full);
    else if (entry.isFile()) yield full;
  }
}

function unresolved(root) {
  const out = [];
  for (const file of files(root)) {
    if (!JS.test(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const req = createRequire(file);
    const seen = new Set();
    for (const re of SPECIFIERS) {
      for (const m of text.matchAll(re)) {
        const spec = m[2];
        if (seen.has(spec)) continue;
        seen.add(spec);
        try {
          req.resolve(spec);
        } catch {
          out.push(`${path.relative(root, file)}\t${spec}`);
        }
      }
    }
  }
  return out.sort();
}

function scripts(root) {
  const out = [];
  for (const file of files(root)) {
    const fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(2);
    const n = fs.readSync(fd, head, 0, 2, 0);
    fs.closeSync(fd);
    if (n === 2 && head.toString('latin1') === '#!') out.push(path.relative(root, file));
  }
  return out.sort();
}

const [mode, root] = process.argv.slice(2);
if ((mode !== 'requires' && mode !== 'scripts') || root === undefined) {
  process.stderr.write('usage: tree-check.cjs requires|scripts DIR\n');
  process.exit(2);
}
const lines = mode === 'requires' ? unresolved(path.resolve(root)) : scripts(path.resolve(root));
process.stdout.write(lines.map((l) => `${l}\n`).join(''));
