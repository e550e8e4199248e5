# syntax=docker/dockerfile:1
# privatelink-dns container image.
#   docker build -t privatelink-dns .
#   docker run -d --name privatelink-dns -p 53:53/udp -p 53:53/tcp -p 8053:8053 \
#     -v /etc/privatelink-dns/config.yaml:/etc/privatelink-dns/config.yaml:ro \
#     -v privatelink-dns-state:/var/lib/privatelink-dns \
#     -e ALIBABA_CLOUD_ACCESS_KEY_ID -e ALIBABA_CLOUD_ACCESS_KEY_SECRET privatelink-dns
# Inside a container the mounted config should listen on 0.0.0.0:53 (or the pod/host
# address) and expose HTTP on 0.0.0.0:8053; the bundled example only listens on loopback.

# ---- build: compile TypeScript and the native addon, then drop dev dependencies ----------
FROM node:20-bookworm-slim AS build
# A C compiler for the addon in src/native/ (pldns_native.node: recvmmsg/sendmmsg, upstream sockets, sd_notify, malloc_trim); Node's headers come with the image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# PLDNS_NATIVE=required: the image must not silently fall back to the slower dgram engine.
RUN PLDNS_NATIVE=required npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: the compiled code and production dependencies, run as a non-root user -----
FROM node:20-bookworm-slim AS runtime
# Port 53 is privileged. The process runs as uid 1000, so the capability has to come from
# the node binary itself: a file capability works with `docker run` and with Kubernetes
# (where capabilities added to a non-root container do not reach the process otherwise),
# and also under hostNetwork, where the net.ipv4.ip_unprivileged_port_start sysctl
# alternative cannot be set per container. The container must keep NET_BIND_SERVICE in
# its bounding set (Docker's default does; with --cap-drop ALL add --cap-add NET_BIND_SERVICE).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep /usr/local/bin/node \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/privatelink-dns /var/lib/privatelink-dns \
 && chown 1000:1000 /var/lib/privatelink-dns \
 && chmod 0700 /var/lib/privatelink-dns
WORKDIR /app
ENV NODE_ENV=production \
    ALIBABA_CLOUD_ECS_METADATA_DISABLED=true
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# A documented starting point; mount the real config over it.
COPY config/example.yaml /etc/privatelink-dns/config.yaml
# uid 1000 is the image's "node" user; numeric so Kubernetes runAsNonRoot can check it.
USER 1000:1000
VOLUME ["/var/lib/privatelink-dns"]
EXPOSE 53/udp 53/tcp 8053/tcp
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8053/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# No node flags: the daemon sets its own V8 heap settings (src/runtime/heap-settings.ts).
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["serve", "--config", "/etc/privatelink-dns/config.yaml"]
