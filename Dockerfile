# iot-emulator: the emulated vendor APIs on port 8080, EnOS devices over MQTT on 11883, state in
# the /data volume.
#   docker build -t iot-emulator .
#   docker run --rm -p 127.0.0.1:8080:8080 -p 127.0.0.1:11883:11883 -v iot-emulator-data:/data iot-emulator
# Every setting is an EMULATOR_* variable (see docs/configuration.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Optional extras of the package, e.g. --build-arg EXTRAS=postgres for the PostgreSQL driver.
ARG EXTRAS=""

# A regular (non-editable) install: the package carries the default fixtures (its
# emulator/fixtures/default.yaml links to fixtures/default.yaml, copied first for the build);
# they are also kept at /app/fixtures and named by EMULATOR_FIXTURES below.
COPY pyproject.toml README.md LICENSE ./
COPY fixtures/ fixtures/
COPY emulator/ emulator/
RUN pip install --no-cache-dir "/app${EXTRAS:+[$EXTRAS]}"

RUN useradd --system --no-log-init --uid 10001 --user-group --home-dir /data --no-create-home emulator \
    && mkdir -p /data \
    && chown emulator:emulator /data

ENV EMULATOR_HOST=0.0.0.0 \
    EMULATOR_PORT=8080 \
    EMULATOR_DB=/data/emulator.db \
    EMULATOR_FIXTURES=/app/fixtures/default.yaml \
    EMULATOR_AUTH=lenient \
    EMULATOR_WORKERS=1

VOLUME ["/data"]
WORKDIR /data
EXPOSE 8080 11883
USER 10001:10001

# Python's own urllib: the slim image has no curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_emulator/health' % os.environ.get('EMULATOR_PORT', '8080'), timeout=2)"]

ENTRYPOINT ["iot-emulator"]
CMD ["serve"]
