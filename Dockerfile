# Small Cloud Run image: installs the project from pyproject.toml, runs as a non-root user,
# listens on $PORT (Cloud Run sets it; 8080 by default).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY backend ./backend
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ENV=production PORT=8080
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 app
USER app
WORKDIR /home/app
EXPOSE 8080
# `serve` reads PORT and refuses to start when ENV=production and an emulator variable is set.
CMD ["strategy-service", "serve", "--host", "0.0.0.0"]
