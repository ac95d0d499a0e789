# syntax=docker/dockerfile:1
# Build with dev dependencies, run with production dependencies only.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
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
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config.yaml ./config.yaml
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080 50060
# Liveness: the process answers and its consume loop is turning.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node is PID 1 and handles SIGTERM itself (cmd/signals.ts): it drains in-flight sends, then exits.
CMD ["node", "dist/cmd/email-worker/main.js"]
