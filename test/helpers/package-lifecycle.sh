#!/usr/bin/env bash
# Run by test/packaging/deb.test.ts inside `unshare --mount`: installs, upgrades, removes and
# purges the .deb, then installs and purges the .tar.gz, in a copy-on-write view of this machine's
# root (overlayfs: every write lands in $WORK/upper, the real root is never touched) from which
# every Node.js is deleted. A stand-in systemctl records what the maintainer scripts ask systemd.
# Prints key=value lines for the test to check.
#   package-lifecycle.sh WORK PKGDIR OLD_VERSION NEW_VERSION DNS_PORT
set -euo pipefail
work="$1"; pkgdir="$2"; old="$3"; new="$4"; port="$5"
m="$work/merged"
mkdir -p "$work/upper" "$work/ovl" "$m"
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/ovl" "$m"
mount --rbind /dev "$m/dev"
mount -t proc proc "$m/proc"
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
mkdir -p "$m/pkg"
mount --bind "$pkgdir" "$m/pkg"

# A node with no Node.js: delete every node binary the root has (in the overlay only).
for d in /usr/bin /usr/local/bin /bin /usr/sbin /sbin /usr/local/sbin; do
  rm -f "$m$d/node" "$m$d/nodejs"
done
rm -f "$m/usr/sbin/policy-rc.d"
# "systemd is running": the maintainer scripts talk to systemctl, which records the calls.
mkdir -p "$m/run/systemd/system"
# Offline operations (--root=: enable, preset, mask) are done by the real systemctl.
cp -a "$m/usr/bin/systemctl" "$m/usr/bin/systemctl.real"
cat > "$m/usr/bin/systemctl" <<'STUB'
#!/bin/sh
echo "$*" >> /run/systemctl.log
case "$*" in
  *--root=*) exec /usr/bin/systemctl.real "$@" ;;
  *is-active*) [ -e /run/unit-active ] ;;
  *) exit 0 ;;
esac
STUB
chmod 0755 "$m/usr/bin/systemctl"

