#!/usr/bin/env bash
# Kubernetes manifests test: renders deploy/k8s (base, overlays/dev, overlays/prod) with
# `kubectl kustomize`, validates each against the Kubernetes API schemas (kubernetes-validate,
# offline) and checks the properties doxwatch relies on with check_manifests.py (exec health
# probes over TLS, security context, resources, PDB, ServiceAccount, TLS files from each service's
# kubernetes.io/tls Secret, the key set, https:// peers only, the database URL in a Secret file and
# no variable, Secret volumes 0400, default-deny NetworkPolicy and the allowed calls). Then, in
# scratch copies: it adds a second service the documented way (a copy of base/intake/) and checks
# the calls between the two; renders prod with components/cert-manager and checks its
# Certificates; and breaks a rendered prod on purpose (an http:// peer, a database URL variable, a
# world-readable Secret volume, a gRPC probe, a missing key file, the object store's secret in a
# variable, link-tracking's replicas on local evidence stores) to see the checks fail.
#
#   tests/deploy/k8s.sh          (from any directory)
#
# Without kubectl, rendering is skipped and check_manifests.py --sources reads the kustomizations
# directly (resources, components, generators, images; no patches or namespace), so the base and
# the components are still checked and schema-validated. Needs no cluster.
#
# Ends with `k8s: N passed, N failed, N skipped`.
#
# DOXWATCH_DEPLOY_VENV  the virtualenv (default tests/deploy/.venv, git-ignored)
# PYTHON                the interpreter that makes it (default python3)
# VERBOSE=1             print every passing check too
set -euo pipefail

cd "$(dirname "$0")/../.."
here=tests/deploy
k8s=deploy/k8s
venv=${DOXWATCH_DEPLOY_VENV:-$here/.venv}
python=${PYTHON:-python3}
# The schemas' versions: the oldest Kubernetes the manifests support (gRPC probes and
# matchLabelKeys need 1.27+), and the newest the package knows.
kube_versions=(1.28.0 1.37.0)

work=$(mktemp -d "${TMPDIR:-/tmp}/doxwatch-k8s.XXXXXX")
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
skipped=0
log() { printf 'k8s: %s\n' "$*"; }
pass() { passed=$((passed + 1)); log "PASS $*"; }
fail() { failed=$((failed + 1)); log "FAIL $*"; }
skip() { skipped=$((skipped + 1)); log "SKIP $*"; }

# The virtualenv, rebuilt when requirements.txt changes; without it (no PyPI), a python3 that has
# PyYAML does the checks and schema validation is skipped.
py=""
validate=""
if [[ ! -x $venv/bin/python ]] || ! cmp -s "$here/requirements.txt" "$venv/.requirements.txt"; then
    log "creating the virtualenv in $venv"
    rm -rf "$venv"
    if "$python" -m venv "$venv" &&
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"; then
        cp "$here/requirements.txt" "$venv/.requirements.txt"
    else
        log "could not install $here/requirements.txt"
        rm -rf "$venv"
    fi
fi
if [[ -x $venv/bin/python ]]; then
    py=$venv/bin/python
    validate=$venv/bin/kubernetes-validate
elif "$python" -c 'import yaml' 2>/dev/null; then
    py=$python
    log "using $python with its own PyYAML; schema validation will be skipped"
else
    fail "no Python with PyYAML: nothing can be checked"
    echo "k8s: $passed passed, $failed failed, $skipped skipped"
    exit 1
fi

# check LABEL ARGS...: check_manifests.py, quiet unless VERBOSE or a failure.
check() {
    local label=$1 out status=0
    shift
    out=$("$py" "$here/check_manifests.py" --label "$label" "$@" 2>&1) || status=$?
    if [[ -n ${VERBOSE:-} || $status -ne 0 ]]; then
        printf '%s\n' "$out" | sed 's/^/  /'
    fi
    local summary
    summary=$(printf '%s\n' "$out" | tail -n 1)
    if [[ $status -eq 0 ]]; then pass "checks of $summary"; else fail "checks of $summary"; fi
}

