// Follows a child's stdout of JSON log lines (the daemon's pino output): every parsed line, stamped
// with when it was seen (performance.now(); add performance.timeOrigin for Unix ms), and
// wait(pred) for the first line that matches. Lines that are not JSON go to stderr with `name`.

export function followJsonLog(child, name = 'child') {
  const lines = [];
  const waiters = new Set();
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    for (const l of parts) {
      let obj;
      try { obj = { ...JSON.parse(l), seenAt: performance.now() }; } catch { if (l.trim()) process.stderr.write(`${name}: ${l}\n`); continue; }
      lines.push(obj);
      for (const w of waiters) if (w.pred(obj)) { waiters.delete(w); w.resolve(obj); }
    }
  });
  return {
    lines,
    /** The first line (seen or to come) matching `pred`; rejects after `timeoutMs` or when the child exits first. */
    wait(pred, timeoutMs = 30_000, what = 'the log line') {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const onExit = (code) => { clearTimeout(t); waiters.delete(w); reject(new Error(`${name} exited (${code}) before "${what}"`)); };
        const w = { pred, resolve: (o) => { clearTimeout(t); child.off('exit', onExit); resolve(o); } };
        const t = setTimeout(() => { waiters.delete(w); child.off('exit', onExit); reject(new Error(`${name}: no "${what}" within ${timeoutMs} ms`)); }, timeoutMs);
        waiters.add(w);
        child.once('exit', onExit);
      });
    },
  };
}
