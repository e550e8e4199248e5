import { execFileSync, spawnSync } from 'node:child_process';

/**
 * Tests that need a real tool fail when it is missing: `.ci/run` installs them all, so a
 * missing tool is a broken environment, never a reason to skip silently.
 */
export function requireTool(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    throw new Error(`required tool "${name}" is not installed (run .ci/run, or on Debian: apt-get install ${DEBIAN_PACKAGE[name] ?? name})`);
  }
  return path;
}

/** Where a tool comes from on Debian, for the message above (the list .ci/run installs). */
const DEBIAN_PACKAGE: Record<string, string> = {
  dig: 'bind9-dnsutils',
  kdig: 'knot-dnsutils',
  named: 'bind9',
  'named-checkzone': 'bind9-utils',
  unbound: 'unbound',
  'unbound-checkconf': 'unbound',
  dnsmasq: 'dnsmasq-base',
  ip: 'iproute2',
  'systemd-analyze': 'systemd',
  chattr: 'e2fsprogs',
  getent: 'libc-bin',
  'named-checkconf': 'bind9-utils',
  python3: 'python3',
  openssl: 'openssl',
  setpriv: 'util-linux',
  nsupdate: 'bind9-dnsutils',
  pdns_recursor: 'pdns-recursor',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  lintian: 'lintian',
  'dpkg-deb': 'dpkg',
  strip: 'binutils',
  unshare: 'util-linux',
  chroot: 'coreutils',
  faketime: 'faketime',
};

export function toolVersion(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err).split('\n')[0];
  }
}
