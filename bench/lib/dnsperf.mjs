// dnsperf runs and what they report (throughput, per-query latencies with -v).
import { spawn } from 'node:child_process';
import { shellQuote, track } from './children.mjs';

export function parseDnsperf(text) {
  const num = (re) => { const m = text.match(re); return m ? Number(m[1]) : NaN; };
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatency: num(/Average Latency \(s\):\s+([\d.]+)/),
    maxLatency: num(/Average Latency \(s\):\s+[\d.]+ \(min [\d.]+, max ([\d.]+)\)/),
    runTime: num(/Run time \(s\):\s+([\d.]+)/),
    rcodes: (text.match(/Response codes:\s+(.*)/) || [])[1] ?? '',
  };
}

export const commandLines = new Map(); // description -> example command line

// Runs dnsperf; with verbose, collects per-query latencies (seconds) from the "> RCODE name type latency" lines.
export function runDnsperf(args, { verbose = false, describe, limitMs }) {
  const full = verbose ? [...args, '-v'] : args;
  if (describe && !commandLines.has(describe)) commandLines.set(describe, ['dnsperf', ...full].map(shellQuote).join(' '));
  return new Promise((resolve, reject) => {
    const child = track(spawn('dnsperf', full, { stdio: ['ignore', 'pipe', 'pipe'] }));
    const lat = [];
    let tail = '';
    let partial = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      if (!verbose) { tail += chunk; return; }
      const data = partial + chunk;
      const lines = data.split('\n');
      partial = lines.pop();
      for (const line of lines) {
        if (line.charCodeAt(0) === 62 /* '>' */) {
          const sp = line.lastIndexOf(' ');
          const v = Number(line.slice(sp + 1));
          if (Number.isFinite(v)) lat.push(v);
        } else {
          tail += line + '\n';
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c) => { if (stderr.length < 20000) stderr += c; });
    const limit = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', (e) => { clearTimeout(limit); reject(e); });
    child.on('close', (code) => {
      clearTimeout(limit);
      if (partial) tail += partial;
      const r = parseDnsperf(tail);
      if (!Number.isFinite(r.qps)) return reject(new Error(`dnsperf failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      r.timeouts = (stderr.match(/timed out/g) || []).length;
      if (verbose) r.latencies = Float64Array.from(lat).sort();
      resolve(r);
    });
  });
}

export function quantile(sorted, q) {
  if (!sorted || sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}
