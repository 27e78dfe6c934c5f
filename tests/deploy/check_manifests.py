"""Checks doxwatch's Kubernetes manifests for the properties the deployment relies on.

    check_manifests.py [options] RENDERED.yaml        output of `kubectl kustomize <dir>`
    check_manifests.py --sources DIR [options]        a kustomization read directly (no kubectl)

Each doxwatch service is a Deployment labelled app.kubernetes.io/component=grpc-service. For each:
exec probes running `doxwatch health --url https://localhost:<port>` (the kubelet's gRPC probe
cannot present a client certificate), requests and limits, a restricted security context, its own
ServiceAccount without a token, a Service, a PodDisruptionBudget, configuration from ConfigMaps;
TLS: DOXWATCH_TLS_CA_FILE, _CERT_FILE and _KEY_FILE files of its kubernetes.io/tls Secret
<service>-tls (ca.crt, tls.crt, tls.key) mounted read-only, the token key set (a mounted file or an
https:// URL), https:// peer URLs only; the database URL in no environment variable but in a TOML
file (DOXWATCH_CONFIG) of its Secret <service>-database; every Secret volume mode 0400 (read by the
pod's fsGroup); link-tracking's evidence in an S3 bucket over https:// when it runs several replicas
(--min-replicas 2), its secret access key in a file and in no variable. For the namespace: a default-deny
NetworkPolicy, DNS egress, and network policies that allow exactly the calls of the design
(evaluated by a small NetworkPolicy simulator, for services that exist and for the half of a call
that a present service's own policy governs when its peer is not yet deployed).

--sources reads the kustomization files themselves: resources (files and folders, recursively),
components, configMapGenerators (literals, envs, files; behavior merge) and images (name and tag),
without name hashes, patches or namespace; so it checks the base and components, and of an overlay only what
those give. Use it where kubectl is missing.

Prints PASS/FAIL lines and `<label>: N passed, N failed`; exits 1 when a check failed.
"""

import argparse
import ipaddress
import os
import sys

import yaml

# The suite: each service's gRPC port, and whom it calls.
PORTS = {"intake": 50051, "links": 50052, "liaison": 50053, "referral": 50054}
CALLS = {
    "intake": {"links", "liaison", "referral"},
    "links": set(),
    "liaison": {"links"},
    "referral": {"intake", "links"},
}
SERVICE_COMPONENT = "grpc-service"
NAMESPACE = "doxwatch"  # the namespace assumed when the manifests name none
CLIENT_LABEL = {"doxwatch-client": "true"}


# ---------------------------------------------------------------------------------------------
# Loading


