import { execFile } from 'node:child_process';
import { requireTool } from './tools';

export interface DigResult {
  readonly status: string;
  readonly flags: string[];
  readonly answers: { name: string; ttl: number; type: string; data: string }[];
  readonly authority: { name: string; ttl: number; type: string; data: string }[];
  readonly raw: string;
  readonly server: string;
}

/** Runs real `dig` (or `kdig`) against a loopback server and parses its full output. */
export async function dig(port: number, name: string, type = 'A', extra: string[] = [], tool: 'dig' | 'kdig' = 'dig', server = '127.0.0.1'): Promise<DigResult> {
  requireTool(tool);
  const args = [`@${server}`, '-p', String(port), name, type, ...(tool === 'dig' ? ['+tries=1', '+time=3'] : ['+retry=0', '+time=3']), ...extra];
  const raw = await new Promise<string>((resolve) => {
    execFile(tool, args, { timeout: 15_000, encoding: 'utf8' }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
  return parseDig(raw);
}

export function parseDig(raw: string): DigResult {
  const status = /status: ([A-Z]+)/.exec(raw)?.[1] ?? 'NO_ANSWER';
  const flags = /[Ff]lags: ([a-z ]+);/.exec(raw)?.[1].trim().split(/\s+/) ?? [];
  const section = (title: RegExp): DigResult['answers'] => {
    const lines = raw.split('\n');
    const out: DigResult['answers'] = [];
    let inside = false;
    for (const line of lines) {
      if (title.test(line)) {
        inside = true;
        continue;
      }
      if (inside) {
        if (line.trim() === '' || line.startsWith(';;')) break;
        const parts = line.trim().split(/\s+/);
        if (parts.length >= 5) out.push({ name: parts[0].toLowerCase(), ttl: Number(parts[1]), type: parts[3], data: parts.slice(4).join(' ') });
      }
    }
    return out;
  };
  const server = /(?:SERVER: [^\n(]+|From [^\n(]+)\((UDP|TCP)\)/.exec(raw)?.[1] ?? '';
  return { status, flags, answers: section(/ANSWER SECTION:/), authority: section(/AUTHORITY SECTION:/), raw, server };
}
