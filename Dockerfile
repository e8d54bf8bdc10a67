# Small Cloud Run image: installs the project from pyproject.toml, runs as a non-root user,
# listens on $PORT (Cloud Run sets it; 8080 by default).

# The web dashboard's bundle: npm packages pinned by web/package-lock.json, bundled by esbuild
# into backend/strategy_service/web/static/ (no CDN at run time). Node stays in this stage.
FROM node:20-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/build.mjs ./
COPY web/src ./src
RUN mkdir -p /src/backend/strategy_service/web && node build.mjs

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY --from=web /src/backend/strategy_service/web/static ./backend/strategy_service/web/static
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ENV=production PORT=8080
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 app
USER app
WORKDIR /home/app
EXPOSE 8080
# `serve` reads PORT and refuses to start when ENV=production and an emulator variable is set.
# The dashboard reads FIREBASE_WEB_API_KEY (and optionally FIREBASE_AUTH_DOMAIN, WEB_GOOGLE_SIGN_IN).
CMD ["strategy-service", "serve", "--host", "0.0.0.0"]
