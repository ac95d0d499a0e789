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
# The image's own Node runs the service; the pinned `node` dev dependency is not needed here.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config.yaml ./config.yaml
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080 50060
# Node is PID 1 here and handles SIGTERM itself (cmd/signals.ts) to drain before exiting.
CMD ["node", "dist/cmd/email-worker/main.js"]
