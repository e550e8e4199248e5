#!/usr/bin/env bash
# npm run package: builds, on this machine, the Debian package and a .tar.gz of the same tree for
# other distributions. Both carry their own Node.js (the one running this script), the compiled
# dist/ with the native addon, and the production node_modules only; an edge node needs no Node.js.
#
#   deploy/package/build.sh [--version V] [--out DIR] [--no-build] [--compress xz|gzip|none]
#
# --version   the package version (default: package.json's)
# --out       where the .deb and .tar.gz go (default: ./package-out)
# --no-build  use the dist/ already built (the packaging test builds once)
# --compress  the .deb's compression (default xz; the test uses none to stay quick)
# --no-tar    build the .deb only
# --lint      run lintian on the .deb and fail on any error (npm run package does)
#
# Needs dpkg-deb (dpkg), gzip, strip (binutils), and lintian to check the result (--lint).
# node_modules leaves out what prune.list names (checked by tree-check.cjs); the man page is
# privatelink-dns.8.
# Architecture: that of the Node.js binary and the addon built here (amd64 on x86_64); see
# docs/deployment.md "Other architectures".
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version=""
out="$repo/package-out"
build=yes
tarball=yes
lint=no
compress=xz
maintainer="${PLDNS_PKG_MAINTAINER:-privatelink-dns maintainers <privatelink-dns@users.noreply.github.com>}"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-build) build=no; shift ;;
    --no-tar) tarball=no; shift ;;
    --lint) lint=yes; shift ;;
    --compress) compress="$2"; shift 2 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

cd "$repo"
node_bin="$(node -p process.execPath)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || { echo "build.sh: Node.js >= 20 is needed, this is $(node --version)" >&2; exit 1; }
[ -n "$version" ] || version="$(node -p 'require("./package.json").version')"
case "$(uname -m)" in
  x86_64) deb_arch=amd64; tar_arch=x64 ;;
  aarch64) deb_arch=arm64; tar_arch=arm64 ;;
  *) echo "build.sh: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac

if [ "$build" = yes ]; then
  PLDNS_NATIVE=required npm run build --silent
fi
addon="$(ls dist/native/*.node 2>/dev/null | head -1 || true)"
[ -n "$addon" ] || { echo "build.sh: dist/native has no addon; build with gcc and libc6-dev installed" >&2; exit 1; }

# The Node.js license covers the runtime and everything linked into it.
node_license=""
prefix="$(dirname "$(dirname "$node_bin")")"
for f in "$prefix/share/doc/nodejs/LICENSE" "$prefix/share/doc/node/LICENSE" "$prefix/LICENSE"; do
  if [ -f "$f" ]; then node_license="$f"; break; fi
