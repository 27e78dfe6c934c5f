#!/usr/bin/env bash
# Deployment test: the compose stack of deploy/compose/ on this machine's Docker engine, offline.
#
#   tests/deploy/compose.sh          (from any directory; root or a member of the docker group)
#
# 1. builds the release binary (cargo build --release -p doxwatch);
# 2. builds the offline images with deploy/docker/build-offline-base.sh: the debootstrapped base,
#    PostgreSQL and the OTLP receiver that stands in for the collector (kept afterwards: building
#    them again is skipped or cached);
# 3. builds the doxwatch image (deploy/docker/Dockerfile, target runtime, on the local base) under a
#    tag of its own;
# 4. makes fresh secrets (make-secrets.sh: the PKI with `doxwatch certs init`, PostgreSQL's
#    certificate, a test officer's profile, database passwords), brings the stack up under a
#    project name of its own, waits for health, and checks: hardening (user, read-only root,
#    published ports, each container's secrets and their modes), TLS (plaintext, no client
#    certificate, a foreign CA's certificate and TLS 1.2 refused; whoami with the officer's
#    profile), a case scenario through the published port with the doxwatch CLI, PostgreSQL's
#    per-service isolation and TLS (plaintext refused, verify-full by host name, the services'
#    connections encrypted, a service given PostgreSQL's address instead of its name refusing to
#    start), telemetry reaching the collector, and that a `docker-compose restart` of every service
#    loses nothing;
# 5. always (trap) removes what it made: containers, networks, volumes, the doxwatch image, files.
#
# Ends with `compose: N passed, N failed`; exits non-zero when a check failed. Without a Docker
# engine it prints "no Docker engine: compose test skipped" and exits 0.
#
# Environment:
#   DOXWATCH_BIN    use this doxwatch binary instead of building one (it is put in the image too)
#   KEEP_IMAGES=1   keep the doxwatch image as well
set -euo pipefail

cd "$(dirname "$0")/../.."
repo=$(pwd)

log() { printf 'compose: %s\n' "$*"; }

if ! docker info >/dev/null 2>&1; then
    echo "no Docker engine: compose test skipped"
    exit 0
fi
command -v docker-compose >/dev/null 2>&1 || { log "docker-compose is not installed"; exit 1; }

# The services under test are the doxwatch services compose.yml runs (everything but the
# infrastructure below); each one's container port. Add a service here when it joins the suite.
declare -A SERVICE_PORTS=([intake]=50051 [links]=50052 [liaison]=50053 [referral]=50054)
INFRASTRUCTURE="postgres otel-collector otel-data-init"

compose_file=$repo/deploy/compose/docker-compose.yml
project=doxwatch-test-$$
image=doxwatch/doxwatch:test-$$
base_image=${BASE_IMAGE:-doxwatch/base:bookworm}
postgres_image=${POSTGRES_IMAGE:-doxwatch/postgres:15}
receiver_image=${OTLP_RECEIVER_IMAGE:-doxwatch/otlp-receiver:local}
work=$(mktemp -d "${TMPDIR:-/tmp}/doxwatch-compose.XXXXXX")
passed=0
failed=0
stack_started=""
image_built=""

# docker-compose with the test's settings only: the variables of the calling shell (which would win
# over the env file) and deploy/compose/.env are left out.
compose() {
    local pass=(PATH="$PATH" HOME="$HOME") v
    for v in DOCKER_HOST DOCKER_CERT_PATH DOCKER_TLS_VERIFY DOCKER_CONFIG; do
        [[ -z ${!v:-} ]] || pass+=("$v=${!v}")
    done
    env -i "${pass[@]}" docker-compose --ansi never -p "$project" -f "$compose_file" --env-file "$work/env" "$@"
}

