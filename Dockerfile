# One image for every Tributary app; the compose file picks the app with `command`.
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY libs ./libs
COPY apps ./apps
COPY proto ./proto
COPY bin ./bin
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund
ENV PATH="/app/bin:${PATH}"
CMD ["node", "apps/broker/dist/main.js"]
