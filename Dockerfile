# syntax=docker/dockerfile:1
# One image for every trainyard app and the training worker: `docker run IMAGE <app>`.
# The Kubernetes runner starts training pods with `node dist/src/main.js worker <task-id>` in
# WORKDIR /app, and the worker reads /app/data/penguins.csv: keep that layout.

ARG NODE_IMAGE=node:20-bookworm-slim

# Build: all dependencies (patch-package runs at install, so patches/ must be there), compile,
# then drop what the runtime does not need.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Then dev dependencies out, and the optional ones: they are only embedded-postgres's server
# binaries (~60 MB, never loaded when DATABASE_URL is set, as it always is in a cluster) and
# pg's Cloudflare socket.
RUN npm run build && npm prune --omit=dev --omit=optional --no-audit --no-fund

# Runtime: compiled code, production node_modules, the data set and package.json (which makes
# dist/ ES modules). No sources, tests or dev dependencies. Files stay owned by root and are
# read-only to the app's user, so the image also runs with a read-only root filesystem.
FROM ${NODE_IMAGE} AS runtime
# TRAINYARD_DATA_DIR: the only place a process may write (an emptyDir at /tmp in Kubernetes).
ENV NODE_ENV=production TRAINYARD_DATA_DIR=/tmp/trainyard
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY data/penguins.csv ./data/penguins.csv
# A numeric non-root user that owns nothing here (Kubernetes can check runAsNonRoot on a number).
USER 10001:10001
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["polling"]
