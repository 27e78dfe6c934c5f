#!/usr/bin/env bash
# Builds doxwatch's container base images without any container registry:
#
#   base           a minimal Debian bookworm (debootstrap --variant=minbase) from the Debian
#                  mirror apt already uses on this machine, imported with `docker import`
#   postgres       PostgreSQL 15 from Debian's packages, FROM base (postgres.Dockerfile)
#   otlp-receiver  a tiny OTLP/gRPC receiver (python3-grpcio from Debian), FROM base
#                  (otlp-receiver.Dockerfile); stands in for the OpenTelemetry collector offline
#
#   deploy/docker/build-offline-base.sh [--force] [base|postgres|otlp-receiver ...]
#
# With no names it builds all three. Idempotent: the base image is skipped when it already exists
# (--force rebuilds it); the other two are `docker build`s whose layers are cached, so re-running is
# quick. Needs root (debootstrap), docker, and debootstrap (installed with apt-get when missing).
#
# Environment:
#   BASE_IMAGE           default doxwatch/base:bookworm
#   POSTGRES_IMAGE       default doxwatch/postgres:15
#   OTLP_RECEIVER_IMAGE  default doxwatch/otlp-receiver:local
#   DEBIAN_MIRROR        default: the first bookworm mirror in /etc/apt/sources.list{,.d/*},
#                        else http://deb.debian.org/debian
#   DEBIAN_SECURITY_MIRROR  default: the bookworm-security mirror found the same way, else
#                        http://deb.debian.org/debian-security
#   DEBIAN_SUITE         default bookworm
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
base_image=${BASE_IMAGE:-doxwatch/base:bookworm}
postgres_image=${POSTGRES_IMAGE:-doxwatch/postgres:15}
receiver_image=${OTLP_RECEIVER_IMAGE:-doxwatch/otlp-receiver:local}
suite=${DEBIAN_SUITE:-bookworm}

log() { printf 'offline-base: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=""
targets=()
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        base | postgres | otlp-receiver) targets+=("$arg") ;;
        -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
        *) die "unknown argument $arg (expected --force, base, postgres or otlp-receiver)" ;;
    esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(base postgres otlp-receiver)

want() {
    local t
    for t in "${targets[@]}"; do [[ $t == "$1" ]] && return 0; done
    return 1
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Prints the first URI of an apt source (one-line or deb822 format) that serves suite $1.
apt_mirror_for() {
    local wanted=$1 files=()
    [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] && files+=("$f")
    done
    [[ ${#files[@]} -gt 0 ]] || return 0
    awk -v want="$wanted" '
        function flush() {
            if (types ~ /(^|[ \t])deb([ \t]|$)/ && uris != "" && (" " suites " ") ~ (" " want " ")) {
                split(uris, u, /[ \t]+/); if (!found) { print u[1]; found = 1 }
            }
            types = ""; uris = ""; suites = ""
        }
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[ \t]*$/) { flush(); next }
            if ($0 ~ /^Types:/)  { sub(/^Types:[ \t]*/, "");  types = $0 }
            if ($0 ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "");   uris = $0 }
            if ($0 ~ /^Suites:/) { sub(/^Suites:[ \t]*/, ""); gsub(/[ \t]+/, " "); suites = $0 }
            next
        }
        FNR == 1 { flush() }
        /^[ \t]*deb[ \t]/ {
            line = $0; sub(/\[[^]]*\]/, "", line); n = split(line, f, /[ \t]+/)
            i = (f[1] == "") ? 2 : 1
            if (f[i + 2] == want && !found) { print f[i + 1]; found = 1 }
        }
        END { flush() }
    ' "${files[@]}" | sed -n '1s#/*$##p'
}

build_base() {
    if image_exists "$base_image" && [[ -z $force ]]; then
        log "$base_image exists; skipped (--force rebuilds it)"
        return
    fi
    [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    local mirror security
    mirror=${DEBIAN_MIRROR:-$(apt_mirror_for "$suite")}
    mirror=${mirror:-http://deb.debian.org/debian}
    security=${DEBIAN_SECURITY_MIRROR:-$(apt_mirror_for "$suite-security")}
    security=${security:-http://deb.debian.org/debian-security}

    local work root
    work=$(mktemp -d "${TMPDIR:-/tmp}/doxwatch-base.XXXXXX")
    root=$work/rootfs
    # debootstrap mounts /proc and /sys inside the target while it works; unmount before removing.
    # shellcheck disable=SC2064
    trap "for m in dev/pts dev proc sys; do umount -l '$root'/\$m 2>/dev/null || true; done; rm -rf --one-file-system '$work'" EXIT

    log "debootstrap --variant=minbase $suite from $mirror (a few minutes)"
    if ! debootstrap --variant=minbase --components=main "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
        tail -n 30 "$work/debootstrap.log" >&2
        die "debootstrap failed"
    fi

    # apt sources for images built FROM this base (the same mirrors), then trim what a container
    # never uses: package lists and caches, docs, man pages and locales other than C.UTF-8.
    cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
    cat >"$root/etc/dpkg/dpkg.cfg.d/01-doxwatch-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
EOF
    cat >"$root/etc/apt/apt.conf.d/01-doxwatch-minimal" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
    : >"$root/etc/machine-id"

    log "docker import as $base_image"
    tar -C "$root" --numeric-owner -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --change "LABEL org.opencontainers.image.title=doxwatch-base org.opencontainers.image.description=debootstrap-minbase-$suite" \
        --message "debootstrap --variant=minbase $suite" \
        - "$base_image" >/dev/null
    for m in dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$work"
    trap - EXIT
    log "built $base_image ($(docker image inspect -f '{{.Size}}' "$base_image" | awk '{printf "%.0f MB", $1 / 1e6}'))"
}

build_from_base() {
    local image=$1 dockerfile=$2
    image_exists "$base_image" || die "$base_image is missing: build it first ($0 base)"
    log "docker build $image from $dockerfile"
    # The legacy builder is what this engine offers without buildx; it works offline with a local
    # base image. The build context is deploy/docker (small). Output is shown only on failure.
    local out
    out=$(mktemp "${TMPDIR:-/tmp}/doxwatch-build.XXXXXX")
    if ! DOCKER_BUILDKIT=0 docker build --force-rm --build-arg "BASE_IMAGE=$base_image" \
        -f "$here/$dockerfile" -t "$image" "$here" >"$out" 2>&1; then
        tail -n 40 "$out" >&2
        rm -f "$out"
        die "docker build of $image failed"
    fi
    rm -f "$out"
    log "built $image"
}

want base && build_base
want postgres && build_from_base "$postgres_image" postgres.Dockerfile
want otlp-receiver && build_from_base "$receiver_image" otlp-receiver.Dockerfile
exit 0
