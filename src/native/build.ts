/**
 * Compiles the optional addon next to this file in dist/native/ (udp_batch.c: listeners;
 * upstream_udp.c: forwarded exchanges; malloc_trim.c: memory back after a burst). Run by
 * `npm run build` after tsc. Without a C compiler or Node's headers the daemon still works: it
 * uses Node's dgram (listen.udp_io: auto). PLDNS_NATIVE=required turns a failed build into an
 * error (CI and the container build use it, so a broken addon cannot slip through unnoticed).
 *
 * A plain compiler call rather than node-gyp: three C files, no Python, no header download.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const SOURCE_DIR = resolve(__dirname, '..', '..', 'src', 'native');
/** udp_batch.c holds the module init; the others add to its exports (addon.h). */
const SOURCES = ['udp_batch.c', 'upstream_udp.c', 'malloc_trim.c'].map((f) => join(SOURCE_DIR, f));
const OUTPUT = join(__dirname, 'udp_batch.node');

function headerDir(): string | undefined {
  const candidates = [
    process.env.PLDNS_NODE_INCLUDE,
    resolve(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((dir): dir is string => !!dir && existsSync(join(dir, 'node_api.h')) && existsSync(join(dir, 'uv.h')));
}

function build(): string | undefined {
  const missing = SOURCES.find((f) => !existsSync(f));
  if (missing) return `${missing} not found`;
  const include = headerDir();
  if (!include) return "Node's headers (node_api.h, uv.h) not found; set PLDNS_NODE_INCLUDE";
  const cc = process.env.CC ?? 'cc';
  // Written under a temporary name, then renamed: a running daemon keeps its mapped copy intact.
  const tmp = `${OUTPUT}.${process.pid}.tmp`;
  const args = ['-O2', '-std=gnu11', '-fPIC', '-shared', '-fvisibility=hidden', '-Wall', '-Wextra', '-I', include, '-o', tmp, ...SOURCES];
  const run = spawnSync(cc, args, { encoding: 'utf8' });
  if (run.error || run.status !== 0) {
    rmSync(tmp, { force: true });
    const detail = run.error ? run.error.message : (run.stderr || run.stdout).trim().split('\n').slice(0, 8).join('\n');
    return `${cc} failed: ${detail}`;
  }
  if (run.stderr.trim()) process.stderr.write(run.stderr);
  renameSync(tmp, OUTPUT);
  return undefined;
}

const problem = build();
if (problem) {
  const required = process.env.PLDNS_NATIVE === 'required';
  process.stderr.write(`privatelink-dns: UDP batch addon not built (${problem}).\n`);
  process.stderr.write(required ? 'PLDNS_NATIVE=required: failing the build.\n' : "The daemon will use Node's dgram for UDP (slower; see docs/configuration.md listen.udp_io).\n");
  if (required) process.exitCode = 1;
}
