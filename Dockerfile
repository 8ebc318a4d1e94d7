# The protection-rule service (src/service/), Node 24, non-root, runtime dependencies only.
# Build from the repository root:
#   docker build -f Dockerfile -t onelogin-push-gate-service .
# Run (embedded database in the /data volume; secrets/ as docs/service.md makes it):
#   docker run -d --name gate -p 3000:3000 -v gate-data:/data \
#     -v "$PWD/secrets/github-app.pem:/run/secrets/github_app_private_key:ro" \
#     --env-file secrets/gate.env onelogin-push-gate-service

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts and no optional Node binary: the compiler needs neither.
RUN npm ci --no-audit --no-fund --ignore-scripts --omit=optional
COPY tsconfig.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p src/service/tsconfig.build.json \
 && cp src/service/app.yml build/service/app.yml
# The embedded store's empty database, made once here (PGlite's initdb needs about 620 MB) and
# copied into a new /data at first start (src/service/store/pglite-template.ts).
RUN node --liftoff-only build/service/store/pglite-template.js

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /srv
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund --ignore-scripts \
 && npm cache clean --force \
 && mkdir -p /data && chown node:node /data
COPY --from=build /src/build ./build
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The flags of src/service/node-flags.ts.
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=128", "--liftoff-only", "build/service/main.js"]
