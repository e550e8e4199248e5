import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings the daemon needs, applied by the program itself so the binary, the systemd unit,
 * the container image and `npm start` all run the same way with a plain `node dist/cli.js`.
 *
 * The young generation: V8 grows its semi-spaces from 1 MiB up to 16 MiB each while a process
 * allocates fast, and under DNS load it does (every query allocates a little and keeps nothing),
 * which costs ~30 MB of RSS for no gain: a query's objects die within one scavenge at any size.
 * `--max-semi-space-size` cannot be changed once the heap exists, but the growth factor is read at
 * each resize, so a factor of 1 keeps the semi-spaces at their initial 1 MiB from here on.
 *
 * An operator who sets the young generation on the node command line (or in NODE_OPTIONS) keeps
 * that choice: nothing is changed then.
 */
export const YOUNG_GENERATION_FLAGS = ['--max-semi-space-size', '--min-semi-space-size', '--semi-space-growth-factor'] as const;

export interface HeapSettingsInput {
  readonly execArgv: readonly string[];
  readonly nodeOptions: string | undefined;
}

/** The V8 flags to set now, given how node was started (empty when the operator chose them). */
export function heapFlagsFor(input: HeapSettingsInput): string[] {
  const given = [...input.execArgv, ...(input.nodeOptions ?? '').split(/\s+/)];
  // V8 takes `--max_semi_space_size` as well as `--max-semi-space-size`.
  const chosen = given.some((arg) => {
    const name = `--${arg.replace(/^--/, '').split('=')[0].replace(/_/g, '-')}`;
    return (YOUNG_GENERATION_FLAGS as readonly string[]).includes(name);
  });
  return chosen ? [] : ['--semi-space-growth-factor=1'];
}

/** Applies the daemon's heap settings to this process; returns the flags set. */
export function applyHeapSettings(input: HeapSettingsInput = { execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS }): string[] {
  const flags = heapFlagsFor(input);
  for (const flag of flags) setFlagsFromString(flag);
  return flags;
}
