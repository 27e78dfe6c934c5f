"""A tiny OTLP/gRPC receiver: the OpenTelemetry collector's role in offline test stacks.

It accepts every OTLP Export call (traces, metrics, logs) on 0.0.0.0:4317 and answers with an empty
response (a successful export). Each request is summarised in one JSON line: the signal, the
resources' service.name, how many spans / metrics / log records and their names. The lines go to
stdout (`docker-compose logs otel-collector`) and are appended to $OTLP_RECEIVER_OUTPUT
(default /var/lib/otelcol/telemetry.jsonl). It needs only grpcio (Debian's python3-grpcio): requests
are decoded with a minimal protobuf wire-format reader, not generated code.

With $OTLP_RECEIVER_TLS_CERT, $OTLP_RECEIVER_TLS_KEY and $OTLP_RECEIVER_TLS_CLIENT_CA set (PEM
files), it listens with TLS and requires a client certificate of that CA, as the collector does in
deploy/compose/otel-collector.yaml; each summary then names the client certificate's subject
alternative names. Without them it listens in plaintext.

Arguments are ignored, so the collector's `--config ...` command line can be passed unchanged.
"""

import json
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

LISTEN = os.environ.get("OTLP_RECEIVER_LISTEN", "0.0.0.0:4317")
TLS_FILES = [os.environ.get(k, "") for k in
             ("OTLP_RECEIVER_TLS_KEY", "OTLP_RECEIVER_TLS_CERT", "OTLP_RECEIVER_TLS_CLIENT_CA")]
OUTPUT = os.environ.get("OTLP_RECEIVER_OUTPUT", "/var/lib/otelcol/telemetry.jsonl")

# Export request -> (field of the resource entries, field of the scope entries, field of the items
# in a scope entry, field of an item's name). Field numbers are those of opentelemetry-proto v1.
SIGNALS = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export": ("traces", 2, 2, 5),
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": ("metrics", 2, 2, 1),
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export": ("logs", 2, 2, None),
}


def fields(buf):
    """Yields (field number, wire type, value) of a protobuf message; value is bytes for
    length-delimited fields and an int otherwise."""
    i, n = 0, len(buf)

    def varint():
        nonlocal i
        shift = result = 0
        while True:
            b = buf[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < n:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 1:
            yield number, wire, int.from_bytes(buf[i:i + 8], "little")
            i += 8
        elif wire == 2:
            length = varint()
            yield number, wire, buf[i:i + length]
            i += length
        elif wire == 5:
            yield number, wire, int.from_bytes(buf[i:i + 4], "little")
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def submessages(buf, number):
    return [v for f, w, v in fields(buf) if f == number and w == 2]


def service_name(resource):
    # Resource { repeated KeyValue attributes = 1 }, KeyValue { key = 1; AnyValue value = 2 },
    # AnyValue { string string_value = 1 }
    for kv in submessages(resource, 1):
        key = b"".join(submessages(kv, 1))
        if key == b"service.name":
            for value in submessages(kv, 2):
                for s in submessages(value, 1):
                    return s.decode("utf-8", "replace")
    return None


def summarise(method, body):
    signal_name, scope_field, item_field, name_field = SIGNALS[method]
    services, names, count = set(), [], 0
    for resource_entry in submessages(body, 1):
        for resource in submessages(resource_entry, 1):
            name = service_name(resource)
            if name:
                services.add(name)
        for scope in submessages(resource_entry, scope_field):
            for item in submessages(scope, item_field):
                count += 1
                if name_field is not None:
                    for n in submessages(item, name_field):
                        text = n.decode("utf-8", "replace")
                        if text not in names:
                            names.append(text)
    return {
        "signal": signal_name,
        "services": sorted(services),
        "items": count,
        "names": names[:50],
    }


class Receiver(grpc.GenericRpcHandler):
    def __init__(self, out):
        self.out = out
        self.lock = threading.Lock()

    def service(self, handler_call_details):
        method = handler_call_details.method
        if method not in SIGNALS:
            return None  # UNIMPLEMENTED, as a collector without that receiver would answer

        def export(request, context):
            record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "method": method,
                      "bytes": len(request)}
            auth = context.auth_context()
            record["transport"] = "tls" if auth.get("transport_security_type") == [b"ssl"] else "plaintext"
            # The client certificate's names: gRPC lists its SANs (and URI SANs apart, in newer
            # versions) as peer properties.
            names = {n.decode("utf-8", "replace") for k, v in auth.items()
                     if "subject_alternative_name" in k or k.startswith("x509_uri") for n in v}
            if names:
                record["client"] = sorted(names)
            try:
                record.update(summarise(method, request))
            except (ValueError, IndexError) as e:
                record["decode_error"] = str(e)
            line = json.dumps(record, sort_keys=True)
            with self.lock:
                print(line, flush=True)
                if self.out is not None:
                    self.out.write(line + "\n")
                    self.out.flush()
            return b""  # an empty Export*ServiceResponse: everything accepted

        # No (de)serializers: the handler sees and returns raw bytes.
        return grpc.unary_unary_rpc_method_handler(export)


def main():
    out = None
    try:
        os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
        out = open(OUTPUT, "a", encoding="utf-8")
    except OSError as e:
        print(f"otlp-receiver: not writing {OUTPUT}: {e}", file=sys.stderr, flush=True)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    server.add_generic_rpc_handlers((Receiver(out),))
    if all(TLS_FILES):
        key, cert, client_ca = (open(f, "rb").read() for f in TLS_FILES)
        credentials = grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca,
                                                  require_client_auth=True)
        port, transport = server.add_secure_port(LISTEN, credentials), "TLS, client certificates required"
    elif any(TLS_FILES):
        sys.exit("otlp-receiver: set all of OTLP_RECEIVER_TLS_KEY, _CERT and _CLIENT_CA, or none")
    else:
        port, transport = server.add_insecure_port(LISTEN), "plaintext"
    if port == 0:
        sys.exit(f"otlp-receiver: cannot listen on {LISTEN}")
    server.start()
    print(f"otlp-receiver: listening on {LISTEN} (OTLP/gRPC, {transport}), writing {OUTPUT}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=2).wait()


if __name__ == "__main__":
    main()