def load_rendered(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def load_kustomization(directory, is_component=False):
    """A partial kustomize: resources, components, ConfigMap generators and images."""
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            break
    else:
        raise SystemExit(f"no kustomization in {directory}")
    with open(path) as f:
        k = yaml.safe_load(f) or {}
    docs = []
    for entry in k.get("resources", []):
        target = os.path.join(directory, entry)
        if os.path.isdir(target):
            docs.extend(load_kustomization(target))
        else:
            with open(target) as f:
                docs.extend(d for d in yaml.safe_load_all(f) if d)
    for gen in k.get("configMapGenerator", []):
        data = {}
        for lit in gen.get("literals", []):
            key, _, value = lit.partition("=")
            data[key] = value
        for env in gen.get("envs", []) + ([gen["env"]] if "env" in gen else []):
            with open(os.path.join(directory, env)) as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#"):
                        key, _, value = line.partition("=")
                        data[key] = value
        for spec in gen.get("files", []):
            key, _, file = spec.partition("=") if "=" in spec else (os.path.basename(spec), "", spec)
            with open(os.path.join(directory, file)) as f:
                data[key] = f.read()
        existing = [d for d in docs if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == gen["name"]]
        if gen.get("behavior") == "merge" and existing:
            existing[0].setdefault("data", {}).update(data)
        else:
            docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    for image in k.get("images", []):
        for d in docs:
            for c in (((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers", []):
                name, _, _ = c.get("image", "").partition(":")
                if name == image["name"]:
                    c["image"] = image.get("newName", name) + (":" + str(image["newTag"]) if "newTag" in image else "")
    for component in k.get("components", []):
        comp_docs = load_kustomization(os.path.join(directory, component), is_component=True)
        for d in comp_docs:
            same = [x for x in docs if x.get("kind") == d.get("kind") == "ConfigMap"
                    and x["metadata"]["name"] == d["metadata"]["name"]]
            if same:
                same[0].setdefault("data", {}).update(d.get("data", {}))
            else:
                docs.append(d)
    return docs


# ---------------------------------------------------------------------------------------------
# A NetworkPolicy simulator (same cluster, no CNI specifics).


class Endpoint:
    def __init__(self, name, labels=None, namespace=NAMESPACE, ns_labels=None, ports=None, ip=None):
        self.name = name
        self.labels = labels or {}
        self.namespace = namespace
        self.ns_labels = {"kubernetes.io/metadata.name": namespace, **(ns_labels or {})}
        self.ports = ports or {}  # port name -> number
        self.ip = ip

    def __repr__(self):
        return self.name


def selects(selector, labels):
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(peer, ep, policy_ns):
    if "ipBlock" in peer:
        if ep.ip is None:
            return False
        ip = ipaddress.ip_address(ep.ip)
        block = peer["ipBlock"]
        if ip not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(ip in ipaddress.ip_network(e) for e in block.get("except") or [])
    if ep.ip is not None:  # an address outside the cluster matches no pod or namespace selector
        return False
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    ns_ok = selects(ns_sel, ep.ns_labels) if ns_sel is not None else ep.namespace == policy_ns
    pod_ok = selects(pod_sel, ep.labels) if pod_sel is not None else True
    return ns_ok and pod_ok


def port_matches(ports, port, protocol, named_ports):
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str):
            want = named_ports.get(want)
        if want is None:
            continue
        end = p.get("endPort", want)
        if want <= port <= end:
            return True
    return False


def policy_types(policy):
    spec = policy.get("spec", {})
    if "policyTypes" in spec:
        return set(spec["policyTypes"])
    return {"Ingress"} | ({"Egress"} if "egress" in spec else set())


class Network:
    def __init__(self, policies):
        self.policies = policies

    def _applying(self, ep, direction):
        return [p for p in self.policies
                if p["metadata"].get("namespace", NAMESPACE) == ep.namespace
                and direction in policy_types(p)
                and selects(p["spec"].get("podSelector", {}), ep.labels)]

    def egress_allowed(self, src, dst, port, protocol="TCP"):
        """Does src's side allow src -> dst:port? (True when no policy isolates src's egress.)"""
        if src.ip is not None:
            return True
        applying = self._applying(src, "Egress")
        if not applying:
            return True
        for p in applying:
            for rule in p["spec"].get("egress") or []:
                peers = rule.get("to")
                if (not peers or any(peer_matches(x, dst, src.namespace) for x in peers)) and \
                        port_matches(rule.get("ports"), port, protocol, dst.ports):
                    return True
        return False

    def ingress_allowed(self, src, dst, port, protocol="TCP"):
        if dst.ip is not None:
            return True
        applying = self._applying(dst, "Ingress")
        if not applying:
            return True
        for p in applying:
            for rule in p["spec"].get("ingress") or []:
                peers = rule.get("from")
                if (not peers or any(peer_matches(x, src, dst.namespace) for x in peers)) and \
                        port_matches(rule.get("ports"), port, protocol, dst.ports):
                    return True
        return False

    def allowed(self, src, dst, port, protocol="TCP"):
        return self.egress_allowed(src, dst, port, protocol) and self.ingress_allowed(src, dst, port, protocol)


# ---------------------------------------------------------------------------------------------
# The checks


class Report:
    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"  PASS {what}")
        else:
            self.failed += 1
            print(f"  FAIL {what}" + (f": {detail}" if detail else ""))
        return ok


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def find(docs, kind, name):
    for d in by_kind(docs, kind):
        if d["metadata"]["name"] == name:
            return d
    return None


def configmap_matches(docs, ref_name, rendered):
    """The ConfigMap a reference names (rendered names carry a generator hash suffix)."""
    cm = find(docs, "ConfigMap", ref_name)
    if cm is None and not rendered:
        # sources mode: references use the generator's name, which is what we made
        return None
    return cm


# Keys one service reads besides those every service does.
SERVICE_KEYS = {
    "links": {"EVIDENCE_STORE", "EVIDENCE_DIR", "EVIDENCE_MAX_BYTES", "EVIDENCE_S3_BUCKET", "EVIDENCE_S3_ENDPOINT",
              "EVIDENCE_S3_REGION", "EVIDENCE_S3_PREFIX", "EVIDENCE_S3_ACCESS_KEY_ID",
              "EVIDENCE_S3_SECRET_ACCESS_KEY_FILE"},
}


def check_evidence_store(r, cname, env, settings, min_replicas):
    """Link-tracking's evidence: in production (several replicas, no shared disk) an S3 bucket over
    https://, its secret access key in a file and in no variable."""
    store = settings.get("DOXWATCH_EVIDENCE_STORE", "local")
    if min_replicas > 1:
        r.check(store == "s3", f"{cname}: its replicas share one evidence store (DOXWATCH_EVIDENCE_STORE=s3)",
                f"{store}")
    if store != "s3":
        return
    r.check(bool(settings.get("DOXWATCH_EVIDENCE_S3_BUCKET")), f"{cname}: DOXWATCH_EVIDENCE_S3_BUCKET is set")
    endpoint = settings.get("DOXWATCH_EVIDENCE_S3_ENDPOINT")
    r.check(endpoint is None or str(endpoint).startswith("https://"),
            f"{cname}: DOXWATCH_EVIDENCE_S3_ENDPOINT is https://", f"{endpoint}")
    r.check("DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY" not in env and "DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY" not in settings,
            f"{cname}: no DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY variable (the secret is in a file)")
    r.check(str(settings.get("DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY_FILE", "")).startswith("/"),
            f"{cname}: DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY_FILE is a mounted file",
            f"{settings.get('DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY_FILE')}")


def check_service(r, docs, dep, rendered, min_replicas, expect_certificates=False):
    name = dep["metadata"]["name"]
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    labels = pod["metadata"].get("labels", {})
    containers = spec.get("containers", [])
    r.check(name in PORTS, f"{name}: a known service", f"not one of {sorted(PORTS)}")
    port = PORTS.get(name)
    r.check(selects(dep["spec"].get("selector"), labels), f"{name}: the Deployment's selector matches its pods")
    replicas = dep["spec"].get("replicas", 1)
    r.check(replicas >= min_replicas, f"{name}: replicas {replicas} >= {min_replicas}")

    psc = spec.get("securityContext", {})
    r.check(psc.get("runAsNonRoot") is True, f"{name}: pod runAsNonRoot")
    r.check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", f"{name}: pod seccompProfile RuntimeDefault")
    r.check(spec.get("automountServiceAccountToken") is False, f"{name}: no service account token mounted in the pod")
    sa_name = spec.get("serviceAccountName")
    sa = find(docs, "ServiceAccount", sa_name) if sa_name else None
    r.check(sa is not None and sa_name != "default", f"{name}: its own ServiceAccount", f"serviceAccountName={sa_name}")
    if sa is not None:
        r.check(sa.get("automountServiceAccountToken") is False, f"{name}: ServiceAccount automountServiceAccountToken false")

    r.check(len(containers) == 1, f"{name}: one container")
    for c in containers:
        cname = f"{name}/{c['name']}"
        csc = c.get("securityContext", {})
        r.check(csc.get("allowPrivilegeEscalation") is False, f"{cname}: allowPrivilegeEscalation false")
        r.check(csc.get("readOnlyRootFilesystem") is True, f"{cname}: readOnlyRootFilesystem")
        r.check("ALL" in ((csc.get("capabilities") or {}).get("drop") or []), f"{cname}: capabilities drop ALL")
        r.check(not (csc.get("capabilities") or {}).get("add"), f"{cname}: no capabilities added")
        r.check(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True
                and csc.get("runAsUser", psc.get("runAsUser", 1)) != 0, f"{cname}: runs as non-root")
        r.check(csc.get("privileged") is not True, f"{cname}: not privileged")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                r.check(resource in (res.get(kind) or {}), f"{cname}: resources.{kind}.{resource}")
        image = c.get("image", "")
        tag = image.rsplit("/", 1)[-1].partition(":")[2] if "@" not in image else "digest"
        r.check(tag not in ("", "latest"), f"{cname}: image {image} has a pinned tag or digest")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        r.check(ports.get("grpc") == port, f"{cname}: container port grpc = {port}", f"ports {ports}")
        health = ["doxwatch", "health", "--url", f"https://localhost:{port}"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            p = c.get(probe) or {}
            r.check((p.get("exec") or {}).get("command") == health and not {"grpc", "httpGet", "tcpSocket"} & set(p),
                    f"{cname}: {probe} runs `{' '.join(health)}`", f"{p}")
        r.check(c.get("args", [])[:2] == ["serve", name], f"{cname}: runs `serve {name}`", f"args {c.get('args')}")

        env = {e["name"]: e for e in c.get("env", [])}
        r.check("DOXWATCH_DATABASE_URL" not in env, f"{cname}: no DOXWATCH_DATABASE_URL variable (the URL is in a file)",
                f"{env.get('DOXWATCH_DATABASE_URL')}")
        r.check(not any("postgres://" in str(e.get("value", "")) for e in env.values()),
                f"{cname}: no database URL written in the manifest")
        settings = {}
        missing = []
        for source in c.get("envFrom", []):
            cm_ref = (source.get("configMapRef") or {}).get("name")
            if cm_ref:
                cm = configmap_matches(docs, cm_ref, rendered)
                if cm is None:
                    missing.append(cm_ref)
                else:
                    settings.update(cm.get("data", {}))
        settings.update({k: v.get("value") for k, v in env.items() if "value" in v})
        r.check(not missing, f"{cname}: every ConfigMap in envFrom exists", f"missing {missing}")
        r.check(settings.get("DOXWATCH_LISTEN") == f"0.0.0.0:{port}", f"{cname}: DOXWATCH_LISTEN=0.0.0.0:{port}",
                f"{settings.get('DOXWATCH_LISTEN')}")
        for peer in CALLS.get(name, ()):
            key = f"DOXWATCH_{peer.upper()}_URL"
            r.check(settings.get(key) == f"https://{peer}:{PORTS[peer]}", f"{cname}: {key} is the {peer} Service, https",
                    f"{settings.get(key)}")
        plain = {k: v for k, v in settings.items() if k.startswith("DOXWATCH_") and k.endswith("_URL")
                 and not str(v).startswith("https://")}
        r.check(not plain, f"{cname}: every peer URL is https://", f"{plain}")
        check_tls(r, cname, name, spec, c, settings)
        secretish = [k for k, v in settings.items() if "postgres://" in str(v) or "PASSWORD" in k]
        r.check(not secretish, f"{cname}: no secrets in ConfigMaps", f"{secretish}")
        # Everything in DOXWATCH_* must be a key the binary knows (a typo would be ignored silently).
        known = {"LISTEN", "DATABASE_URL", "DATABASE_MAX_CONNECTIONS", "REQUEST_TIMEOUT_MS", "CONCURRENCY_LIMIT",
                 "MAX_MESSAGE_BYTES", "SHUTDOWN_GRACE_MS", "LOG_FORMAT", "LOG_FILTER", "OTLP_ENDPOINT",
                 "INTAKE_URL", "LINKS_URL", "LIAISON_URL", "REFERRAL_URL", "OUTBOX_POLL_MS", "OUTBOX_MAX_BACKOFF_MS",
                 "CONFIG", "STREAM_TIMEOUT_MS", "STORE_PROBE_TIMEOUT_MS",
                 "TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE", "TOKEN_JWKS", "TOKEN_ISSUER", "TOKEN_AUDIENCE",
                 "TOKEN_LEEWAY_MS", "POLICY_FILE", "RATE_LIMIT_PER_SECOND", "RATE_LIMIT_BURST", "AUDIT_KEY_FILE",
                 "ENCRYPTION_KEY_FILE", "TIME_ZONE", "REFERENCE_PREFIX"} | SERVICE_KEYS.get(name, set())
        unknown = [k for k in settings if k.startswith("DOXWATCH_") and k[len("DOXWATCH_"):] not in known]
        r.check(not unknown, f"{cname}: every DOXWATCH_* setting is a known key", f"{unknown}")
        if name == "links":
            check_evidence_store(r, cname, env, settings, min_replicas)
        shutdown = int(settings.get("DOXWATCH_SHUTDOWN_GRACE_MS", 20000))
        grace = spec.get("terminationGracePeriodSeconds", 30)
        r.check(grace * 1000 > shutdown, f"{name}: terminationGracePeriodSeconds ({grace}s) exceeds the shutdown grace ({shutdown} ms)")

    services = [s for s in by_kind(docs, "Service") if s["spec"].get("selector")
                and selects({"matchLabels": s["spec"]["selector"]}, labels)]
    r.check(len(services) == 1, f"{name}: one Service selects its pods", f"{[s['metadata']['name'] for s in services]}")
    if services:
        svc = services[0]
        sp = [p for p in svc["spec"].get("ports", []) if p.get("port") == port]
        r.check(svc["metadata"]["name"] == name and sp and sp[0].get("targetPort") in ("grpc", port),
                f"{name}: Service {name}:{port} -> the grpc port")
        r.check(not sp or sp[0].get("appProtocol") not in ("kubernetes.io/h2c", "http", "grpc"),
                f"{name}: the Service's port is not declared plaintext", f"appProtocol {sp and sp[0].get('appProtocol')}")
    tls_secret = find(docs, "Secret", f"{name}-tls")
    if tls_secret is not None:  # a Secret in the manifests (cert-manager makes it at run time)
        r.check(tls_secret.get("type") == "kubernetes.io/tls", f"{name}: Secret {name}-tls is kubernetes.io/tls")
    cert = next((d for d in by_kind(docs, "Certificate") if d["spec"].get("secretName") == f"{name}-tls"), None)
    if expect_certificates:
        r.check(cert is not None, f"{name}: a cert-manager Certificate fills the Secret {name}-tls")
    if cert is not None:
        check_certificate(r, name, cert)
    pdbs = [p for p in by_kind(docs, "PodDisruptionBudget") if selects(p["spec"].get("selector"), labels)]
    r.check(len(pdbs) == 1, f"{name}: a PodDisruptionBudget covers its pods")
    if pdbs:
        pdb = pdbs[0]["spec"]
        allows_eviction = ("maxUnavailable" in pdb and pdb["maxUnavailable"] not in (0, "0%")) or \
            ("minAvailable" in pdb and isinstance(pdb["minAvailable"], int) and pdb["minAvailable"] < replicas)
        r.check(allows_eviction, f"{name}: its PodDisruptionBudget still lets a node drain", f"{pdb}")


SECRET_MODE = 0o400
TLS_FILES = {"DOXWATCH_TLS_CA_FILE": "ca.crt", "DOXWATCH_TLS_CERT_FILE": "tls.crt", "DOXWATCH_TLS_KEY_FILE": "tls.key"}


def resolve(spec, container, path):
    """The volume and key a file path in the container comes from: (volume, key), or (None, why)."""
    if not isinstance(path, str) or not path.startswith("/"):
        return None, f"{path!r} is not an absolute path"
    mounts = sorted(container.get("volumeMounts", []), key=lambda m: -len(m["mountPath"]))
    for m in mounts:
        root = m["mountPath"].rstrip("/")
        if path.startswith(root + "/"):
            rel = path[len(root) + 1:]
            if m.get("subPath"):
                return None, f"{path} is under a subPath mount (not updated when the Secret is)"
            if m.get("readOnly") is not True:
                return None, f"{root} is not mounted read-only"
            vol = next((v for v in spec.get("volumes", []) if v["name"] == m["name"]), None)
            if vol is None:
                return None, f"no volume {m['name']}"
            source = vol.get("secret") or vol.get("configMap") or {}
            items = source.get("items")
            if items is not None:
                item = next((i for i in items if i["path"] == rel), None)
                return (vol, item["key"]) if item else (None, f"{rel} is not among the items of volume {vol['name']}")
            return vol, rel
    return None, f"{path} is on no volume"


def check_tls(r, cname, name, spec, c, settings):
    """TLS files from the service's kubernetes.io/tls Secret, the key set, the database config file,
    the audit signing and encryption keys from their own Secrets."""
    for var, key in TLS_FILES.items():
        vol, got = resolve(spec, c, settings.get(var))
        ok = vol is not None and (vol.get("secret") or {}).get("secretName") == f"{name}-tls" and got == key
        r.check(ok, f"{cname}: {var} is {key} of the Secret {name}-tls", f"{settings.get(var)}: {got}")
    jwks = settings.get("DOXWATCH_TOKEN_JWKS")
    if isinstance(jwks, str) and jwks.startswith("https://"):
        r.check(True, f"{cname}: DOXWATCH_TOKEN_JWKS is an https:// key set URL")
    else:
        vol, got = resolve(spec, c, jwks)
        r.check(vol is not None and ("configMap" in vol or "secret" in vol),
                f"{cname}: DOXWATCH_TOKEN_JWKS is a file of a mounted ConfigMap or Secret", f"{jwks}: {got}")
    config = settings.get("DOXWATCH_CONFIG")
    vol, got = resolve(spec, c, config)
    r.check(vol is not None and (vol.get("secret") or {}).get("secretName") == f"{name}-database"
            and str(got).endswith(".toml"),
            f"{cname}: DOXWATCH_CONFIG is a TOML file of the Secret {name}-database", f"{config}: {got}")
    r.check("DOXWATCH_DATABASE_URL" not in settings, f"{cname}: the database URL is in no environment variable")
    audit = settings.get("DOXWATCH_AUDIT_KEY_FILE")
    vol, got = resolve(spec, c, audit)
    r.check(vol is not None and (vol.get("secret") or {}).get("secretName") == f"{name}-audit" and got == "audit.key",
            f"{cname}: DOXWATCH_AUDIT_KEY_FILE is audit.key of the Secret {name}-audit", f"{audit}: {got}")
    kek = settings.get("DOXWATCH_ENCRYPTION_KEY_FILE")
    vol, got = resolve(spec, c, kek)
    r.check(vol is not None and (vol.get("secret") or {}).get("secretName") == f"{name}-encryption"
            and got == "encryption.key",
            f"{cname}: DOXWATCH_ENCRYPTION_KEY_FILE is encryption.key of the Secret {name}-encryption", f"{kek}: {got}")
    r.check("DOXWATCH_ENCRYPTION_KEY" not in settings, f"{cname}: the encryption key is in no environment variable")
    for v in spec.get("volumes", []):
        if "secret" in v:
            sec = v["secret"]
            modes = [sec.get("defaultMode")] + [i["mode"] for i in sec.get("items") or [] if "mode" in i]
            r.check(all(m == SECRET_MODE for m in modes), f"{cname}: Secret volume {v['name']} is mode 0400",
                    f"modes {[oct(m) if isinstance(m, int) else m for m in modes]}")
    psc = spec.get("securityContext", {})
    r.check(psc.get("fsGroup") is not None and psc.get("fsGroup") == psc.get("runAsGroup", psc.get("fsGroup")),
            f"{cname}: fsGroup set, so that the service's user can read its 0400 Secret files", f"{psc}")


def check_certificate(r, name, cert):
    """A cert-manager Certificate for the service: what doxwatch needs of its certificate."""
    spec = cert["spec"]
    r.check(len([u for u in spec.get("uris") or [] if u.startswith("spiffe://")]) == 1,
            f"{name}: Certificate has exactly one spiffe:// URI")
    r.check(f"spiffe://doxwatch/service/{name}" in (spec.get("uris") or []),
            f"{name}: Certificate carries the URI SAN spiffe://doxwatch/service/{name}")
    r.check({name, "localhost"} <= set(spec.get("dnsNames") or []), f"{name}: Certificate valid for {name} and localhost")
    r.check({"server auth", "client auth"} <= set(spec.get("usages") or []), f"{name}: Certificate for server and client auth")
    r.check((spec.get("issuerRef") or {}).get("name"), f"{name}: Certificate names its issuer")


def endpoint_for(name, docs):
    """A pod of the service: the Deployment's if it exists, else a made-up one labelled the same way."""
    dep = find(docs, "Deployment", name)
    if dep is not None:
        labels = dict(dep["spec"]["template"]["metadata"].get("labels", {}))
        ports = {p.get("name"): p["containerPort"] for c in dep["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])}
        ns = dep["metadata"].get("namespace", NAMESPACE)
    else:
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": SERVICE_COMPONENT,
                  "app.kubernetes.io/part-of": "doxwatch"}
        ports = {"grpc": PORTS[name]}
        ns = None
    return Endpoint(name, labels, ns or NAMESPACE, ports=ports), dep is not None


def check_network(r, docs):
    policies = by_kind(docs, "NetworkPolicy")
    namespaces = {p["metadata"].get("namespace", NAMESPACE) for p in policies} or {NAMESPACE}
    r.check(len(namespaces) == 1, "all NetworkPolicies in one namespace", f"{namespaces}")
    ns = namespaces.pop()
    for p in policies:
        p["metadata"].setdefault("namespace", NAMESPACE)
    net = Network(policies)

    deny = [p for p in policies if p["spec"].get("podSelector") in ({}, None)
            and {"Ingress", "Egress"} <= policy_types(p)
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    r.check(bool(deny), "a default-deny NetworkPolicy (all pods, ingress and egress, no rule)")

    eps = {}
    present = {}
    for s in PORTS:
        ep, is_present = endpoint_for(s, docs)
        ep.namespace = ns
        ep.ns_labels["kubernetes.io/metadata.name"] = ns
        eps[s], present[s] = ep, is_present
    stranger = Endpoint("an unlabelled pod in the namespace", {"app": "other"}, ns)
    outsider = Endpoint("a pod in another namespace", {"app": "other"}, "elsewhere")
    client_pod = Endpoint("a client pod in the namespace", dict(CLIENT_LABEL), ns)
    client_ns = Endpoint("a pod in a client namespace", {"app": "gateway"}, "gateway", ns_labels=dict(CLIENT_LABEL))
    dns = Endpoint("kube-dns", {"k8s-app": "kube-dns"}, "kube-system", ports={"dns": 53})
    collector = Endpoint("otel-collector", {"app.kubernetes.io/name": "otel-collector",
                                             "app.kubernetes.io/component": "telemetry"}, ns,
                         ports={"otlp-grpc": 4317})
    internet = Endpoint("an address on the internet", ip="203.0.113.250")

    for s, ep in eps.items():
        if not present[s]:
            continue
        port = PORTS[s]
        # Clients in, strangers out.
        for c in (client_pod, client_ns):
            r.check(net.allowed(c, ep, port), f"{c.name} -> {s}:{port} allowed")
        for c in (stranger, outsider):
            r.check(not net.allowed(c, ep, port), f"{c.name} -> {s}:{port} denied")
        r.check(not net.allowed(client_pod, ep, port + 1000), f"a client pod -> {s} on another port denied")
        # The design's calls, both halves where the peer is deployed, else the present side's half.
        for other, oep in eps.items():
            if other == s:
                continue
            wanted_out = other in CALLS[s]
            got = net.allowed(ep, oep, PORTS[other]) if present[other] else net.egress_allowed(ep, oep, PORTS[other])
            r.check(got == wanted_out, f"{s} -> {other}:{PORTS[other]} {'allowed' if wanted_out else 'denied'}"
                    + ("" if present[other] else f" by {s}'s egress ({other} not deployed)"))
            wanted_in = s in CALLS[other]
            got = net.allowed(oep, ep, port) if present[other] else net.ingress_allowed(oep, ep, port)
            r.check(got == wanted_in, f"{other} -> {s}:{port} {'allowed' if wanted_in else 'denied'}"
                    + ("" if present[other] else f" by {s}'s ingress ({other} not deployed)"))
        # Infrastructure.
        r.check(net.egress_allowed(ep, dns, 53, "UDP") and net.egress_allowed(ep, dns, 53, "TCP"),
                f"{s} -> kube-dns:53 (UDP and TCP) allowed")
        r.check(not net.egress_allowed(ep, dns, 80), f"{s} -> kube-dns:80 denied")
        r.check(net.egress_allowed(ep, collector, 4317), f"{s} -> otel-collector:4317 allowed by {s}'s egress")
        cidrs = [peer["ipBlock"]["cidr"] for p in policies if selects(p["spec"].get("podSelector"), ep.labels)
                 and "Egress" in policy_types(p) for rule in p["spec"].get("egress") or []
                 if port_matches(rule.get("ports"), 5432, "TCP", {}) and rule.get("ports")
                 for peer in rule.get("to") or [] if "ipBlock" in peer]
        r.check(bool(cidrs), f"{s} -> its PostgreSQL (an ipBlock on TCP 5432)", "no such rule")
        for cidr in cidrs:
            net_ = ipaddress.ip_network(cidr)
            db = Endpoint(f"PostgreSQL at {cidr}", ip=str(next(iter(net_.hosts()), net_.network_address)))
            r.check(net.egress_allowed(ep, db, 5432), f"{s} -> {db.name}:5432 allowed")
            r.check(not net.egress_allowed(ep, db, 22), f"{s} -> {db.name}:22 denied")
            r.check(net_.num_addresses <= 256, f"{s}: PostgreSQL's ipBlock {cidr} is narrow (/24 or smaller)")
        r.check(not net.egress_allowed(ep, internet, 443), f"{s} -> the internet:443 denied")
        r.check(not net.egress_allowed(ep, stranger, 8080), f"{s} -> an unlabelled pod denied")

    dep = find(docs, "Deployment", "otel-collector")
    if dep is not None:
        cep = Endpoint("otel-collector", dep["spec"]["template"]["metadata"]["labels"], ns,
                       ports={p.get("name"): p["containerPort"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]})
        for s, ep in eps.items():
            if present[s]:
                r.check(net.allowed(ep, cep, 4317), f"{s} -> otel-collector:4317 allowed (both sides)")
        r.check(not net.allowed(stranger, cep, 4317), "an unlabelled pod -> otel-collector:4317 denied")
        r.check(not net.egress_allowed(cep, internet, 443), "otel-collector -> the internet denied")


def check_collector(r, docs, expect_collector, rendered, expect_certificates=False):
    dep = find(docs, "Deployment", "otel-collector")
    if not expect_collector:
        r.check(dep is None, "no collector Deployment (the otel-collector component is not included)")
        return
    r.check(dep is not None, "the otel-collector component's Deployment is present")
    if dep is None:
        return
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    r.check(spec.get("securityContext", {}).get("runAsNonRoot") is True, "otel-collector: runAsNonRoot")
    csc = c.get("securityContext", {})
    r.check(csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False
            and "ALL" in (csc.get("capabilities") or {}).get("drop", []), "otel-collector: restricted container")
    r.check(bool(c.get("readinessProbe")) and bool(c.get("livenessProbe")), "otel-collector: probes")
    r.check(all(k in (c.get("resources", {}).get(x) or {}) for x in ("requests", "limits") for k in ("cpu", "memory")),
            "otel-collector: requests and limits")
    svc = find(docs, "Service", "otel-collector")
    r.check(svc is not None and any(p.get("port") == 4317 for p in svc["spec"]["ports"]), "otel-collector: Service on 4317")
    vols = [v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v]
    cms = [find(docs, "ConfigMap", v) for v in vols]
    r.check(vols and all(cms), "otel-collector: its config ConfigMap exists", f"{vols}")
    if vols and all(cms):
        conf = yaml.safe_load(next(iter(cms[0]["data"].values())))
        grpc = conf["receivers"]["otlp"]["protocols"]["grpc"]
        r.check(grpc["endpoint"].endswith(":4317"), "otel-collector: OTLP/gRPC receiver on 4317")
        tls = grpc.get("tls") or {}
        r.check(all(tls.get(k) for k in ("cert_file", "key_file", "client_ca_file")) and tls.get("min_version") == "1.3",
                "otel-collector: the receiver speaks TLS 1.3 and requires client certificates", f"{tls}")
        mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
        secrets = {v["name"]: v["secret"] for v in spec.get("volumes", []) if "secret" in v}
        tls_volume = next((n for n, sec in secrets.items() if sec.get("secretName") == "otel-collector-tls"), None)
        r.check(tls_volume in mounts and all(str(tls.get(k, "")).startswith(mounts.get(tls_volume, "?") + "/")
                                             for k in ("cert_file", "key_file", "client_ca_file")),
                "otel-collector: its TLS files come from the Secret otel-collector-tls", f"{mounts} {secrets}")
        r.check(tls_volume is not None and secrets[tls_volume].get("defaultMode") == 0o400,
                "otel-collector: its key is mounted 0400")
    if expect_certificates:
        cert = next((d for d in by_kind(docs, "Certificate") if d["spec"].get("secretName") == "otel-collector-tls"), None)
        r.check(cert is not None, "otel-collector: a cert-manager Certificate fills otel-collector-tls")
        if cert is not None:
            cs = cert["spec"]
            r.check("otel-collector" in (cs.get("dnsNames") or []) and not cs.get("uris")
                    and "server auth" in (cs.get("usages") or []) and "client auth" not in (cs.get("usages") or []),
                    "otel-collector: its Certificate is for the name otel-collector, server auth only, no doxwatch identity")
        pipelines = conf["service"]["pipelines"]
        r.check("traces" in pipelines and "metrics" in pipelines, "otel-collector: traces and metrics pipelines")
    for d in by_kind(docs, "Deployment"):
        if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") != SERVICE_COMPONENT:
            continue
        settings = {}
        for c in d["spec"]["template"]["spec"]["containers"]:
            for source in c.get("envFrom", []):
                cm = find(docs, "ConfigMap", (source.get("configMapRef") or {}).get("name"))
                if cm:
                    settings.update(cm.get("data", {}))
        r.check(settings.get("DOXWATCH_OTLP_ENDPOINT") == "https://otel-collector:4317",
                f"{d['metadata']['name']}: DOXWATCH_OTLP_ENDPOINT is the collector", f"{settings.get('DOXWATCH_OTLP_ENDPOINT')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rendered", nargs="?", help="output of kubectl kustomize")
    ap.add_argument("--sources", metavar="DIR", help="read this kustomization directly instead")
    ap.add_argument("--label", default=None, help="the name printed in the summary line")
    ap.add_argument("--min-replicas", type=int, default=1)
    ap.add_argument("--expect-collector", action="store_true")
    ap.add_argument("--expect-namespace", default=None)
    ap.add_argument("--expect-certificates", action="store_true",
                    help="every service's TLS Secret is filled by a cert-manager Certificate (components/cert-manager)")
    ap.add_argument("--dump", metavar="FILE", help="also write the objects read (e.g. for schema validation)")
    args = ap.parse_args()
    if bool(args.rendered) == bool(args.sources):
        ap.error("give a rendered file or --sources DIR")
    rendered = args.rendered is not None
    docs = load_rendered(args.rendered) if rendered else load_kustomization(args.sources)
    label = args.label or (args.rendered or args.sources)
    if args.dump:
        with open(args.dump, "w") as f:
            yaml.safe_dump_all(docs, f, sort_keys=False)
    r = Report(label)
    print(f"{label}: {len(docs)} objects")

    deployments = [d for d in by_kind(docs, "Deployment")
                   if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == SERVICE_COMPONENT]
    r.check(bool(deployments), "at least one doxwatch service (Deployment labelled component=grpc-service)")
    names = [d["metadata"]["name"] for d in deployments]
    r.check(len(set(names)) == len(names), "service names are unique")
    if args.expect_namespace:
        wrong = [f"{d['kind']}/{d['metadata']['name']}" for d in docs
                 if d["kind"] != "Namespace" and d["metadata"].get("namespace") != args.expect_namespace]
        r.check(not wrong, f"everything is in namespace {args.expect_namespace}", f"{wrong[:5]}")
        r.check(find(docs, "Namespace", args.expect_namespace) is not None, f"Namespace {args.expect_namespace} is defined")
    for dep in deployments:
        check_service(r, docs, dep, rendered, args.min_replicas, args.expect_certificates)
    for sa in by_kind(docs, "ServiceAccount"):
        r.check(sa.get("automountServiceAccountToken") is False, f"ServiceAccount {sa['metadata']['name']}: no token automount")
    check_network(r, docs)
    check_collector(r, docs, args.expect_collector, rendered, args.expect_certificates)
    print(f"{label}: {r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
