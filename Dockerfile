# The docker-tutor bot. Built by docker-compose.yml; learners' containers never run here:
# they run on the separate sandbox engine named by DOCKER_HOST.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The Debian packages an offline lesson-image build copies its binaries from (redis-tools for
# redis-server and redis-cli, busybox-static for the shell and applets): an air-gapped classroom
# builds the lesson images from the bot's own image (TUTOR_OFFLINE=1), with no registry at all.
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-tools busybox-static \
    && rm -rf /var/lib/apt/lists/*
# Exact versions first (requirements.lock: runtime dependencies, charts and postgres extras),
# in their own layer; then the project itself, adding nothing the lock did not pin.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY lessons ./lessons
COPY images ./images
RUN pip install --no-deps '.[charts,postgres]' && pip check \
    && useradd --system --uid 10001 --home-dir /app tutor \
    && mkdir -p /workspaces && chown tutor /workspaces

USER tutor
ENV TUTOR_LESSONS_DIR=/app/lessons \
    TUTOR_WORKSPACES_DIR=/workspaces \
    PORT=3000
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"3000\")}/healthz', timeout=2)" || exit 1

# Put the lesson images on every sandbox engine (pulled; built from the packages above when
# TUTOR_OFFLINE=1 or no registry answers), migrate the database, serve Slack.
CMD ["sh", "-c", "docker-tutor images build && docker-tutor db upgrade && exec docker-tutor serve"]
