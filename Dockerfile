# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript (and native better-sqlite3) in a build stage, ship only the runtime.

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY gateway/src ./gateway/src
COPY web ./web
# npm ci's prepare step compiles the gateway and builds the web wall into web/dist.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system sharp && useradd --system --gid sharp --home-dir /app --shell /usr/sbin/nologin sharp
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY device-profiles ./device-profiles
COPY config ./config
COPY --from=build /app/web/dist ./web/dist
RUN mkdir -p /data && chown sharp:sharp /data
USER sharp
ENV SE_DATA_DIR=/data \
    NODE_ENV=production
VOLUME ["/data"]
# SIP signalling (UDP and TCP on one port), the HTTP API / web wall, and the RTP receive ports (media.ports).
EXPOSE 5060/udp 5060/tcp 8080/tcp 30000-30999/udp 30000-30999/tcp
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.SE_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/sharp-eyes.js"]
CMD ["serve"]
