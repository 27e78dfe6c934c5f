#!/usr/bin/env bash
# Interop test: builds the real service binary, creates a fresh CA and token issuer
# (`doxwatch certs init`) and officers' profiles (`doxwatch officer add`), starts intake
# (`doxwatch serve intake`, TLS 1.3 with client certificates) on a fresh SQLite store and a free
# local port, then runs tests/interop/test_intake.py against it with Python's grpcio over mutual
# TLS with the officers' tokens, as another agency's system would. Exits with the tests' status.
#
#   tests/interop/run.sh              (from any directory)
#
# DOXWATCH_INTEROP_VENV   where the virtualenv lives (default tests/interop/.venv, git-ignored)
# PYTHON                  the interpreter that creates it (default python3)
# CARGO_TARGET_DIR        honoured when finding the built binary
set -euo pipefail

cd "$(dirname "$0")/../.."
here=tests/interop
venv=${DOXWATCH_INTEROP_VENV:-$here/.venv}
python=${PYTHON:-python3}

work=$(mktemp -d "${TMPDIR:-/tmp}/doxwatch-interop.XXXXXX")
server_pid=""

cleanup() {
    local status=$?
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf 'interop: %s\n' "$*" >&2; }

# 1. The virtualenv, (re)built whenever requirements.txt changes.
if [[ ! -x $venv/bin/python ]] || ! cmp -s "$here/requirements.txt" "$venv/.requirements.txt"; then
    log "creating the virtualenv in $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/.requirements.txt"
fi
py=$venv/bin/python

# 2. Python stubs from the contract, exactly as another agency would generate them.
mkdir -p "$work/gen"
"$py" -m grpc_tools.protoc -I proto \
    --python_out="$work/gen" --grpc_python_out="$work/gen" \
    $(cd proto && find doxwatch -name '*.proto' | sort | sed 's|^|proto/|')

# 3. The real service binary.
log "building doxwatch"
cargo build --quiet -p doxwatch
bin=${CARGO_TARGET_DIR:-target}/debug/doxwatch

# 4. The suite's CA, intake's certificate, the token issuer's key set, and the officers' profiles
#    test_intake.py expects (ids, roles and team as it names them).
pki=$work/pki
"$bin" certs init "$pki" >/dev/null
issue() { "$bin" officer add "$1" --team interop --pki "$pki" --out "$work/profiles/$1" "${@:2}" >/dev/null; }
issue interop.officer --roles intake_officer,supervisor
issue interop.reader --roles report_reader

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
addr=127.0.0.1:$port

log "starting doxwatch serve intake on $addr"
NO_COLOR=1 DOXWATCH_LISTEN=$addr DOXWATCH_DATABASE_URL="sqlite://$work/intake.db" \
    DOXWATCH_TLS_CA_FILE="$pki/ca.pem" \
    DOXWATCH_TLS_CERT_FILE="$pki/services/intake.pem" DOXWATCH_TLS_KEY_FILE="$pki/services/intake.key" \
    DOXWATCH_TOKEN_JWKS="$pki/jwks.json" \
    DOXWATCH_AUDIT_KEY_FILE="$pki/audit/intake.key" DOXWATCH_ENCRYPTION_KEY_FILE="$pki/encryption/intake.key" \
    "$bin" serve intake >"$work/server.log" 2>&1 &
server_pid=$!

server_log() {
    log "server log:"
    sed 's/^/  | /' "$work/server.log" >&2 || true
}

# 5. Wait (up to ~30 s) until it answers health over mutual TLS.
ready=""
for _ in $(seq 1 60); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        server_pid=""
        log "doxwatch serve intake exited before answering health"
        server_log
        exit 1
    fi
    if "$bin" health --url "https://$addr" --profile "$work/profiles/interop.officer" >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.5
done
if [[ -z $ready ]]; then
    log "doxwatch serve intake did not answer health within 30 s"
    server_log
    exit 1
fi

# 6. The tests.
status=0
PYTHONPATH="$work/gen" DOXWATCH_INTAKE_ADDR=$addr \
    DOXWATCH_INTEROP_OFFICER="$work/profiles/interop.officer" \
    DOXWATCH_INTEROP_READER="$work/profiles/interop.reader" \
    "$py" "$here/test_intake.py" || status=$?

# 7. Stop the service; a clean shutdown on SIGTERM is part of the contract.
kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""
if [[ $server_status -ne 0 ]]; then
    log "doxwatch serve intake exited with status $server_status on SIGTERM"
    [[ $status -ne 0 ]] || status=1
fi
if [[ $status -ne 0 ]]; then
    server_log
fi
exit "$status"
