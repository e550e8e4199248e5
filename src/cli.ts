#!/usr/bin/env node
import './runtime/heap-settings-apply';
import { parseArgs, type ParsedArgs } from './cli/args';
import { describeError, isPldnsError, PldnsError } from './errors';
import { formatProblems, loadConfigFile } from './config/load';
import { DEFAULTS } from './config/schema';
import { VERSION } from './cli/version';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, exitCodeFor } from './cli/exit-codes';
// Commands are loaded when chosen: the long-running `serve` keeps the other commands' modules
// out of its heap.

const HELP = `privatelink-dns ${VERSION} — answers Alibaba Cloud service names with PrivateLink endpoint IPs, forwards the rest

Usage:
  privatelink-dns serve [--config PATH]        run the daemon (default ${DEFAULTS.configPath})
  privatelink-dns serve --demo [--dns HOST:PORT] [--http HOST:PORT]
                                               run with the built-in PrivateLink simulator (DNS 127.0.0.1:5353, HTTP 127.0.0.1:8053)
  privatelink-dns check [--config PATH]        validate a config file (exit 0, or 2 with one line per problem; default as serve)
  privatelink-dns sync --config PATH [--json]  run one PrivateLink sync and print the name → IP table
  privatelink-dns simulate [--listen HOST:PORT] [--data FILE] [--access-key-id ID] [--access-key-secret SECRET]
                           [--tls-cert PEM --tls-key PEM]
                                               run the PrivateLink API simulator (HTTPS with a certificate)
  privatelink-dns export --config PATH --format hosts|dnsmasq|unbound|coredns|rpz
                                               print the current table as another DNS server's configuration
  privatelink-dns export --config PATH --format bind --out DIR
                                               write it as BIND zone files, one per zone, and DIR/named.conf to include

Options:
  --verbose    show stack traces on errors
  --help, -h   show this help
  --version    print the version

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad config.
`;

const COMMANDS = {
  serve: { config: 'value', demo: 'switch', dns: 'value', http: 'value' },
  check: { config: 'value' },
  sync: { config: 'value', json: 'switch' },
  simulate: {
    listen: 'value', data: 'value', 'access-key-id': 'value', 'access-key-secret': 'value', 'tls-cert': 'value', 'tls-key': 'value',
  },
  export: { config: 'value', format: 'value', out: 'value' },
} as const;
const GLOBAL = { help: 'switch', version: 'switch', verbose: 'switch' } as const;


async function main(argv: string[]): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv, COMMANDS, GLOBAL);
  } catch (err) {
    process.stderr.write(`privatelink-dns: ${describeError(err)}\n`);
    return EXIT_USAGE;
  }
  const verbose = args.flags.verbose === true;
  if (args.flags.version) {
    process.stdout.write(`${VERSION}\n`);
    return EXIT_OK;
  }
  if (args.flags.help || !args.command) {
    process.stdout.write(HELP);
    return args.command || args.flags.help ? EXIT_OK : EXIT_USAGE;
  }
  try {
    switch (args.command) {
      case 'check':
        return await runCheck(optionalFlag(args, 'config') ?? DEFAULTS.configPath);
      case 'serve': {
        const demo = args.flags.demo === true;
        if (demo && typeof args.flags.config === 'string') throw new PldnsError('USAGE', 'serve takes --config or --demo, not both');
        const demoListen = { dns: optionalFlag(args, 'dns'), http: optionalFlag(args, 'http') };
        if (!demo && (demoListen.dns !== undefined || demoListen.http !== undefined)) {
          throw new PldnsError('USAGE', '--dns and --http go with --demo; with a config file use listen.dns and listen.http');
        }
        const configPath = demo ? null : (optionalFlag(args, 'config') ?? DEFAULTS.configPath);
        return await (await import('./cli/commands/serve')).runServe({ configPath, demo, demoListen });
      }
      case 'sync':
        return await (await import('./cli/commands/sync')).runSync(requireFlag(args, 'config'), args.flags.json === true);
      case 'export':
        return await (await import('./cli/commands/export')).runExport(requireFlag(args, 'config'), requireFlag(args, 'format'), optionalFlag(args, 'out'));
      case 'simulate':
        return await (await import('./cli/commands/simulate')).runSimulate({
          listen: optionalFlag(args, 'listen'),
          data: optionalFlag(args, 'data'),
          accessKeyId: optionalFlag(args, 'access-key-id'),
          accessKeySecret: optionalFlag(args, 'access-key-secret'),
          tlsCert: optionalFlag(args, 'tls-cert'),
          tlsKey: optionalFlag(args, 'tls-key'),
        });
      default:
        throw new PldnsError('USAGE', `unknown command "${args.command}"`);
    }
  } catch (err) {
    return reportFailure(err, verbose);
  }
}

function optionalFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

function requireFlag(args: ParsedArgs, name: string): string {
  const v = args.flags[name];
  if (typeof v !== 'string') throw new PldnsError('USAGE', `${args.command} needs --${name}`);
  return v;
}

function reportFailure(err: unknown, verbose: boolean): number {
  if (isPldnsError(err, 'CONFIG_INVALID')) {
    const problems = err.details?.problems ?? [];
    for (const line of formatProblems(problems)) process.stderr.write(`${line}\n`);
    return EXIT_USAGE;
  }
  process.stderr.write(`privatelink-dns: ${describeError(err)}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return exitCodeFor(err);
}

async function runCheck(path: string): Promise<number> {
  const config = loadConfigFile(path);
  const warn = (setting: string, message: string) => process.stderr.write(`${path}: warning: ${setting}: ${message}\n`);
  for (const w of (await import('./config/warnings')).configWarnings(config)) warn(w.setting, w.message);
  if (config.stateDir) {
    const problem = await (await import('./privatelink/snapshot')).snapshotReadProblem(config.stateDir, config.records.entries);
    if (problem) warn('state_dir', problem);
  }
  process.stdout.write(`${path}: ok\n`);
  if (config.source === 'privatelink') {
    const runs = (await import('./config/cron-schedule')).nextCronRuns(config.privatelink.refresh, 3).map((d) => d.toISOString());
    process.stdout.write(`privatelink.refresh "${config.privatelink.refresh}": next syncs ${runs.join(', ')} (before jitter)\n`);
    const schedule = await import('./config/cron-schedule');
    process.stdout.write(`${schedule.describeSchedule(schedule.syncSchedule(config.privatelink.refresh, config.privatelink.jitterMs))}\n`);
    const report = (await import('./privatelink/quota')).quotaReport(config);
    if (report) process.stdout.write(`${report.info}\n`);
    if (report?.warning) process.stderr.write(`warning: ${report.warning}\n`);
    for (const line of (await import('./privatelink/secret-files')).credentialsReport(config.privatelink.credentials, process.env)) process.stdout.write(`${line}\n`);
  }
  return EXIT_OK;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Once stdout has taken everything (into a pipe it is written asynchronously: an export read
    // slowly was cut short), flush logs, then leave even if a stray handle (an idle keep-alive
    // socket) would hold us.
    process.stdout.write('', () => setTimeout(() => process.exit(code), 50).unref());
  },
  (err) => {
    process.stderr.write(`privatelink-dns: ${describeError(err)}\n`);
    process.exit(EXIT_FAILURE);
  },
);
