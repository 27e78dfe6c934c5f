#!/bin/bash
# Entrypoint of doxwatch's PostgreSQL image. At every start:
#   1. makes a cluster in $PGDATA if there is none, and (re)writes its pg_hba.conf: superuser
#      `postgres` reachable only over the local socket by peer authentication; TCP logins only over
#      TLS, only as <role> to the database of the same name, by SCRAM password; plaintext TCP
#      refused;
#   2. starts it on its socket only and, for each name in $DOXWATCH_DATABASES, makes the role and the
#      database it owns if missing, sets the role's password from its secret, and revokes CONNECT on
#      every database from PUBLIC, so that a role reaches its own database and no other;
#   3. stops it and execs the real server (TCP with TLS 1.3 only, and /var/run/postgresql) as PID 1.
# So a service added later gets its database on the next start of an existing volume, and a
# password or the server certificate is rotated by changing its secret and restarting.
#
# TLS: the server's certificate and key, PEM, from $POSTGRES_TLS_CERT_FILE and
# $POSTGRES_TLS_KEY_FILE (default $DOXWATCH_SECRETS_DIR/postgres_tls_cert and postgres_tls_key).
# There is no plaintext mode: without them the server does not start. PostgreSQL refuses a key
# that others could read or that belongs to another user, and a mounted secret may be either, so
# the key is copied at every start to a file of its own (0600) in a private directory under /tmp.
#
# Passwords, per name (e.g. intake): the file $DOXWATCH_SECRETS_DIR/intake_db_password (default
# /run/secrets), else INTAKE_DB_PASSWORD_FILE, else the INTAKE_DB_PASSWORD variable. A name with no
# password stops the start; nothing is ever printed.
set -euo pipefail

log() { printf 'doxwatch-postgres: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ ${1:-} != postgres ]]; then
    exec "$@"
fi
shift

[[ $(id -u) -ne 0 ]] || die "run as the postgres user, not root"
: "${PGDATA:?PGDATA must be set}"
secrets_dir=${DOXWATCH_SECRETS_DIR:-/run/secrets}
read -r -a names <<<"${DOXWATCH_DATABASES:-}"
[[ ${#names[@]} -gt 0 ]] || die "DOXWATCH_DATABASES names no database"

password_for() {
    local name=$1 upper file var
    upper=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
    file=$secrets_dir/${name}_db_password
    var=${upper}_DB_PASSWORD_FILE
    [[ -r $file ]] || file=${!var:-}
    if [[ -n $file && -r $file ]]; then
        # The first line, without its newline.
        head -n 1 "$file" | tr -d '\r\n'
        return
    fi
    var=${upper}_DB_PASSWORD
    [[ -n ${!var:-} ]] || die "no password for $name: mount $secrets_dir/${name}_db_password or set ${upper}_DB_PASSWORD"
    printf '%s' "${!var}"
}

# Check every name and password before touching anything.
declare -A passwords
for name in "${names[@]}"; do
    [[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "not a valid database name: $name"
    [[ $name != postgres && $name != template0 && $name != template1 ]] || die "reserved name: $name"
    passwords[$name]=$(password_for "$name")
    [[ -n ${passwords[$name]} ]] || die "the password for $name is empty"
done

tls_cert=${POSTGRES_TLS_CERT_FILE:-$secrets_dir/postgres_tls_cert}
tls_key=${POSTGRES_TLS_KEY_FILE:-$secrets_dir/postgres_tls_key}
[[ -r $tls_cert && -s $tls_cert ]] || die "no TLS certificate at $tls_cert (set POSTGRES_TLS_CERT_FILE): plaintext is not offered"
[[ -r $tls_key && -s $tls_key ]] || die "no readable TLS key at $tls_key (set POSTGRES_TLS_KEY_FILE; it must be readable by uid $(id -u))"
tls_dir=$(mktemp -d /tmp/doxwatch-tls.XXXXXX)
chmod 0700 "$tls_dir"
(umask 077 && cat "$tls_key" >"$tls_dir/server.key")
cat "$tls_cert" >"$tls_dir/server.crt"

socket_dir=/var/run/postgresql
[[ -w $socket_dir ]] || die "$socket_dir is not writable (with a read-only root, mount a tmpfs there owned by the postgres user: uid=999,gid=999)"

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    log "initialising a new cluster in $PGDATA"
    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA"
    initdb --pgdata="$PGDATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=reject >/dev/null
    cat >>"$PGDATA/postgresql.conf" <<'CONF'

# doxwatch
listen_addresses = '*'
password_encryption = scram-sha-256
unix_socket_directories = '/var/run/postgresql'
max_connections = 200
log_destination = 'stderr'
logging_collector = off
# The health check connects every few seconds; turn on with `command: [postgres, -c, log_connections=on]`.
log_connections = off
CONF
fi

# Rewritten at every start, so that a volume made by an older image gets the same rules.
cat >"$PGDATA/pg_hba.conf" <<'HBA'
# Written by doxwatch-postgres-entrypoint at every start: edits are lost.
# TYPE     DATABASE  USER      ADDRESS  METHOD
local      all       postgres           peer
# No plaintext over TCP, and never the superuser.
hostnossl  all       all       all      reject
host       all       postgres  all      reject
# A role logs in over TCP (TLS) only to the database of its own name, with its SCRAM password.
hostssl    sameuser  all       all      scram-sha-256
HBA

log "provisioning databases: ${names[*]}"
# The provisioning server listens on a private socket only: neither clients (TCP) nor the health
# check (pg_isready on $socket_dir) see it, so the container turns healthy only when the real
# server is up.
provision_dir=$(mktemp -d /tmp/doxwatch-provision.XXXXXX)
export PGHOST=$provision_dir
pg_ctl --pgdata="$PGDATA" --silent --wait --timeout=60 \
    -o "-c listen_addresses='' -c unix_socket_directories=$provision_dir" start >/dev/null

for name in "${names[@]}"; do
    # The password travels in the environment of psql (\getenv), never on a command line.
    DOXWATCH_ROLE_PASSWORD=${passwords[$name]} psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 \
        --username=postgres --dbname=postgres --set=name="$name" >/dev/null <<'SQL'
\getenv password DOXWATCH_ROLE_PASSWORD
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') AS create_role \gset
\if :create_role
CREATE ROLE :"name" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
\endif
ALTER ROLE :"name" WITH LOGIN PASSWORD :'password';
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') AS create_db \gset
\if :create_db
CREATE DATABASE :"name" OWNER :"name";
\endif
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
done
psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --username=postgres --dbname=postgres >/dev/null <<'SQL'
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
SQL
unset passwords DOXWATCH_ROLE_PASSWORD
pg_ctl --pgdata="$PGDATA" --silent --wait --mode=fast stop >/dev/null
unset PGHOST
rmdir "$provision_dir" 2>/dev/null || true

log "starting PostgreSQL (TLS 1.3 only on TCP)"
exec postgres -D "$PGDATA" -c ssl=on -c "ssl_cert_file=$tls_dir/server.crt" -c "ssl_key_file=$tls_dir/server.key" \
    -c ssl_min_protocol_version=TLSv1.3 "$@"