# Removes what the test made; safe to call more than once.
teardown() {
    if [[ -n $stack_started ]]; then
        log "removing the stack (containers, networks, volumes)"
        compose down -v --remove-orphans --timeout 20 >"$work/down.log" 2>&1 || sed 's/^/  | /' "$work/down.log"
        stack_started=""
    fi
    if [[ -n $image_built && -z ${KEEP_IMAGES:-} ]]; then
        docker image rm "$image" >/dev/null 2>&1 && log "removed image $image"
        image_built=""
    fi
}
cleanup() {
    local status=$?
    set +e
    teardown
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() { passed=$((passed + 1)); log "PASS $*"; }
fail() { failed=$((failed + 1)); log "FAIL $*"; }
finish() {
    set +e
    teardown
    echo "compose: $passed passed, $failed failed"
    exit $((failed == 0 ? 0 : 1))
}
# A step the rest depends on failed: count it, say so, stop.
abort() { fail "$*"; finish; }

container_of() { compose ps -q "$1" 2>/dev/null | head -n 1; }
health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1" 2>/dev/null || echo missing; }

# Waits (up to $2 seconds) until the service's container reports healthy.
wait_healthy() {
    local service=$1 limit=${2:-120} id status i
    for ((i = 0; i < limit; i++)); do
        id=$(container_of "$service")
        status=$([[ -n $id ]] && health_of "$id" || echo missing)
        [[ $status == healthy ]] && return 0
        [[ $status == exited || $status == dead ]] && break
        sleep 1
    done
    log "$service is $status after ${i}s; its last log lines:"
    compose logs --no-color --tail 30 "$service" 2>&1 | sed 's/^/  | /'
    return 1
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# json FILE EXPR: prints EXPR evaluated with `d` the parsed file.
json() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# ---------------------------------------------------------------------------------------------
# 1. The binary.
if [[ -n ${DOXWATCH_BIN:-} ]]; then
    bin=$DOXWATCH_BIN
    log "using the doxwatch binary $bin"
else
    log "building the release binary (cargo build --release -p doxwatch)"
    cargo build --release --quiet -p doxwatch || abort "cargo build --release -p doxwatch"
    bin=${CARGO_TARGET_DIR:-$repo/target}/release/doxwatch
fi
[[ -x $bin ]] || abort "no doxwatch binary at $bin"

# 2. The offline images.
log "building the offline images ($base_image, $postgres_image, $receiver_image)"
BASE_IMAGE=$base_image POSTGRES_IMAGE=$postgres_image OTLP_RECEIVER_IMAGE=$receiver_image \
    deploy/docker/build-offline-base.sh || abort "deploy/docker/build-offline-base.sh"

# 3. The doxwatch image, from a context holding only the binary.
log "building $image (Dockerfile target runtime, RUNTIME_BASE=$base_image)"
mkdir -p "$work/context"
cp "$bin" "$work/context/doxwatch"
image_built=1
if ! DOCKER_BUILDKIT=0 docker build --force-rm --target runtime --build-arg "RUNTIME_BASE=$base_image" \
    --build-arg DOXWATCH_BINARY=doxwatch -f deploy/docker/Dockerfile -t "$image" \
    "$work/context" >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log"
    abort "docker build --target runtime"
fi

# 4. Secrets, published ports and the stack.
: >"$work/env"
services=()
for s in $(compose config --services); do
    [[ " $INFRASTRUCTURE " == *" $s "* ]] || services+=("$s")
done
[[ ${#services[@]} -gt 0 ]] || abort "the compose file runs no doxwatch service"
for s in "${services[@]}"; do
    [[ -n ${SERVICE_PORTS[$s]:-} ]] || abort "compose runs $s, whose port this test does not know (SERVICE_PORTS)"
done
log "services under test: ${services[*]}"

# The test officer: every officer role, a team of its own.
officer=deploy-test
if ! DOXWATCH_BIN=$bin OFFICER_NAME="deploy test officer" OFFICER_TEAM=deploy-test \
    deploy/compose/make-secrets.sh --dir "$work/secrets" --officer "$officer" >"$work/secrets.log" 2>&1; then
    sed 's/^/  | /' "$work/secrets.log"
    abort "deploy/compose/make-secrets.sh"
fi
pki=$work/secrets/pki
# Every client call below presents the officer's certificate and token.
export DOXWATCH_PROFILE=$pki/profiles/$officer
[[ -s $DOXWATCH_PROFILE/token ]] || abort "make-secrets.sh wrote no profile for $officer"
# Reads of case details state why; the audit log keeps it with each access.
export DOXWATCH_PURPOSE="deployment test $$"
{
    echo "DOXWATCH_IMAGE=$image"
    echo "POSTGRES_IMAGE=$postgres_image"
    echo "OTEL_COLLECTOR_IMAGE=$receiver_image"
    echo "BASE_IMAGE=$base_image"
    echo "DOXWATCH_SECRETS_DIR=$work/secrets"
    # Export telemetry every 2 s rather than every minute, so that the test sees it soon.
    echo "OTEL_METRIC_EXPORT_INTERVAL=2000"
    echo "OTEL_BSP_SCHEDULE_DELAY=1000"
    for s in "${services[@]}"; do
        echo "${s^^}_PUBLISH_ADDR=127.0.0.1"
        echo "${s^^}_PORT=$(free_port)"
    done
} >"$work/env"

log "starting the stack as project $project"
stack_started=1
if ! compose up -d >"$work/up.log" 2>&1; then
    sed 's/^/  | /' "$work/up.log"
    compose logs --no-color --tail 40 2>&1 | sed 's/^/  | /'
    abort "docker-compose up -d"
fi

declare -A url
all_healthy=1
for s in "${services[@]}"; do
    if wait_healthy "$s" 120; then
        port=$(compose port "$s" "${SERVICE_PORTS[$s]}" | sed 's/.*://')
        url[$s]=https://127.0.0.1:$port
        if "$bin" health --url "${url[$s]}" >/dev/null 2>&1; then
            log "$s is healthy, published on ${url[$s]}"
        else
            log "$s is healthy inside its container but not on ${url[$s]}"
            all_healthy=""
        fi
    else
        all_healthy=""
    fi
done
if [[ -n $all_healthy ]]; then
    pass "stack up: ${services[*]} healthy and answering on their published ports"
else
    abort "stack up: not every service became healthy"
fi

# ---------------------------------------------------------------------------------------------
# Hardening: non-root, read-only root, nothing published but the services' own ports.
check_hardening() {
    local ok=1 s id user ro published
    for s in "${services[@]}"; do
        id=$(container_of "$s")
        user=$(docker inspect -f '{{.Config.User}}' "$id")
        ro=$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$id")
        [[ $user == 10001:10001 ]] || { log "$s runs as '$user'"; ok=""; }
        [[ $ro == true ]] || { log "$s has a writable root filesystem"; ok=""; }
        [[ $(docker exec "$id" id -u) == 10001 ]] || { log "$s: id -u is not 10001"; ok=""; }
        # Its working directory is its own: only the read-only root stops the write.
        if docker exec "$id" touch /var/lib/doxwatch/probe 2>/dev/null; then
            log "$s could write to its root filesystem"
            ok=""
        fi
    done
    # Each service's secrets: its own certificate and key, its audit signing key, the CA, the key
    # set, its database config; nothing else (no other service's key, no CA or issuer key). Keys
    # are 0400 and its own.
    local expected listed mode
    for s in "${services[@]}"; do
        id=$(container_of "$s")
        expected="doxwatch_ca doxwatch_jwks ${s}_audit_key ${s}_database ${s}_encryption_key ${s}_tls_cert ${s}_tls_key"
        listed=$(docker exec "$id" ls /run/secrets | sort | tr '\n' ' ' | sed 's/ $//')
        [[ $listed == "$(tr ' ' '\n' <<<"$expected" | sort | tr '\n' ' ' | sed 's/ $//')" ]] ||
            { log "$s has the secrets '$listed' (expected '$expected')"; ok=""; }
        if [[ $(id -u) -eq 0 ]]; then
            for key in "${s}_tls_key" "${s}_audit_key" "${s}_encryption_key"; do
                mode=$(docker exec "$id" stat -c '%a %u' "/run/secrets/$key")
                [[ $mode == "400 10001" ]] || { log "$s: $key is mode/owner '$mode' (expected '400 10001')"; ok=""; }
            done
        fi
        for key in "${s}_tls_key" "${s}_audit_key" "${s}_encryption_key"; do
            docker exec "$id" head -c 1 "/run/secrets/$key" >/dev/null 2>&1 || { log "$s cannot read $key"; ok=""; }
        done
    done
    # PostgreSQL: the four passwords, its own certificate and key; no CA key, no service's key.
    id=$(container_of postgres)
    listed=$(docker exec "$id" ls /run/secrets | sort | tr '\n' ' ' | sed 's/ $//')
    expected="intake_db_password liaison_db_password links_db_password postgres_tls_cert postgres_tls_key referral_db_password"
    [[ $listed == "$expected" ]] || { log "postgres has the secrets '$listed' (expected '$expected')"; ok=""; }
    if [[ $(id -u) -eq 0 ]]; then
        mode=$(docker exec "$id" stat -c '%a %u' /run/secrets/postgres_tls_key)
        [[ $mode == "400 999" ]] || { log "postgres: its key is mode/owner '$mode' (expected '400 999')"; ok=""; }
    fi
    # No password in any container's configuration (they are mounted files).
    local pw
    for s in "${services[@]}" postgres; do
        id=$(container_of "$s")
        for pw in "$work"/secrets/*_db_password; do
            if docker inspect "$id" | grep -qF "$(cat "$pw")"; then
                log "a database password is in docker inspect $s"
                ok=""
            fi
        done
    done
    for s in postgres otel-collector; do
        id=$(container_of "$s")
        published=$(docker port "$id" 2>/dev/null || true)
        [[ -z $published ]] || { log "$s publishes ports: $published"; ok=""; }
        [[ $(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$id") == true ]] || { log "$s has a writable root"; ok=""; }
        [[ $(docker exec "$id" id -u) != 0 ]] || { log "$s runs as root"; ok=""; }
    done
    [[ -n $ok ]]
}
if check_hardening; then
    pass "hardening: services run as 10001 on read-only roots with only their own key (0400), the CA and the key set; postgres and the collector are non-root, read-only, unpublished; no password in docker inspect"
else
    fail "hardening"
fi

# ---------------------------------------------------------------------------------------------
# TLS on the published ports: TLS 1.3 with a client certificate of the suite's CA, nothing else.
# tls_probe URL [ca cert key max_version]: prints "h2" when the handshake completes and the server
# answers an HTTP/2 connection preface with its SETTINGS, else what went wrong. Plaintext
# (cert "plain") sends the h2c preface over bare TCP instead.
tls_probe() {
    python3 - "$@" <<'PY'
import socket, ssl, sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
ca, cert, key, maxv = (sys.argv[2:] + [None] * 4)[:4]
preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
try:
    raw = socket.create_connection((u.hostname, u.port), timeout=5)
    if cert == "plain":
        s = raw
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        ctx.set_alpn_protocols(["h2"])
        if maxv == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if cert and cert != "none":
            ctx.load_cert_chain(cert, key)
        s = ctx.wrap_socket(raw, server_hostname=u.hostname)
    s.sendall(preface)
    data = b""
    while len(data) < 9:
        chunk = s.recv(64)
        if not chunk:
            break
        data += chunk
    # An HTTP/2 frame header: 3 bytes length, type 4 (SETTINGS).
    print("h2" if len(data) >= 9 and data[3] == 4 else "no HTTP/2 answer: %r" % data[:40])
except (OSError, ssl.SSLError) as e:
    print("refused: %s" % e)
PY
}
check_tls() {
    local ok=1 s out u p=$DOXWATCH_PROFILE
    # A certificate and key from a CA of its own, which the services must not trust.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=stranger \
        -keyout "$work/stranger.key" -out "$work/stranger.pem" >/dev/null 2>&1
    for s in "${services[@]}"; do
        u=${url[$s]}
        out=$(tls_probe "$u" "$p/ca.pem" "$p/client.pem" "$p/client.key")
        [[ $out == h2 ]] || { log "$s: TLS 1.3 with the officer's certificate: $out"; ok=""; }
        out=$(tls_probe "http://127.0.0.1:${u##*:}" - plain)
        [[ $out != h2 ]] || { log "$s answers plaintext HTTP/2 (h2c)"; ok=""; }
        out=$(tls_probe "$u" "$p/ca.pem" none)
        [[ $out != h2 ]] || { log "$s accepts a client without a certificate"; ok=""; }
        out=$(tls_probe "$u" "$p/ca.pem" "$work/stranger.pem" "$work/stranger.key")
        [[ $out != h2 ]] || { log "$s accepts a certificate of another CA"; ok=""; }
        out=$(tls_probe "$u" "$p/ca.pem" "$p/client.pem" "$p/client.key" 1.2)
        [[ $out != h2 ]] || { log "$s accepts TLS 1.2"; ok=""; }
        if "$bin" health --url "http://127.0.0.1:${u##*:}" >"$work/plain-health.log" 2>&1; then
            log "$s: doxwatch health over http:// succeeded"
            ok=""
        fi
    done
    log "plaintext to intake: $(tls_probe "http://127.0.0.1:${url[intake]##*:}" - plain)"
    log "no client certificate to intake: $(tls_probe "${url[intake]}" "$p/ca.pem" none)"
    log "doxwatch health --url http://...: $(head -n 1 "$work/plain-health.log")"
    # The CLI with the CA but no client certificate or token (a profile without them).
    mkdir -p "$work/no-cert" && cp "$p/ca.pem" "$work/no-cert/"
    if "$bin" case list --profile "$work/no-cert" --intake-url "${url[intake]}" --json >"$work/no-cert.log" 2>&1; then
        log "case list without a client certificate succeeded"
        ok=""
    else
        log "case list without a client certificate: $(head -n 1 "$work/no-cert.log")"
    fi
    # The officer's identity, as intake sees it.
    if "$bin" whoami --intake-url "${url[intake]}" --json >"$work/whoami.json" 2>"$work/whoami.err"; then
        [[ $(json "$work/whoami.json" 'd["officer_id"]') == "$officer" ]] ||
            { log "whoami names $(json "$work/whoami.json" 'd["officer_id"]'), not $officer"; ok=""; }
        [[ $(json "$work/whoami.json" 'd["team"]') == deploy-test ]] || { log "whoami: team is not deploy-test"; ok=""; }
        log "whoami: $(json "$work/whoami.json" '"%s (%s), team %s, roles %s" % (d["officer_id"], d["display_name"], d["team"], ",".join(d["roles"]))')"
    else
        log "whoami failed: $(head -n 3 "$work/whoami.err")"
        ok=""
    fi
    [[ -n $ok ]]
}
if check_tls; then
    pass "tls: every service speaks TLS 1.3 with the officer's certificate, refuses plaintext, a client without a certificate, another CA's certificate and TLS 1.2; whoami names the officer"
else
    fail "tls"
fi

# ---------------------------------------------------------------------------------------------
# The case scenario through intake's published port, with the doxwatch CLI and the officer's
# profile (DOXWATCH_PROFILE).
intake=${url[intake]:-}
create_case() { # kind summary request-id
    "$bin" case create --intake-url "$intake" --json --kind "$1" \
        --received-at 2019-06-14T10:00:00+08:00 --channel online-form --summary "$2" \
        --url "https://t.me/examplechannel/${3##*-}" \
        --subject "police-officer:resident:Chan Tai Man" --complainant "family-member:Chan Siu Ming" \
        --disclosed name,phone,address --harm harassment --request-id "$3"
}
scenario() {
    local i
    create_case complaint "Personal data posted in a Telegram channel" "deploy-test-$$-1" >"$work/c1.json" || return 1
    create_case complaint "Home address posted on a forum" "deploy-test-$$-2" >"$work/c2.json" || return 1
    create_case enquiry "Is posting a photo of an officer doxxing?" "deploy-test-$$-3" >"$work/c3.json" || return 1
    # A retry with the same request id returns the first case, not a fourth.
    create_case enquiry "Is posting a photo of an officer doxxing?" "deploy-test-$$-3" >"$work/c3-retry.json" || return 1
    [[ $(json "$work/c3.json" 'd["name"]') == $(json "$work/c3-retry.json" 'd["name"]') ]] ||
        { log "a retried create made a new case"; return 1; }
    "$bin" case transition --intake-url "$intake" --json "$(json "$work/c1.json" 'd["name"]')" \
        --to under-assessment >/dev/null || return 1
    for i in 1 2 3; do json "$work/c$i.json" 'd["name"]'; done | sort >"$work/created.txt"
    [[ $(grep -c '^cases/' "$work/created.txt") -eq 3 ]] || { log "the creates did not return 3 case names"; return 1; }
    check_cases "" || return 1
}
# Checks that intake lists exactly the cases created, with the expected figures. $1: a label.
check_cases() {
    "$bin" case list --intake-url "$intake" --json --all >"$work/list$1.json" || return 1
    "$bin" case stats --intake-url "$intake" --json >"$work/stats$1.json" || return 1
    json "$work/list$1.json" '"\n".join(sorted(c["name"] for c in d["cases"]))' >"$work/listed$1.txt"
    if ! cmp -s "$work/created.txt" "$work/listed$1.txt"; then
        log "listed cases differ from those created:"
        diff "$work/created.txt" "$work/listed$1.txt" | sed 's/^/  | /'
        return 1
    fi
    local figures
    # Labels are matched however the CLI spells them (COMPLAINT, complaint, under-assessment, ...).
    figures=$(json "$work/stats$1.json" '(lambda k, s: "%s %s %s %s" % (d["total_cases"], k.get("complaint"), k.get("enquiry"), s.get("under-assessment")))(*[{x.lower().replace("_", "-"): v for x, v in d[m].items()} for m in ("by_kind", "by_status")])')
    if [[ $figures != "3 2 1 1" ]]; then
        log "stats: total, complaints, enquiries, under assessment = $figures (expected 3 2 1 1)"
        sed 's/^/  | /' "$work/stats$1.json"
        return 1
    fi
    log "intake lists the 3 cases; stats: 3 cases, 2 complaints, 1 enquiry, 1 under assessment"
}
if [[ -n $intake ]] && scenario; then
    pass "scenario: 3 cases created (a retried create deduplicated), listed and counted through the published port"
else
    log "intake's last log lines:"
    compose logs --no-color --tail 20 intake 2>&1 | sed 's/^/  | /'
    fail "scenario"
fi

# ---------------------------------------------------------------------------------------------
# PostgreSQL: each service's role reaches its own database and no other.
check_isolation() {
    local id ok=1 s db password
    id=$(container_of postgres)
    for s in intake links liaison referral; do
        password=$(cat "$work/secrets/${s}_db_password")
        for db in intake links liaison referral postgres; do
            if docker exec -e PGPASSWORD="$password" "$id" psql -h 127.0.0.1 -U "$s" -d "$db" -tAc 'select 1' >/dev/null 2>&1; then
                [[ $db == "$s" ]] || { log "role $s can connect to database $db"; ok=""; }
            else
                [[ $db != "$s" ]] || { log "role $s cannot connect to its own database"; ok=""; }
            fi
        done
    done
    # intake's tables are in intake's database, owned by intake.
    if ! docker exec -e PGPASSWORD="$(cat "$work/secrets/intake_db_password")" "$id" \
        psql -h 127.0.0.1 -U intake -d intake -tAc "select count(*) from pg_tables where schemaname = 'public' and tableowner = 'intake'" |
        grep -qv '^0$'; then
        log "no tables owned by intake in database intake"
        ok=""
    fi
    [[ -n $ok ]]
}
if check_isolation; then
    pass "postgres: each of the 4 roles connects to its own database only; intake's tables are in it"
else
    fail "postgres isolation"
fi

# ---------------------------------------------------------------------------------------------
# PostgreSQL's TLS: plaintext refused, its certificate verified by the name `postgres`, every
# service's connections encrypted with TLS 1.3, and a service that is given the server's address
# instead of its name (so verify-full cannot match) refuses to start.
check_postgres_tls() {
    local id ok=1 password out ip
    id=$(container_of postgres)
    password=$(cat "$work/secrets/intake_db_password")
    docker exec -i "$id" sh -c 'cat >/tmp/doxwatch-test-ca.pem' <"$pki/ca.pem"
    if docker exec -e PGPASSWORD="$password" -e PGSSLMODE=disable "$id" \
        psql -h 127.0.0.1 -U intake -d intake -tAc 'select 1' >"$work/pg-plain.log" 2>&1; then
        log "postgres accepted a plaintext login"
        ok=""
    else
        log "plaintext login to postgres: $(grep -m 1 -o 'no pg_hba.conf entry.*' "$work/pg-plain.log" || head -n 1 "$work/pg-plain.log")"
    fi
    out=$(docker exec -e PGPASSWORD="$password" -e PGSSLMODE=verify-full -e PGSSLROOTCERT=/tmp/doxwatch-test-ca.pem "$id" \
        psql -h postgres -U intake -d intake -tAc 'select version from pg_stat_ssl where pid = pg_backend_pid()' 2>&1) ||
        { log "verify-full to postgres by its name failed: $out"; ok=""; }
    [[ $out == TLSv1.3 ]] || { log "verify-full to postgres: $out (expected TLSv1.3)"; ok=""; }
    if docker exec -e PGPASSWORD="$password" -e PGSSLMODE=verify-full -e PGSSLROOTCERT=/tmp/doxwatch-test-ca.pem "$id" \
        psql -h 127.0.0.1 -U intake -d intake -tAc 'select 1' >/dev/null 2>&1; then
        log "verify-full to postgres by 127.0.0.1 succeeded (the certificate should name postgres only)"
        ok=""
    fi
    # The services' own connections, seen by the server (superuser over the socket).
    out=$(docker exec "$id" psql -h /var/run/postgresql -U postgres -d postgres -tAc \
        "select a.usename || ':' || coalesce(s.version, 'plain') from pg_stat_activity a join pg_stat_ssl s using (pid)
         where a.usename in ('intake', 'links', 'liaison', 'referral') group by 1 order by 1" 2>&1)
    log "services' connections to postgres: $(tr '\n' ' ' <<<"$out")"
    local s
    for s in "${services[@]}"; do
        grep -qx "$s:TLSv1.3" <<<"$out" || { log "$s has no TLS 1.3 connection to postgres"; ok=""; }
    done
    [[ $(grep -vc ':TLSv1.3$' <<<"$out") -eq 0 ]] || { log "a service connection to postgres is not TLS 1.3"; ok=""; }
    # intake's config, but by the server's address: verify-full must refuse the certificate.
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$id" | awk '{print $1}')
    if timeout 60 docker run --rm --network "${project}_backend" --read-only --user 10001:10001 \
        -v "$pki/ca.pem:/run/secrets/doxwatch_ca:ro" -v "$pki/jwks.json:/run/secrets/doxwatch_jwks:ro" \
        -v "$pki/services/intake.pem:/run/secrets/intake_tls_cert:ro" -v "$pki/services/intake.key:/run/secrets/intake_tls_key:ro" \
        -v "$pki/audit/intake.key:/run/secrets/intake_audit_key:ro" -v "$pki/encryption/intake.key:/run/secrets/intake_encryption_key:ro" \
        -e DOXWATCH_AUDIT_KEY_FILE=/run/secrets/intake_audit_key -e DOXWATCH_ENCRYPTION_KEY_FILE=/run/secrets/intake_encryption_key \
        -e DOXWATCH_TLS_CA_FILE=/run/secrets/doxwatch_ca -e DOXWATCH_TOKEN_JWKS=/run/secrets/doxwatch_jwks \
        -e DOXWATCH_TLS_CERT_FILE=/run/secrets/intake_tls_cert -e DOXWATCH_TLS_KEY_FILE=/run/secrets/intake_tls_key \
        -e DOXWATCH_LISTEN=127.0.0.1:50051 \
        -e "DOXWATCH_DATABASE_URL=postgres://intake:$password@$ip:5432/intake?sslmode=verify-full&sslrootcert=/run/secrets/doxwatch_ca" \
        "$image" serve intake >"$work/pg-by-ip.log" 2>&1; then
        log "intake started with postgres named by its address under verify-full"
        ok=""
    elif ! grep -qi 'certificate\|name' "$work/pg-by-ip.log"; then
        log "intake with postgres named by its address failed, but not on the certificate:"
        tail -n 5 "$work/pg-by-ip.log" | sed 's/^/  | /'
        ok=""
    else
        log "intake given postgres by address ($ip) under verify-full: $(grep -i -m 1 -o 'invalid peer certificate.*' "$work/pg-by-ip.log" | sed 's/\\"/"/g' | cut -c 1-160)"
    fi
    [[ -n $ok ]]
}
if check_postgres_tls; then
    pass "postgres tls: plaintext refused; verify-full by the name postgres works (TLS 1.3) and by address does not; every service's connections are TLS 1.3; a service given the address refuses to start"
else
    fail "postgres tls"
fi

# ---------------------------------------------------------------------------------------------
# Telemetry: the collector's stand-in received traces and metrics from every service, over TLS,
# each export with the certificate of the service it came from.
check_telemetry() {
    local id i missing
    id=$(container_of otel-collector)
    for ((i = 0; i < 30; i++)); do
        docker logs "$id" 2>/dev/null >"$work/otel.log" || true
        missing=$(python3 - "$work/otel.log" "${services[@]}" <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1], errors="replace"):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    # Counted only when it came over TLS with the exporting service's own certificate.
    if r.get("items", 0) > 0 and r.get("transport") == "tls":
        for s in r.get("services", []):
            # gRPC lists the certificate's URI SAN, or (older versions) only its DNS names: each
            # service's certificate alone carries its identity and its own name.
            name = s.removeprefix("doxwatch-")
            client = r.get("client", [])
            if f"spiffe://doxwatch/service/{name}" in client or name in client:
                seen.add((r["signal"], s))
print(" ".join(f"{sig}:doxwatch-{s}" for s in sys.argv[2:] for sig in ("traces", "metrics") if (sig, f"doxwatch-{s}") not in seen))
PY
)
        [[ -n $missing ]] || return 0
        sleep 1
    done
    log "the collector did not receive: $missing"
    tail -n 5 "$work/otel.log" | sed 's/^/  | /'
    return 1
}
if check_telemetry; then
    pass "telemetry: the collector received traces and metrics over mutual TLS from ${services[*]}"
else
    fail "telemetry"
fi

# ---------------------------------------------------------------------------------------------
# Restart (no recreate) and check that nothing was lost.
log "docker-compose restart ${services[*]}"
restart_ok=1
if compose restart "${services[@]}" >"$work/restart.log" 2>&1; then
    for s in "${services[@]}"; do
        wait_healthy "$s" 120 || restart_ok=""
        "$bin" health --url "${url[$s]}" >/dev/null 2>&1 || { log "$s does not answer on ${url[$s]} after the restart"; restart_ok=""; }
    done
else
    sed 's/^/  | /' "$work/restart.log"
    restart_ok=""
fi
if [[ -n $restart_ok && -n $intake ]] && check_cases "-after-restart"; then
    pass "restart: ${services[*]} healthy again and the same 3 cases and figures are there"
else
    fail "restart"
fi

finish
