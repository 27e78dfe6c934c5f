#!/usr/bin/env bash
# Makes the secret files docker-compose.yml mounts, for each service (default: intake links
# liaison referral):
#
#   <service>_db_password     the role's password, read by the PostgreSQL image at every start
#   <service>_database.toml   the service's config file: database_url = "postgres://<service>:...@postgres:5432/<service>"
#
#   deploy/compose/make-secrets.sh [--dir DIR] [--rotate] [SERVICE ...]
#
# DIR defaults to ./secrets beside this script (git-ignored), made mode 0700. Existing files are
# kept (the passwords are already in the PostgreSQL volume) unless --rotate, which writes new ones:
# then `docker-compose restart postgres <services>` applies them.
#
# Ownership: the containers read these files as their own users (PostgreSQL uid 999, doxwatch
# uid 10001). Run as root, each file is given to its reader with mode 0400; otherwise the files are
# mode 0444 inside the 0700 directory, so that only you (and the containers) can read them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=$here/secrets
rotate=""
services=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --dir) dir=$2; shift 2 ;;
        --rotate) rotate=1; shift ;;
        -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
        -*) echo "make-secrets: unknown option $1" >&2; exit 2 ;;
        *) services+=("$1"); shift ;;
    esac
done
[[ ${#services[@]} -gt 0 ]] || services=(intake links liaison referral)
postgres_host=${POSTGRES_HOST:-postgres}
postgres_uid=${POSTGRES_UID:-999}
doxwatch_uid=${DOXWATCH_UID:-10001}

umask 077
mkdir -p "$dir"
chmod 0700 "$dir"

# 48 hex characters: safe inside a URL without escaping.
new_password() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

place() { # file owner
    if [[ $(id -u) -eq 0 ]]; then
        chown "$2:$2" "$1"
        chmod 0400 "$1"
    else
        chmod 0444 "$1"
    fi
}

for service in "${services[@]}"; do
    [[ $service =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "make-secrets: bad service name $service" >&2; exit 2; }
    password_file=$dir/${service}_db_password
    config_file=$dir/${service}_database.toml
    if [[ -s $password_file && -s $config_file && -z $rotate ]]; then
        echo "make-secrets: $service: kept"
        continue
    fi
    password=$(new_password)
    rm -f "$password_file" "$config_file"
    printf '%s\n' "$password" >"$password_file"
    printf 'database_url = "postgres://%s:%s@%s:5432/%s"\n' "$service" "$password" "$postgres_host" "$service" >"$config_file"
    place "$password_file" "$postgres_uid"
    place "$config_file" "$doxwatch_uid"
    echo "make-secrets: $service: written"
done
