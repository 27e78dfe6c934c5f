#!/usr/bin/env bash
# Makes the secret files docker-compose.yml mounts:
#
#   pki/                        `doxwatch certs init`: the suite's CA (ca.pem, ca.key), the token
#                               issuer (issuer.key, jwks.json), a certificate and key per service
#                               (services/<service>.pem, .key) and per agency (agencies/POLICE...)
#   pki/audit/<service>.key, .pub   each service's audit signing key (its checkpoints are signed
#                               with it) and the public key auditors verify them with
#   pki/encryption/<service>.key    each service's encryption key: it wraps the keys its store's
#                               personal data is sealed with (back it up apart from the database)
#   pki/servers/otel-collector.pem, .key   the collector's server certificate (`doxwatch certs
#                               server`: valid for the host name `otel-collector`, server only)
#   pki/postgres/server.pem, .key   PostgreSQL's server certificate (openssl, signed by the CA,
#                               valid for the host name `postgres`)
#   pki/profiles/<officer>/     `doxwatch officer add`, for each --officer
#   <service>_db_password       the role's password, read by the PostgreSQL image at every start
#   <service>_database.toml     the service's config file:
#                               database_url = "postgres://<service>:...@postgres:5432/<service>?sslmode=verify-full&sslrootcert=/run/secrets/doxwatch_ca"
#
#   deploy/compose/make-secrets.sh [--dir DIR] [--rotate] [--rotate-certs] [--officer ID]...
#                                  [--host NAME]... [--agency NAME]... [SERVICE ...]
#
# DIR defaults to ./secrets beside this script (git-ignored), made mode 0700. Existing files are
# kept (the passwords are already in the PostgreSQL volume, the CA is what everything trusts):
#   --rotate        new database passwords: then `docker-compose restart postgres <services>`
#   --rotate-certs  a new CA, issuer and every certificate (the old pki/ is kept as pki.<time>/):
#                   then `docker-compose restart` (everything: the old CA is trusted no more), and
#                   issue officers new profiles (their old ones were signed by the old CA)
#   --officer ID    also issue an officer profile in pki/profiles/ID (repeatable; an existing one
#                   is kept unless --rotate-certs). Its roles are $OFFICER_ROLES (default
#                   intake_officer,patrol_officer,liaison_officer,legal_officer,supervisor), its
#                   team $OFFICER_TEAM (default deploy), its name $OFFICER_NAME (default the id).
#   --host NAME     another name the services are reached at (e.g. a load balancer); each
#                   service's certificate is valid for its own name (intake, ...) and loopback anyway
#   --agency NAME   the agencies to issue a client certificate for (default POLICE)
#
# `doxwatch` is $DOXWATCH_BIN if set, else `doxwatch` on the PATH, else the image $DOXWATCH_IMAGE
# (default doxwatch/doxwatch:local) run with no network. openssl is needed for PostgreSQL's
# certificate.
#
# Ownership: the containers read these files as their own users (PostgreSQL uid 999, doxwatch
# uid 10001). Run as root, each private file (database password and config, service key,
# PostgreSQL's key) is given to the uid that reads it with mode 0400, and the certificates and the
# key set are 0444; the CA's and the issuer's keys stay root's (0600) and are mounted nowhere.
# Otherwise the files a container reads are mode 0444 inside the 0700 directory, so that only you
# (and the containers) can read them; PostgreSQL's image copies its key to a private file, since
# PostgreSQL refuses a key others may read.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=$here/secrets
rotate=""
rotate_certs=""
services=()
officers=()
hosts=()
agencies=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --dir) dir=$2; shift 2 ;;
        --rotate) rotate=1; shift ;;
        --rotate-certs) rotate_certs=1; shift ;;
        --officer) officers+=("$2"); shift 2 ;;
        --host) hosts+=("$2"); shift 2 ;;
        --agency) agencies+=("$2"); shift 2 ;;
        -h | --help) sed -n '2,40p' "$0"; exit 0 ;;
        -*) echo "make-secrets: unknown option $1" >&2; exit 2 ;;
        *) services+=("$1"); shift ;;
    esac