in_root() { chroot "$m" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
say() { echo "$1=$2"; }
calls() { tr '\n' ';' < "$m/run/systemctl.log" 2>/dev/null || true; : > "$m/run/systemctl.log"; }
exists() { if [ -e "$m$1" ] || [ -L "$m$1" ]; then echo yes; else echo no; fi; }
# The A addresses dig gets for NAME from the daemon PID on $port, one per line: asked every 0.2 s
# up to TRIES times, until there is one or the daemon has exited (then nothing).
await_answer() {
  local pid="$1" name="$2" tries="$3" got=""
  for _ in $(seq 1 "$tries"); do
    got="$(dig +short +time=1 +tries=1 -p "$port" @127.0.0.1 "$name" A 2>/dev/null | grep -E '^[0-9.]+$' || true)"
    [ -n "$got" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  [ -n "$got" ] && echo "$got"
  return 0
}

say node_on_path "$(in_root sh -c 'command -v node || echo none')"

# --- install ---
in_root dpkg -i "/pkg/privatelink-dns_${old}_amd64.deb" > "$work/install.log" 2>&1 && say install_rc 0 || say install_rc $?
say install_status "$(in_root dpkg-query -W -f='${Status} ${Version}' privatelink-dns)"
say install_calls "$(calls)"
say enabled_link "$(readlink "$m/etc/systemd/system/multi-user.target.wants/privatelink-dns.service" || echo none)"
say version_cmd "$(in_root privatelink-dns --version 2>&1)"
say conffiles "$(in_root dpkg-query -W -f='${Conffiles}' privatelink-dns | awk '{print $1}' | tr '\n' ' ')"
in_root privatelink-dns check --config /etc/privatelink-dns/config.yaml > "$work/check.log" 2>&1 && say check_rc 0 || say check_rc $?
say unit_execstart "$(grep '^ExecStart=' "$m/lib/systemd/system/privatelink-dns.service")"
say unit_verify "$(in_root systemd-analyze verify /lib/systemd/system/privatelink-dns.service 2>&1 | tr '\n' ' '; echo "rc=${PIPESTATUS[0]}")"

# The installed daemon answers: a static name on a free port, no state written.
cat > "$m/tmp/serve.yaml" <<YAML
region: cn-hangzhou
listen: { dns: ["127.0.0.1:$port"], http: "127.0.0.1:0" }
upstream: { servers: [] }
records:
  entries:
    - names: ["ntp.internal.example"]
      addresses: ["10.0.0.123"]
state_dir: false
YAML
# Not through in_root: $! must be the daemon itself (chroot and env exec), not a subshell.
chroot "$m" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin privatelink-dns serve --config /tmp/serve.yaml > "$work/serve.log" 2>&1 &
serve_pid=$!
trap 'kill -KILL "$serve_pid" 2>/dev/null || true' EXIT
answer="$(await_answer "$serve_pid" ntp.internal.example 100)"
say served_answer "${answer:-none}"
# The other documented commands, from the package (static entries: no cloud needed).
say export_hosts "$(in_root privatelink-dns export --config /tmp/serve.yaml --format hosts 2>&1 | grep -c '^10.0.0.123[[:space:]]*ntp.internal.example' || true)"
in_root privatelink-dns export --config /tmp/serve.yaml --format bind --out /tmp/bind > /dev/null 2>&1 && say export_bind_rc 0 || say export_bind_rc $?
say export_bind_checkconf "$(in_root named-checkconf -z /tmp/bind/named.conf > /dev/null 2>&1 && echo ok || echo failed)"
kill -TERM "$serve_pid" 2>/dev/null || true
wait "$serve_pid" && say serve_exit 0 || say serve_exit $?
say serve_udp_io "$(grep -o '"udpIo":"[a-z]*"' "$work/serve.log" | head -1 || true)"
trap - EXIT

# serve --demo: a sync through the real API client (the Alibaba Cloud SDK and what it loads:
# moment, lodash, xml2js, the credentials chain) against the built-in simulator, so a prune
# that took a file the client needs fails here.
chroot "$m" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin privatelink-dns serve --demo --dns "127.0.0.1:$port" --http 127.0.0.1:0 > "$work/demo.log" 2>&1 &
demo_pid=$!
trap 'kill -KILL "$demo_pid" 2>/dev/null || true' EXIT
answer="$(await_answer "$demo_pid" registry-cn-hangzhou-vpc.ack.aliyuncs.com 150 | sort | tr '\n' ' ')"
say demo_answer "${answer:-none}"
say demo_sync "$(grep -o '"component":"sync","result":"[a-z]*"' "$work/demo.log" | head -1 || true)"
kill -TERM "$demo_pid" 2>/dev/null || true
wait "$demo_pid" && say demo_exit 0 || say demo_exit $?
trap - EXIT

# The manual page, as man finds it and renders it: its NAME line, and nothing on stderr (man
# --warnings passes troff's warnings there).
in_root env MANWIDTH=200 man --warnings -P cat 8 privatelink-dns > "$work/man.out" 2> "$work/man.err" || true
say man_name "$(grep -c 'privatelink-dns - DNS forwarder that answers Alibaba Cloud' "$work/man.out" || true)"
say man_stderr "$(tr '\n' ' ' < "$work/man.err")"

# The operator edits the config; the daemon ran and left state behind; the unit is running.
echo "# edited by the operator" >> "$m/etc/privatelink-dns/config.yaml"
mkdir -p "$m/var/lib/private/privatelink-dns"
echo '{}' > "$m/var/lib/private/privatelink-dns/snapshot.json"
ln -sfn private/privatelink-dns "$m/var/lib/privatelink-dns"
touch "$m/run/unit-active"

# --- upgrade ---
in_root dpkg -i "/pkg/privatelink-dns_${new}_amd64.deb" > "$work/upgrade.log" 2>&1 && say upgrade_rc 0 || say upgrade_rc $?
say upgrade_status "$(in_root dpkg-query -W -f='${Status} ${Version}' privatelink-dns)"
say upgrade_calls "$(calls)"
say upgrade_version_cmd "$(in_root privatelink-dns --version 2>&1)"
say upgrade_config_kept "$(grep -c 'edited by the operator' "$m/etc/privatelink-dns/config.yaml" || true)"

# --- remove ---
in_root dpkg -r privatelink-dns > "$work/remove.log" 2>&1 && say remove_rc 0 || say remove_rc $?
say remove_calls "$(calls)"
say remove_bin "$(exists /usr/bin/privatelink-dns)"
say remove_lib "$(exists /usr/lib/privatelink-dns)"
say remove_config "$(exists /etc/privatelink-dns/config.yaml)"
say remove_state "$(exists /var/lib/private/privatelink-dns/snapshot.json)"

# --- purge ---
in_root dpkg -P privatelink-dns > "$work/purge.log" 2>&1 && say purge_rc 0 || say purge_rc $?
say purge_status "$(in_root dpkg-query -W -f='${Status}' privatelink-dns 2>&1 || true)"
say purge_config "$(exists /etc/privatelink-dns)"
say purge_state "$(exists /var/lib/private/privatelink-dns)"
say purge_state_link "$(exists /var/lib/privatelink-dns)"
say purge_enabled_link "$(exists /etc/systemd/system/multi-user.target.wants/privatelink-dns.service)"
calls > /dev/null

# --- the .tar.gz and its install script ---
mkdir -p "$m/tmp/tgz"
tar -xzf "$pkgdir/privatelink-dns-${new}-linux-x64.tar.gz" -C "$m/tmp/tgz"
in_root "/tmp/tgz/privatelink-dns-${new}-linux-x64/install.sh" > "$work/tgz-install.log" 2>&1 && say tgz_install_rc 0 || say tgz_install_rc $?
say tgz_version_cmd "$(in_root privatelink-dns --version 2>&1)"
in_root privatelink-dns check --config /etc/privatelink-dns/config.yaml > /dev/null 2>&1 && say tgz_check_rc 0 || say tgz_check_rc $?
say tgz_unit "$(exists /etc/systemd/system/privatelink-dns.service)"
say tgz_man "$(exists /usr/share/man/man8/privatelink-dns.8.gz)"
say tgz_calls "$(calls)"
in_root "/tmp/tgz/privatelink-dns-${new}-linux-x64/install.sh" --purge > "$work/tgz-purge.log" 2>&1 && say tgz_purge_rc 0 || say tgz_purge_rc $?
say tgz_purge_left "$(for f in /usr/bin/privatelink-dns /usr/lib/privatelink-dns /usr/share/man/man8/privatelink-dns.8.gz /etc/privatelink-dns /etc/systemd/system/privatelink-dns.service; do [ -e "$m$f" ] && echo "$f"; done | tr '\n' ' ')"
say done yes