done
[ -n "$node_license" ] || { echo "build.sh: cannot find the LICENSE of $node_bin" >&2; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
lib="$root/usr/lib/privatelink-dns"
doc="$root/usr/share/doc/privatelink-dns"
mkdir -p "$lib" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/privatelink-dns" "$doc" "$root/usr/share/man/man8" "$root/DEBIAN"

# The runtime without its debug symbols and static symbol table; the dynamic symbols, which
# addons link against, stay.
strip --strip-unneeded --remove-section=.comment -o "$lib/node" "$node_bin"
chmod 0755 "$lib/node"
# The build: dist/ without source maps, the addon stripped of symbols the loader does not need.
cp -R dist "$lib/dist"
find "$lib/dist" -name '*.map' -delete
for f in "$lib"/dist/native/*.node; do strip --strip-unneeded --remove-section=.comment "$f"; chmod 0644 "$f"; done
cp package.json package-lock.json "$lib/"
# Production dependencies only, exactly as locked (from npm's cache when it has them).
(cd "$lib" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
rm -f "$lib/package-lock.json" "$lib/node_modules/.package-lock.json"
# `privatelink-dns --version` reports the package's version.
PKG_VERSION="$version" node -e 'const f=process.argv[1], p=JSON.parse(require("fs").readFileSync(f,"utf8")); p.version=process.env.PKG_VERSION; require("fs").writeFileSync(f, JSON.stringify(p,null,2)+"\n")' "$lib/package.json"
# What the modules ship that the daemon never loads (deploy/package/prune.list), then the check
# that nothing left requires what was pruned.
check="$here/tree-check.cjs"
"$lib/node" "$check" requires "$lib" > "$stage/requires-before"
(
  cd "$lib/node_modules"
  shopt -s globstar extglob nullglob dotglob
  while IFS= read -r pattern; do
    case "$pattern" in ''|'#'*) continue ;; esac
    # shellcheck disable=SC2206 # the pattern is a glob, expanded here on purpose
    matches=($pattern)
    [ "${#matches[@]}" -eq 0 ] || rm -rf -- "${matches[@]}"
  done < "$here/prune.list"
)
find "$lib/node_modules" -depth -type d -empty -delete
"$lib/node" "$check" requires "$lib" > "$stage/requires-after"
broken="$(LC_ALL=C comm -13 "$stage/requires-before" "$stage/requires-after")"
[ -z "$broken" ] || { printf 'build.sh: the prune removed files still required (deploy/package/prune.list):\n%s\n' "$broken" >&2; exit 1; }
# No scripts: the launcher runs dist/cli.js with the bundled node (its #! line would look for a
# node on PATH, which the node has not got), and the modules' own CLIs are pruned above.
sed -i '1s|^#!.*|// Run by /usr/bin/privatelink-dns on the bundled node.|' "$lib/dist/cli.js"
left="$("$lib/node" "$check" scripts "$lib")"
[ -z "$left" ] || { printf 'build.sh: scripts left in the tree (run them with the bundled node, or prune them):\n%s\n' "$left" >&2; exit 1; }

install -m 0755 "$here/launcher.sh" "$root/usr/bin/privatelink-dns"
# The unit from systemd/, running the bundled runtime instead of /usr/bin/node.
sed -e 's#^ExecStart=/usr/bin/node #ExecStart=/usr/lib/privatelink-dns/node #' \
    -e 's#^\# Install: the build.*#\# Installed by the privatelink-dns package: the build in /usr/lib/privatelink-dns (own Node.js),#' \
    -e 's#^\# the config in /etc/privatelink-dns/config.yaml (see config/\*.yaml), then#\# the config in /etc/privatelink-dns/config.yaml (edit it first); the unit is enabled, so#' \
    -e 's#^\#   systemctl enable --now privatelink-dns#\#   systemctl start privatelink-dns#' \
    -e '/^Description=/a Documentation=man:privatelink-dns(8)' \
    systemd/privatelink-dns.service > "$root/lib/systemd/system/privatelink-dns.service"
grep -q '^ExecStart=/usr/lib/privatelink-dns/node /usr/lib/privatelink-dns/dist/cli.js serve' "$root/lib/systemd/system/privatelink-dns.service" \
  || { echo "build.sh: the unit's ExecStart was not rewritten" >&2; exit 1; }
chmod 0644 "$root/lib/systemd/system/privatelink-dns.service"
install -m 0644 config/edge-node.yaml "$root/etc/privatelink-dns/config.yaml"

install -m 0644 "$here/debian/copyright" "$doc/copyright"
gzip -9n < "$here/privatelink-dns.8" > "$root/usr/share/man/man8/privatelink-dns.8.gz"
chmod 0644 "$root/usr/share/man/man8/privatelink-dns.8.gz"
mkdir -p "$root/usr/share/lintian/overrides"
install -m 0644 "$here/debian/lintian-overrides" "$root/usr/share/lintian/overrides/privatelink-dns"
gzip -9n < "$node_license" > "$doc/node-LICENSE.gz"
gzip -9n < CHANGELOG.md > "$doc/changelog.gz"
date_r="$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
printf 'privatelink-dns (%s) unstable; urgency=medium\n\n  * Release %s; see /usr/share/doc/privatelink-dns/changelog.gz.\n\n -- %s  %s\n' \
  "$version" "$version" "$maintainer" "$date_r" | gzip -9n > "$doc/changelog.Debian.gz"
chmod 0644 "$doc"/*

# The .tar.gz: the same tree (no DEBIAN/) and install.sh at its top.
name="privatelink-dns-$version-linux-$tar_arch"
tree="$stage/$name"
mkdir -p "$tree"
(cd "$root" && tar --exclude=./DEBIAN -cf - .) | (cd "$tree" && tar -xf -)
install -m 0755 "$here/install.sh" "$tree/install.sh"

# The .deb
for s in postinst prerm postrm; do install -m 0755 "$here/debian/$s" "$root/DEBIAN/$s"; done
echo /etc/privatelink-dns/config.yaml > "$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
installed_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat > "$root/DEBIAN/control" <<CONTROL
Package: privatelink-dns
Version: $version
Architecture: $deb_arch
Maintainer: $maintainer
Installed-Size: $installed_kb
Depends: libc6 (>= 2.28), libgcc-s1 (>= 3.0), libstdc++6 (>= 9), init-system-helpers (>= 1.54~)
Section: net
Priority: optional
Homepage: https://github.com/privatelink-dns/privatelink-dns
Description: DNS forwarder answering Alibaba Cloud names with PrivateLink IPs
 privatelink-dns answers Alibaba Cloud service names (ACR, ACK, OSS, SLS...)
 with the private IPs of their PrivateLink endpoints and forwards every other
 name to the data center's resolvers. It runs as a systemd service on edge
 nodes, or as a fleet hub publishing a response policy zone over AXFR/IXFR.
 .
 The package carries its own Node.js runtime (Node.js $(node --version | tr -d v)) in
 /usr/lib/privatelink-dns; the system needs no Node.js.
CONTROL

mkdir -p "$out"
case "$compress" in
  xz) zopt=(-Zxz) ;;
  gzip) zopt=(-Zgzip -z1) ;;
  none) zopt=(-Znone) ;;
  *) echo "build.sh: --compress xz|gzip|none" >&2; exit 2 ;;
esac
deb="$out/privatelink-dns_${version}_${deb_arch}.deb"
dpkg-deb --root-owner-group "${zopt[@]}" --build "$root" "$deb" >/dev/null
echo "$deb"
if [ "$tarball" = yes ]; then
  tgz="$out/$name.tar.gz"
  gzip_level=-6; [ "$compress" = xz ] || gzip_level=-1
  tar --owner=0 --group=0 --numeric-owner -C "$stage" -cf - "$name" | gzip -n "$gzip_level" > "$tgz"
  echo "$tgz"
fi
if [ "$lint" = yes ]; then
  report="$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -E '^[EW]: ' || true)"
  printf '%s\n' "$report" | grep -E '^[EW]: ' >&2 || true
  if printf '%s\n' "$report" | grep -q '^E: '; then echo "build.sh: lintian reports errors" >&2; exit 1; fi
fi
