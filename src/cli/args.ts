import { PldnsError } from '../errors';

export interface ParsedArgs {
  readonly command: string | undefined;
  readonly flags: Readonly<Record<string, string | true>>;
  readonly positional: readonly string[];
}

/**
 * `command --flag value --switch` parsing. Every command declares its flags: an unknown flag is a
 * usage error rather than something silently ignored.
 */
export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, Readonly<Record<string, 'value' | 'switch'>>>>, global: Readonly<Record<string, 'value' | 'switch'>>): ParsedArgs {
  const flags: Record<string, string | true> = {};
  const positional: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      const kind = (command ? spec[command]?.[name] : undefined) ?? global[name];
      if (!kind) throw new PldnsError('USAGE', `unknown option --${name}${command ? ` for "${command}"` : ''}`);
      if (kind === 'switch') {
        if (eq > 0) throw new PldnsError('USAGE', `--${name} takes no value`);
        flags[name] = true;
      } else {
        const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
        if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new PldnsError('USAGE', `--${name} needs a value`);
        flags[name] = value;
      }
    } else if (command === undefined && !arg.startsWith('-')) {
      command = arg;
      if (!spec[command]) throw new PldnsError('USAGE', `unknown command "${command}" (try --help)`);
    } else if (arg === '-h') {
      flags.help = true;
    } else {
      positional.push(arg);
    }
  }
  if (positional.length > 0) throw new PldnsError('USAGE', `unexpected argument "${positional[0]}"`);
  return { command, flags, positional };
}
