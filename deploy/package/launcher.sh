#!/bin/sh
# /usr/bin/privatelink-dns: runs the CLI on the Node.js runtime shipped in the package, so the
# node needs no Node.js of its own (and a system one, of any version, is never used).
exec /usr/lib/privatelink-dns/node /usr/lib/privatelink-dns/dist/cli.js "$@"