schema() {
    local label=$1 file=$2 v out
    if [[ -z $validate ]]; then
        skip "$label: schema validation (kubernetes-validate not installed)"
        return
    fi
    for v in "${kube_versions[@]}"; do
        if out=$("$validate" --strict --quiet -k "$v" "$file" 2>&1); then
            pass "$label: valid against the Kubernetes $v API schemas (strict)"
        else
            printf '%s\n' "$out" | sed 's/^/  /'
            fail "$label: not valid against the Kubernetes $v API schemas"
        fi
    done
}

# render LABEL DIR OUT
render() {
    if kubectl kustomize "$2" >"$3" 2>"$work/render.err"; then
        pass "$1: kubectl kustomize $2 ($(grep -c '^kind:' "$3") objects)"
    else
        sed 's/^/  /' "$work/render.err"
        fail "$1: kubectl kustomize $2"
        return 1
    fi
}

# A scratch copy of deploy/k8s with the links service added as deploy/README.md says: a copy of
# base/intake/ with the name and port replaced, its own callers and callees, listed in base.
scaffold_links() {
    local root=$1/k8s
    cp -r "$k8s" "$root"
    [[ ! -d $root/base/links ]] || return 0 # already part of the suite
    cp -r "$root/base/intake" "$root/base/links"
    sed -i 's/intake/links/g; s/50051/50052/g' "$root"/base/links/*
    # links is called by clients, intake, liaison and referral, and calls no one.
    "$py" - "$root/base/links/networkpolicy.yaml" <<'PY'
import sys, yaml
path = sys.argv[1]
docs = list(yaml.safe_load_all(open(path)))
spec = docs[0]["spec"]
callers = [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": n}}} for n in ("intake", "liaison", "referral")]
spec["ingress"][0]["from"] = [p for p in spec["ingress"][0]["from"]
                              if "app.kubernetes.io/name" not in (p.get("podSelector") or {}).get("matchLabels", {})] + callers
spec["egress"] = []
yaml.safe_dump_all(docs, open(path, "w"), sort_keys=False)
PY
    sed -i 's/^  # - links$/  - links/' "$root/base/kustomization.yaml"
    grep -q '^  - links$' "$root/base/kustomization.yaml"
}

# broken_checks RENDERED: copies of the rendered manifests with one property broken each; every one
# must make check_manifests.py fail on the check that guards it.
broken_checks() {
    local rendered=$1 name expect out
    while IFS='|' read -r name expect; do
        "$py" - "$rendered" "$work/broken-$name.yaml" "$name" <<'PY'
import sys, yaml
src, dst, what = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(src)) if d]
dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "intake")
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
if what == "http-peer":
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and "DOXWATCH_LINKS_URL" in (d.get("data") or {}))
    cm["data"]["DOXWATCH_LINKS_URL"] = "http://links:50052"
elif what == "database-url-env":
    c["env"].append({"name": "DOXWATCH_DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "intake-database", "key": "url"}}})
elif what == "secret-mode":
    next(v for v in pod["volumes"] if v["name"] == "tls")["secret"]["defaultMode"] = 0o444
elif what == "grpc-probe":
    c["readinessProbe"] = {"grpc": {"port": 50051}, "periodSeconds": 5}
elif what == "s3-secret-env":
    links = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "links")
    links["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "links-evidence-s3", "key": "secret_access_key"}}})
elif what == "local-evidence":
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("links-config"))
    cm["data"]["DOXWATCH_EVIDENCE_STORE"] = "local"
elif what == "no-key-file":
    c["env"] = [e for e in c["env"] if e["name"] != "DOXWATCH_TLS_KEY_FILE"]
elif what == "key-not-mounted":
    c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "tls"]
elif what == "otlp-plaintext":
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and "DOXWATCH_OTLP_ENDPOINT" in (d.get("data") or {}))
    cm["data"]["DOXWATCH_OTLP_ENDPOINT"] = "http://otel-collector:4317"
elif what == "collector-no-tls":
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("otel-collector-config"))
    key = next(iter(cm["data"]))
    conf = yaml.safe_load(cm["data"][key])
    del conf["receivers"]["otlp"]["protocols"]["grpc"]["tls"]
    cm["data"][key] = yaml.safe_dump(conf)
yaml.safe_dump_all(docs, open(dst, "w"), sort_keys=False)
PY
        if out=$("$py" "$here/check_manifests.py" --label "broken-$name" "$work/broken-$name.yaml" \
            --expect-collector --expect-namespace doxwatch --min-replicas 2 2>&1); then
            fail "broken ($name): check_manifests.py passed"
        elif grep -q "FAIL .*$expect" <<<"$out"; then
            pass "broken ($name): fails $(grep -m 1 "FAIL .*$expect" <<<"$out" | sed 's/^ *FAIL //' | cut -c 1-110)"
        else
            printf '%s\n' "$out" | grep FAIL | sed 's/^/  /'
            fail "broken ($name): failed, but not on '$expect'"
        fi
    done <<'EOF'
http-peer|DOXWATCH_LINKS_URL is the links Service, https
database-url-env|no DOXWATCH_DATABASE_URL variable
secret-mode|Secret volume tls is mode 0400
grpc-probe|readinessProbe runs
s3-secret-env|no DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY variable
local-evidence|its replicas share one evidence store
no-key-file|DOXWATCH_TLS_KEY_FILE is tls.key
key-not-mounted|DOXWATCH_TLS_CERT_FILE is tls.crt
otlp-plaintext|DOXWATCH_OTLP_ENDPOINT is the collector
collector-no-tls|the receiver speaks TLS 1.3
EOF
}

if kubectl version --client >/dev/null 2>&1; then
    log "rendering with $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
    for target in base overlays/dev overlays/prod; do
        label=${target#overlays/}
        out=$work/$label.yaml
        render "$label" "$k8s/$target" "$out" || continue
        schema "$label" "$out"
        case $label in
            base) check base "$out" ;;
            dev) check dev "$out" --expect-collector --expect-namespace doxwatch-dev ;;
            prod) check prod "$out" --expect-collector --expect-namespace doxwatch --min-replicas 2 ;;
        esac
    done
    log "adding a second service (links) by copying base/intake/, in a scratch copy"
    if scaffold_links "$work"; then
        for target in base overlays/prod; do
            label=with-links-${target#overlays/}
            out=$work/$label.yaml
            render "$label" "$work/k8s/$target" "$out" || continue
            if [[ $target == base ]]; then
                check "$label" "$out"
            else
                check "$label" "$out" --expect-collector --expect-namespace doxwatch --min-replicas 2
            fi
        done
    else
        fail "adding links by copying base/intake/"
    fi
    log "prod with components/cert-manager, in a scratch copy"
    mkdir -p "$work/cm"
    cp -r "$k8s" "$work/cm/k8s"
    mkdir -p "$work/cm/k8s/overlays/prod-cert-manager"
    cat >"$work/cm/k8s/overlays/prod-cert-manager/kustomization.yaml" <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: doxwatch
resources: [../prod]
components: [../../components/cert-manager]
EOF
    out=$work/prod-cert-manager.yaml
    if render prod-cert-manager "$work/cm/k8s/overlays/prod-cert-manager" "$out"; then
        # cert-manager's kinds are not in the Kubernetes schemas: only the others are validated.
        schema prod-cert-manager "$out"
        check prod-cert-manager "$out" --expect-collector --expect-namespace doxwatch --min-replicas 2 --expect-certificates
    fi
    log "breaking a rendered prod on purpose: the checks must fail"
    if [[ -s $work/prod.yaml ]]; then
        broken_checks "$work/prod.yaml"
    else
        fail "no rendered prod to break"
    fi
else
    skip "kubectl not found: rendering with kustomize (overlays' patches, namespace, name hashes) skipped"
    log "checking the kustomizations' sources directly instead"
    for target in base overlays/dev overlays/prod; do
        label=sources-${target#overlays/}
        extra=()
        [[ $target == base ]] || extra=(--expect-collector)
        check "$label" --sources "$k8s/$target" --dump "$work/$label.yaml" "${extra[@]}"
        schema "$label" "$work/$label.yaml"
    done
fi

echo "k8s: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
