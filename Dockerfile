# syntax=docker/dockerfile:1
# Build with dev dependencies, run with production dependencies only.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci runs `prepare`, which builds the operator console: its sources come first.
COPY web ./web
COPY scripts/build-console.ts ./scripts/build-console.ts
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY internal ./internal
COPY database ./database
COPY proto ./proto
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The image's own Node 24 runs the service; the pinned `node` dev dependency is not installed here.
# No install scripts: `prepare` builds the console, which the build stage did (dist/web/console).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config.yaml ./config.yaml
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080 50060
# Liveness: the process answers and its consume loop is turning.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node is PID 1 and handles SIGTERM itself (cmd/signals.ts): it drains in-flight sends, then exits.
# Fixed heap settings (npm start uses the same): left alone, V8 sizes the heap from the memory it
# sees, so on a large host the worker grew to ~300 MB under load (16 MB semi-spaces, the old
# generation let grow 4× past what is live) and in a 512 MiB pod it ran with 1 MB semi-spaces, over a
# quarter slower. These keep it below 150 MB at full speed everywhere (README: Memory).
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=25", "dist/cmd/email-worker/main.js"]