done
[[ ${#services[@]} -gt 0 ]] || services=(intake links liaison referral)
[[ ${#agencies[@]} -gt 0 ]] || agencies=(POLICE)
postgres_host=${POSTGRES_HOST:-postgres}
postgres_uid=${POSTGRES_UID:-999}
doxwatch_uid=${DOXWATCH_UID:-10001}
# Where the services find the CA (the compose secret doxwatch_ca).
ca_in_container=${DOXWATCH_CA_IN_CONTAINER:-/run/secrets/doxwatch_ca}
officer_roles=${OFFICER_ROLES:-intake_officer,patrol_officer,liaison_officer,legal_officer,supervisor}
officer_team=${OFFICER_TEAM:-deploy}
postgres_cert_days=${POSTGRES_CERT_DAYS:-365}

umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
dir=$(cd "$dir" && pwd)
pki=$dir/pki

log() { echo "make-secrets: $*"; }
die() { echo "make-secrets: error: $*" >&2; exit 1; }

# 48 hex characters: safe inside a URL without escaping.
new_password() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

# A file a container reads in secret: given to its reader (as root), else readable by anyone who
# can reach it (the directory is 0700).
place() { # file owner
    if [[ $(id -u) -eq 0 ]]; then
        chown "$2:$2" "$1"
        chmod 0400 "$1"
    else
        chmod 0444 "$1"
    fi
}
# A public file (a certificate, the key set).
public() { chmod 0444 "$1"; }

# run_doxwatch ARGS...: the CLI, from $DOXWATCH_BIN, the PATH or the image (paths under $dir are
# passed as they are: the image sees $dir at the same path).
run_doxwatch() {
    local on_path
    on_path=$(type -P doxwatch || true)
    if [[ -n ${DOXWATCH_BIN:-} ]]; then
        "$DOXWATCH_BIN" "$@"
    elif [[ -n $on_path ]]; then
        "$on_path" "$@"
    else
        local image=${DOXWATCH_IMAGE:-doxwatch/doxwatch:local}
        docker image inspect "$image" >/dev/null 2>&1 ||
            die "no doxwatch: set DOXWATCH_BIN, put doxwatch on the PATH, or build the image $image"
        docker run --rm --network none --read-only --user "$(id -u):$(id -g)" \
            -v "$dir:$dir" -w "$dir" "$image" "$@"
    fi
}

# ---- certificates ---------------------------------------------------------------------------
if [[ -n $rotate_certs && -e $pki/ca.pem ]]; then
    old=$pki.$(date -u +%Y%m%dT%H%M%SZ)
    mv "$pki" "$old"
    log "moved the old PKI to $old"
fi
if [[ -e $pki/ca.pem ]]; then
    log "pki: kept (the CA in $pki)"
else
    args=(certs init "$pki")
    for h in ${hosts[@]+"${hosts[@]}"}; do args+=(--host "$h"); done
    for a in "${agencies[@]}"; do args+=(--agency "$a"); done
    run_doxwatch "${args[@]}" >/dev/null
    log "pki: a new CA, token issuer and certificates for ${agencies[*]} and every service"
fi
for f in "$pki/ca.pem" "$pki/jwks.json" "$pki/ca.key" "$pki/issuer.key"; do
    [[ -s $f ]] || die "$f is missing"
done
public "$pki/ca.pem"
public "$pki/jwks.json"
# A PKI from before the audit log or sealing lacks those keys: write the missing ones (existing
# ones are kept).
for service in "${services[@]}"; do
    if [[ ! -s $pki/audit/$service.key || ! -s $pki/encryption/$service.key ]]; then
        run_doxwatch certs service-keys "$pki" >/dev/null
        log "audit and encryption keys: written for the services that had none"
        break
    fi
done
for service in "${services[@]}"; do
    [[ -s $pki/services/$service.pem && -s $pki/services/$service.key ]] ||
        die "the PKI has no certificate for $service"
    [[ -s $pki/audit/$service.key && -s $pki/audit/$service.pub ]] ||
        die "the PKI has no audit signing key for $service"
    [[ -s $pki/encryption/$service.key ]] || die "the PKI has no encryption key for $service"
    public "$pki/services/$service.pem"
    place "$pki/services/$service.key" "$doxwatch_uid"
    public "$pki/audit/$service.pub"
    place "$pki/audit/$service.key" "$doxwatch_uid"
    place "$pki/encryption/$service.key" "$doxwatch_uid"
done

# The collector's server certificate: the services verify it against the CA when they export.
collector=$pki/servers/otel-collector
if [[ -s $collector.pem && -s $collector.key ]]; then
    log "collector certificate: kept"
else
    rm -f "$collector.pem" "$collector.key"
    run_doxwatch certs server "$pki" otel-collector --host otel-collector >/dev/null
    log "collector certificate: written (DNS:otel-collector, signed by the CA)"
fi
public "$collector.pem"
place "$collector.key" "$doxwatch_uid"

# PostgreSQL's server certificate: an EC P-256 key, signed by the suite's CA, valid for the host
# name the services connect to (verify-full checks it).
pg=$pki/postgres
if [[ -s $pg/server.pem && -s $pg/server.key ]]; then
    log "postgres certificate: kept"
else
    command -v openssl >/dev/null 2>&1 || die "openssl is needed for PostgreSQL's certificate"
    mkdir -p "$pg"
    rm -f "$pg/server.pem" "$pg/server.key"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pg/server.key" 2>/dev/null
    openssl req -new -key "$pg/server.key" -subj "/CN=$postgres_host" -out "$pg/server.csr"
    cat >"$pg/server.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$postgres_host
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    openssl x509 -req -in "$pg/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -set_serial "0x$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
        -days "$postgres_cert_days" -sha256 -extfile "$pg/server.ext" -out "$pg/server.pem" 2>/dev/null
    rm -f "$pg/server.csr" "$pg/server.ext"
    openssl verify -CAfile "$pki/ca.pem" -purpose sslserver "$pg/server.pem" >/dev/null ||
        die "PostgreSQL's certificate does not verify against the CA"
    log "postgres certificate: written (DNS:$postgres_host, signed by the CA)"
fi
public "$pg/server.pem"
place "$pg/server.key" "$postgres_uid"

# Officers' profiles (their files stay yours: the CLI reads them on this machine).
for officer in ${officers[@]+"${officers[@]}"}; do
    profile=$pki/profiles/$officer
    if [[ -s $profile/token && -s $profile/client.key ]]; then
        log "officer $officer: kept"
        continue
    fi
    run_doxwatch officer add "$officer" --roles "$officer_roles" --team "$officer_team" \
        --name "${OFFICER_NAME:-$officer}" --pki "$pki" --out "$profile" >/dev/null
    log "officer $officer: profile written in $profile"
done

# ---- databases ------------------------------------------------------------------------------
for service in "${services[@]}"; do
    [[ $service =~ ^[a-z_][a-z0-9_]*$ ]] || die "bad service name $service"
    password_file=$dir/${service}_db_password
    config_file=$dir/${service}_database.toml
    if [[ -s $password_file && -z $rotate ]]; then
        password=$(head -n 1 "$password_file")
        state=kept
    else
        password=$(new_password)
        rm -f "$password_file"
        printf '%s\n' "$password" >"$password_file"
        state=written
    fi
    # The config file follows the password (and this script's URL: TLS, the server verified
    # against the suite's CA by its host name).
    url="postgres://$service:$password@$postgres_host:5432/$service?sslmode=verify-full&sslrootcert=$ca_in_container"
    if [[ ! -s $config_file ]] || ! grep -qxF "database_url = \"$url\"" "$config_file"; then
        rm -f "$config_file"
        printf 'database_url = "%s"\n' "$url" >"$config_file"
        [[ $state == written ]] || state="kept (config file rewritten)"
    fi
    place "$password_file" "$postgres_uid"
    place "$config_file" "$doxwatch_uid"
    log "$service: $state"
done
