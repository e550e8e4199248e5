#!/bin/sh
# Installs privatelink-dns from this unpacked .tar.gz (distributions without dpkg). Run as root:
#   ./install.sh                 install or upgrade (a running daemon is restarted on the new build)
#   ./install.sh --uninstall     stop, disable and remove the program and the unit; keep the config
#                                and the saved table
#   ./install.sh --purge         --uninstall, and remove /etc/privatelink-dns and the saved table
# --root DIR installs under DIR instead of / (systemctl is then not called).
# The same rule as the .deb: a first install enables the unit but does not start it (edit
# /etc/privatelink-dns/config.yaml first); an existing config is never overwritten.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
root=""
action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2%/}"; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    --purge) action=purge; shift ;;
    *) echo "install.sh: unknown argument $1 (--root DIR, --uninstall, --purge)" >&2; exit 2 ;;
  esac
done

UNIT=privatelink-dns.service
unitdir="$root/etc/systemd/system"
systemd=no
if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemd=yes; fi

if [ "$action" = install ]; then
  upgrade=no
  [ -e "$root/usr/lib/privatelink-dns/dist/cli.js" ] && upgrade=yes
  mkdir -p "$root/usr/lib" "$root/usr/bin" "$unitdir" "$root/etc/privatelink-dns"
  # Swap the whole build in at once: a running daemon keeps its open files until the restart.
  rm -rf "$root/usr/lib/privatelink-dns.new" "$root/usr/lib/privatelink-dns.old"
  cp -R "$here/usr/lib/privatelink-dns" "$root/usr/lib/privatelink-dns.new"
  if [ -e "$root/usr/lib/privatelink-dns" ]; then mv "$root/usr/lib/privatelink-dns" "$root/usr/lib/privatelink-dns.old"; fi
  mv "$root/usr/lib/privatelink-dns.new" "$root/usr/lib/privatelink-dns"
  rm -rf "$root/usr/lib/privatelink-dns.old"
  install -m 0755 "$here/usr/bin/privatelink-dns" "$root/usr/bin/privatelink-dns"
  mkdir -p "$root/usr/share/man/man8"
  install -m 0644 "$here/usr/share/man/man8/privatelink-dns.8.gz" "$root/usr/share/man/man8/privatelink-dns.8.gz"
  install -m 0644 "$here/lib/systemd/system/$UNIT" "$unitdir/$UNIT"
  if [ -e "$root/etc/privatelink-dns/config.yaml" ]; then
    install -m 0644 "$here/etc/privatelink-dns/config.yaml" "$root/etc/privatelink-dns/config.yaml.dist"
    echo "install.sh: kept /etc/privatelink-dns/config.yaml (the shipped one is config.yaml.dist)"
  else
    install -m 0644 "$here/etc/privatelink-dns/config.yaml" "$root/etc/privatelink-dns/config.yaml"
  fi
  if [ "$systemd" = yes ]; then
    systemctl daemon-reload
    if [ "$upgrade" = yes ]; then
      systemctl try-restart "$UNIT"
    else
      systemctl enable "$UNIT"
    fi
  elif [ -z "$root" ] && [ "$upgrade" = no ]; then
    # No running systemd (a chroot, an image build): enable the unit the way systemctl would.
    mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
    ln -sf "/etc/systemd/system/$UNIT" "$root/etc/systemd/system/multi-user.target.wants/$UNIT"
  fi
  if [ "$upgrade" = no ]; then
    echo "privatelink-dns installed: edit /etc/privatelink-dns/config.yaml, check it with" \
      "'privatelink-dns check', then 'systemctl start privatelink-dns'."
  fi
  exit 0
fi

# uninstall / purge
if [ "$systemd" = yes ]; then
  systemctl disable --now "$UNIT" || true
fi
rm -f "$root/etc/systemd/system/multi-user.target.wants/$UNIT" "$unitdir/$UNIT"
[ "$systemd" = yes ] && systemctl daemon-reload
rm -rf "$root/usr/lib/privatelink-dns"
rm -f "$root/usr/bin/privatelink-dns" "$root/usr/share/man/man8/privatelink-dns.8.gz"
if [ "$action" = purge ]; then
  rm -rf "$root/etc/privatelink-dns" "$root/var/lib/private/privatelink-dns" "$root/var/lib/privatelink-dns"
fi
exit 0
