# PostgreSQL 15 from Debian's packages on doxwatch's base image: one server holding one database and
# one role per doxwatch service (intake, links, liaison, referral). Each role owns only its own
# database and cannot connect to any other (REVOKE CONNECT ... FROM PUBLIC, and pg_hba.conf's
# `sameuser`). No password is baked in: the entrypoint reads them at every start from mounted secret
# files (/run/secrets/<db>_db_password) or <DB>_DB_PASSWORD variables; see postgres/entrypoint.sh.
# TCP connections are TLS 1.3 only (plaintext is refused): the server's certificate and key are
# mounted too (/run/secrets/postgres_tls_cert, postgres_tls_key, or POSTGRES_TLS_CERT_FILE and
# POSTGRES_TLS_KEY_FILE); without them it does not start.
#
#   docker build -f deploy/docker/postgres.Dockerfile --build-arg BASE_IMAGE=doxwatch/base:bookworm \
#       -t doxwatch/postgres:15 deploy/docker
#
# Runs as the postgres user (uid/gid 999), with a read-only root filesystem when given a volume at
# /var/lib/postgresql/data and tmpfs mounts at /var/run/postgresql and /tmp.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ARG PG_MAJOR=15
ARG PG_UID=999

# A fixed uid, so that volumes and secret files can be owned by it; no cluster made at install
# (the entrypoint makes one in the volume).
RUN set -eux; \
    groupadd --system --gid "${PG_UID}" postgres; \
    useradd --system --uid "${PG_UID}" --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres; \
    mkdir -p /etc/postgresql-common/createcluster.d; \
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/doxwatch.conf; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}"; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log; \
    mkdir -p /var/lib/postgresql/data /var/run/postgresql; \
    chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql; \
    chmod 0700 /var/lib/postgresql/data

COPY postgres/entrypoint.sh /usr/local/bin/doxwatch-postgres-entrypoint

ENV PG_MAJOR=${PG_MAJOR} \
    PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data/pgdata \
    DOXWATCH_DATABASES="intake links liaison referral"

USER postgres
WORKDIR /var/lib/postgresql
EXPOSE 5432
# SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected, then a clean checkpoint.
STOPSIGNAL SIGINT
# Over the socket, as the postgres user (peer): no failed TCP logins in the log every few seconds.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 \
    CMD ["pg_isready", "--quiet", "--host=/var/run/postgresql", "--username=postgres", "--dbname=postgres"]
ENTRYPOINT ["doxwatch-postgres-entrypoint"]
CMD ["postgres"]
