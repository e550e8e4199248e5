// A separate privatelink-dns under `node --cpu-prof` serving case (a); the top self time, tabulated.
import fs from 'node:fs';
import path from 'node:path';
import { stopChild } from './children.mjs';
import { runDnsperf } from './dnsperf.mjs';
import { fmtInt, summariseProfile } from './report-format.mjs';
import { startPrivatelink } from './servers.mjs';

/** Returns { qps, total, idle, rows, file } or null when no profile was written. `outDir` is git-ignored. */
export async function profileManaged(ctx, { upPort, managedFile, outDir }) {
  const { opt } = ctx;
  console.log('\nbench: CPU profile of privatelink-dns under the managed-name load (node --cpu-prof)');
  const profDir = path.join(ctx.work, 'cpuprof');
  fs.mkdirSync(profDir, { recursive: true });
  const pl = await startPrivatelink(ctx, upPort, { cpuProfDir: profDir, label: 'privatelink-dns-prof' });
  let r;
  try {
    r = await runDnsperf(['-s', '127.0.0.1', '-p', String(pl.port), '-d', managedFile, '-l', String(opt.duration), '-c', String(opt.clients), '-q', String(opt.outstanding), '-t', '2'],
      { describe: 'profile (a)', limitMs: (opt.duration + 30) * 1000 });
  } finally {
    await stopChild(pl.child, 10000);
  }
  const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  if (!files.length) {
    console.log('  no .cpuprofile written (did the daemon exit cleanly?)');
    return null;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const keep = path.join(outDir, 'privatelink-dns-managed.cpuprofile');
  fs.copyFileSync(path.join(profDir, files[0]), keep);
  const profile = { qps: r.qps, ...summariseProfile(keep, ctx.root, 20), file: path.relative(ctx.root, keep) };
  console.log(`  profiled run: ${fmtInt(r.qps)} qps; profile saved to ${profile.file}`);
  for (const [k, us] of profile.rows.slice(0, 10)) console.log(`  ${((100 * us) / profile.total).toFixed(1).padStart(5)}%  ${k}`);
  return profile;
}
