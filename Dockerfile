# syntax=docker/dockerfile:1
# One image for the whole portal: the four nameko services, the gateway and the one-shot jobs
# (token keys; migrations + queue declarations). docker-compose.yml and deploy/k8s/ choose the process
# with `command:`; the default is the gateway. Everything runs from /app, the repository root, exactly
# as `make run` runs it: `nameko run --config services/<svc>/config.yaml <svc>.service`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

RUN groupadd --system --gid 10001 portal \
 && useradd --system --uid 10001 --gid portal --home-dir /app --no-create-home --shell /usr/sbin/nologin portal

# Dependencies in a layer of their own, keyed only on the pins and the package manifests: each package
# is installed editable from an empty top-level package (an editable install maps the top-level
# package name to its folder), and the real sources copied below land in those folders. A code change
# then rebuilds in seconds; a changed pyproject.toml or constraints.txt reinstalls.
COPY constraints.txt ./
COPY libs/servicekit/pyproject.toml libs/servicekit/
COPY libs/contracts/pyproject.toml libs/contracts/
COPY services/identity/pyproject.toml services/identity/
COPY services/roster/pyproject.toml services/roster/
COPY services/billing/pyproject.toml services/billing/
COPY services/messaging/pyproject.toml services/messaging/
COPY services/gateway/pyproject.toml services/gateway/
RUN set -eux; \
    for package in libs/servicekit/servicekit libs/contracts/portal_contracts services/identity/identity services/roster/roster \
                   services/billing/billing services/messaging/messaging services/gateway/gateway; do \
        mkdir -p "$package"; touch "$package/__init__.py"; \
    done; \
    pip install -c constraints.txt setuptools; \
    pip install -c constraints.txt \
        -e libs/servicekit -e libs/contracts \
        -e services/identity -e services/roster -e services/billing -e services/messaging \
        -e services/gateway

COPY . .

# What the non-root user may write: var/ (mail, auto pay's NACHA files in var/ach), the token-key folders
# (the compose `keys` job writes there; a named volume mounted on them takes this ownership) and the
# gateway's metrics folder.
RUN mkdir -p var/mail var/ach /var/lib/portal/keys/private /var/lib/portal/keys/public /tmp/prometheus-multiproc \
 && chown -R portal:portal var /var/lib/portal /tmp/prometheus-multiproc \
 && chmod 700 /var/lib/portal/keys/private

USER portal

EXPOSE 8080 9100
CMD ["gunicorn", "-c", "services/gateway/gunicorn.conf.py", "gateway.wsgi:app"]
