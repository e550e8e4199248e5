// Memory and CPU of a process from /proc (Linux).
import fs from 'node:fs';

export function readStatus(pid) {
  try {
    const txt = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => { const m = txt.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')); return m ? Number(m[1]) : 0; };
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon') };
  } catch {
    return null;
  }
}

// CPU seconds (user+system) consumed so far by a process, from /proc/PID/stat.
const CLK_TCK = 100;
export function cpuSeconds(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

export class RssSampler {
  constructor(servers) {
    this.servers = servers;
    this.peak = {}; // key -> max VmRSS kB within the current window
    this.peakAnon = {}; // key -> max RssAnon kB (RSS minus file-backed pages such as the executable)
    this.timer = null;
  }
  start(key) {
    this.key = key;
    this.timer = setInterval(() => this.sample(), 100);
    this.sample();
  }
  sample() {
    for (const s of this.servers) {
      const st = readStatus(s.child.pid);
      if (!st) continue;
      const k = `${this.key}|${s.id}`;
      this.peak[k] = Math.max(this.peak[k] ?? 0, st.rss);
      this.peakAnon[k] = Math.max(this.peakAnon[k] ?? 0, st.anon);
    }
  }
  stop() {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }
}
