// The child processes a bench run starts: tracked so that every one is killed on exit, error or signal.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const children = new Set();

export function killAll() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try { c.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }
  children.clear();
}
export function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

export async function stopChild(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
  await done;
  clearTimeout(t);
}

/** Spawns `cmd` with stdout and stderr appended to `<logDir>/<label>.log`; tracked so killAll() stops it. */
export function startProc(label, cmd, args, opts) {
  const logPath = path.join(opts.logDir, `${label}.log`);
  const out = fs.openSync(logPath, 'a');
  const child = track(spawn(cmd, args, { stdio: ['ignore', out, out], cwd: opts.cwd ?? opts.logDir, env: opts.env ?? process.env }));
  fs.closeSync(out);
  child.logPath = logPath;
  child.label = label;
  child.cmdline = [cmd, ...args].map(shellQuote).join(' ');
  child.on('error', (e) => console.error(`bench: ${label}: ${e.message}`));
  return child;
}

export function shellQuote(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`;
}
