# The relay image: python:3.11-slim. The build stage turns the source into the relay's wheel and
# installs it, not editable, into the virtualenv /opt/relay (tools/install.sh, the script CI uses
# too); the image keeps only that virtualenv: no source tree. It runs as the unprivileged user
# relay (uid 10001), events kept in the /data volume.
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/relay/bin:$PATH

WORKDIR /src
COPY . /src
RUN python -m venv /opt/relay \
    && tools/install.sh

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/relay/bin:$PATH \
    RELAY_LISTEN=0.0.0.0:8080 \
    RELAY_STORE=sqlite:////data/relay.db

COPY --from=build /opt/relay /opt/relay
RUN groupadd --system --gid 10001 relay \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin relay \
    && mkdir /data \
    && chown 10001:10001 /data

WORKDIR /opt/relay
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('RELAY_LISTEN', ':8080').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
CMD ["python", "-m", "proxy"]
