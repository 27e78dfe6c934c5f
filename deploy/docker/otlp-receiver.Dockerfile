# A tiny OTLP/gRPC receiver (otlp-receiver/receiver.py) that plays the OpenTelemetry collector's
# part where no collector image can be pulled. It needs only Debian's python3-grpcio, so it builds
# FROM doxwatch's debootstrapped base with nothing but the Debian mirror:
#
#   docker build -f deploy/docker/otlp-receiver.Dockerfile --build-arg BASE_IMAGE=doxwatch/base:bookworm \
#       -t doxwatch/otlp-receiver:local deploy/docker
#
# It listens on 4317 and summarises each export as a JSON line on stdout and in
# /var/lib/otelcol/telemetry.jsonl (the same path the real collector's file exporter uses in
# deploy/compose/otel-collector.yaml). Runs as uid 10001, like the collector image, with a
# read-only root filesystem.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-minimal python3-grpcio; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log; \
    groupadd --system --gid 10001 otel; \
    useradd --system --uid 10001 --gid otel --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin otel; \
    mkdir -p /var/lib/otelcol; \
    chown otel:otel /var/lib/otelcol

COPY otlp-receiver/receiver.py /opt/otlp-receiver/receiver.py

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 4317
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 4317), 2).close()"]
ENTRYPOINT ["python3", "/opt/otlp-receiver/receiver.py"]
