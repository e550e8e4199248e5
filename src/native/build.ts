/**
 * Compiles the optional native addon, dist/native/pldns_native.node, from the C files next to
 * this one (addon.c: module init and shared helpers; udp_batch.c: listeners; upstream_udp.c:
 * forwarded exchanges; sd_notify.c: readiness for systemd; malloc_trim.c: memory back after a
 * burst). Run by `npm run build` after tsc. Without a C compiler or Node's headers the daemon
 * still works: it uses Node's dgram (listen.udp_io: auto). PLDNS_NATIVE=required turns a failed
 * build into an error (CI and the container build use it, so a broken addon cannot slip through
 * unnoticed).
 *
 * A plain compiler call rather than node-gyp: a handful of C files, no Python, no header download.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ADDON_FILE } from './addon';

const SOURCE_DIR = resolve(__dirname, '..', '..', 'src', 'native');
/** addon.c holds the module init; each other file adds its job's exports (addon.h). */
export const ADDON_SOURCES = ['addon.c', 'udp_batch.c', 'upstream_udp.c', 'sd_notify.c', 'malloc_trim.c'].map((f) => join(SOURCE_DIR, f));

function headerDir(): string | undefined {
  const candidates = [
    process.env.PLDNS_NODE_INCLUDE,
    resolve(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((dir): dir is string => !!dir && existsSync(join(dir, 'node_api.h')) && existsSync(join(dir, 'uv.h')));
}

/**
 * Compiles the addon's sources (and `extraArgs`: more sources or -D flags) into `output`; returns
 * why that failed, or undefined. Warnings (-Wall -Wextra) are written to stderr.
 */
export function compileAddon(output: string, extraArgs: readonly string[] = []): string | undefined {
  const missing = ADDON_SOURCES.find((f) => !existsSync(f));
  if (missing) return `${missing} not found`;
  const include = headerDir();
  if (!include) return "Node's headers (node_api.h, uv.h) not found; set PLDNS_NODE_INCLUDE";
  const cc = process.env.CC ?? 'cc';
  // Written under a temporary name, then renamed: a running daemon keeps its mapped copy intact.
  const tmp = `${output}.${process.pid}.tmp`;
  const args = ['-O2', '-std=gnu11', '-fPIC', '-shared', '-fvisibility=hidden', '-Wall', '-Wextra', '-I', include, '-o', tmp, ...ADDON_SOURCES, ...extraArgs];
  const run = spawnSync(cc, args, { encoding: 'utf8' });
  if (run.error || run.status !== 0) {
    rmSync(tmp, { force: true });
    const detail = run.error ? run.error.message : (run.stderr || run.stdout).trim().split('\n').slice(0, 8).join('\n');
    return `${cc} failed: ${detail}`;
  }
  if (run.stderr.trim()) process.stderr.write(run.stderr);
  renameSync(tmp, output);
  return undefined;
}

if (require.main === module) {
  const problem = compileAddon(join(__dirname, ADDON_FILE));
  if (problem) {
    const required = process.env.PLDNS_NATIVE === 'required';
    process.stderr.write(`privatelink-dns: native addon not built (${problem}).\n`);
    process.stderr.write(required ? 'PLDNS_NATIVE=required: failing the build.\n' : "The daemon will use Node's dgram for UDP (slower; see docs/configuration.md listen.udp_io).\n");
    if (required) process.exitCode = 1;
  }
}
