# syntax=docker/dockerfile:1
#
# Cutover production image.
#
#   docker build -t cutover .
#   docker run --rm -p 8080:8080 -v "$PWD/routes.config.ts:/app/routes.config.ts:ro" \
#     -v cutover-state:/app/.cutover -e CUTOVER_ADMIN_TOKEN=... cutover
#
# The admin API listens on 127.0.0.1:9901 by default: the HEALTHCHECK below reaches it from
# inside the container, nothing outside does. To publish the admin port, set
# `admin: { host: '0.0.0.0', ... }` and a token (CUTOVER_ADMIN_TOKEN); the gateway refuses to
# start with a non-loopback admin address and no token.

# Supported Node lines: ^20.19 || ^22.13 || ^24 (package.json engines); the image runs the newest.
# Pin by digest for reproducible builds: `FROM node:<version>@sha256:<digest>`. The digest was NOT
# filled in here: it was prepared without a Docker engine or registry access, and a made-up digest
# would fail the pull. Get the real one with
#   docker buildx imagetools inspect node:24.21.0-bookworm-slim --format '{{json .Manifest.Digest}}'
# and build with --build-arg NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:<digest> (or replace
# the default below).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- build: full dependency tree, TypeScript → dist/ ----------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifest first so the dependency layer is reused until the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, compiled JS, no compiler -----------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM/SIGINT to the gateway (which drains, then exits 0) and reaps
# zombies. Node as PID 1 would get no default signal handling from the kernel. No `-g`: with
# --workers the primary coordinates the drain, and a SIGTERM delivered to each worker directly
# would race it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
# jiti (loads routes.config.ts at run time) is a production dependency: no tsx/typescript here.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY --from=build /src/dist ./dist
COPY bin ./bin
# No config is baked in: the demo's (backends on 127.0.0.1:3001/3002) would answer 502 to
# everything here. Mount yours at /app/routes.config.ts, or pass `start --config /path/to/file`
# (.ts, .js, .mjs, .json); without one the gateway exits at once with
# "/app/routes.config.ts: no such file …".

# Route state (.cutover/state.json) and the event spool (.cutover/spool) are written relative to
# the working directory: /app/.cutover must be writable by the runtime user. Mount a volume here
# to keep weights across container restarts.
RUN mkdir -p /app/.cutover && chown node:node /app/.cutover

USER node

EXPOSE 8080 9901

# Liveness through the admin API's /healthz (no curl in the slim image). Override
# CUTOVER_HEALTHCHECK_URL if your config moves the admin port.
ENV CUTOVER_HEALTHCHECK_URL=http://127.0.0.1:9901/healthz
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.CUTOVER_HEALTHCHECK_URL,{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# `docker run IMAGE` starts the gateway; `docker run IMAGE check --config /app/routes.config.ts`
# validates a config; `docker run IMAGE replay --dry-run` lists failed mirrored writes.
# kafkajs 2.2.4 sets a negative timer on every connection, which Node 24 reports as a
# TimeoutNegativeWarning on stderr (harmless; tulios/kafkajs#1751): silence that one warning.
# Cluster workers inherit the flag.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--disable-warning=TimeoutNegativeWarning", "bin/cutover.js"]
CMD ["start", "--config", "/app/routes.config.ts"]
