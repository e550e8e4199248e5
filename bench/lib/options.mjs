// Command-line options of bench/run.mjs, with the defaults --quick changes.
export function parseArgs(argv) {
  const o = { quick: false, duration: null, rounds: null, clients: 4, outstanding: 200, tcpClients: 8, tcpOutstanding: 256,
    cases: ['a', 'b', 'c', 'd'], profile: null, write: true, keep: false, latencyDuration: null, udpIo: 'auto', lowRate: 10000, nodeFlags: [],
    idleWait: null, startupRuns: null, extras: ['idle', 'hub', 'gc'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const num = () => {
      const n = Number(next());
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${a} needs a positive number`);
      return n;
    };
    switch (a) {
      case '--quick': o.quick = true; break;
      case '--duration': o.duration = num(); break;
      case '--rounds': o.rounds = Math.round(num()); break;
      case '--clients': o.clients = Math.round(num()); break;
      case '--outstanding': o.outstanding = Math.round(num()); break;
      case '--tcp-clients': o.tcpClients = Math.round(num()); break;
      case '--tcp-outstanding': o.tcpOutstanding = Math.round(num()); break;
      case '--latency-duration': o.latencyDuration = num(); break;
      case '--cases': o.cases = next().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--no-profile': o.profile = false; break;
      case '--profile': o.profile = true; break;
      case '--no-write': o.write = false; break;
      case '--keep': o.keep = true; break;
      case '--low-rate': o.lowRate = Math.round(num()); break;
      case '--node-flags': o.nodeFlags = next().split(/\s+/).filter(Boolean); break;
      case '--idle-wait': o.idleWait = Number(next()); if (!(o.idleWait >= 0)) throw new Error('--idle-wait needs seconds ≥ 0'); break;
      case '--startup-runs': o.startupRuns = Math.round(Number(next())); if (!(o.startupRuns >= 0)) throw new Error('--startup-runs needs a count ≥ 0'); break;
      case '--no-startup': o.startupRuns = 0; break;
      case '--extras': o.extras = next().split(',').map((x) => x.trim()).filter(Boolean); break;
      case '--no-extras': o.extras = []; break;
      case '--udp-io':
        o.udpIo = next();
        if (!['auto', 'batch', 'dgram'].includes(o.udpIo)) throw new Error('--udp-io takes auto, batch or dgram');
        break;
      case '-h': case '--help':
        console.log('node bench/run.mjs [--quick] [--duration SECONDS] [--rounds N] [--clients C] [--outstanding Q]\n' +
          '  [--tcp-clients C] [--tcp-outstanding Q] [--latency-duration SECONDS] [--cases a,b,c,d] [--profile|--no-profile] [--no-write] [--keep] [--udp-io auto|batch|dgram] [--low-rate QPS] [--node-flags "FLAGS"]\n' +
          '  [--idle-wait SECONDS (case c, default 60; 0 with --quick)] [--startup-runs N (default 10; 3 with --quick) | --no-startup]\n' +
          '  [--extras idle,hub,gc (default all) | --no-extras]');
        process.exit(0);
        break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (o.duration === null) o.duration = o.quick ? 2 : 10;
  if (o.rounds === null) o.rounds = o.quick ? 1 : 2;
  if (o.latencyDuration === null) o.latencyDuration = o.quick ? 2 : Math.min(o.duration, 6);
  if (o.profile === null) o.profile = !o.quick;
  if (o.idleWait === null) o.idleWait = o.quick ? 0 : 60;
  if (o.startupRuns === null) o.startupRuns = o.quick ? 3 : 10;
  for (const c of o.cases) if (!['a', 'b', 'c', 'd'].includes(c)) throw new Error(`unknown case ${c}`);
  for (const x of o.extras) if (!['idle', 'hub', 'gc'].includes(x)) throw new Error(`unknown extra pass ${x} (idle, hub, gc)`);
  return o;
}
