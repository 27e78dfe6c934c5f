"""Another agency's system, written with Python's grpcio, using the intake service.

Everything here goes over the wire as such a system would: stubs generated from the published
contract (proto/doxwatch/intake/v1/intake.proto, proto/doxwatch/ops/v1/identity.proto), the
standard health and reflection services, and `google.rpc` error details decoded from the trailing
metadata. Every call is made over TLS with a client certificate of the suite's CA; an officer's
calls also carry the officer's token (`authorization: Bearer <token>`), bound to that certificate.

Needs, all provided by tests/interop/run.sh (which also starts the service on a fresh store):
  DOXWATCH_INTAKE_ADDR       host:port of `doxwatch serve intake`
  DOXWATCH_INTEROP_OFFICER   profile directory (`doxwatch officer add`: ca.pem, client.pem,
                             client.key, token) of OFFICER, roles OFFICER_ROLES, team TEAM
  DOXWATCH_INTEROP_READER    profile directory of READER, a report_reader of team TEAM
and the generated stubs on PYTHONPATH.
"""

import base64
import datetime
import json
import os
import unittest
import uuid

import grpc
from google.protobuf import descriptor_pb2, timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from doxwatch.intake.v1 import intake_pb2 as pb
from doxwatch.intake.v1 import intake_pb2_grpc as pb_grpc
from doxwatch.ops.v1 import identity_pb2, identity_pb2_grpc

ADDR = os.environ.get("DOXWATCH_INTAKE_ADDR", "")
SERVICE = "doxwatch.intake.v1.IntakeService"
DOMAIN = "doxwatch"  # the ErrorInfo domain of every doxwatch error
TIMEOUT = 10  # seconds, per call

# The officers whose profiles tests/interop/run.sh issues (`doxwatch officer add`).
OFFICER = "interop.officer"
OFFICER_ROLES = ["intake_officer", "supervisor"]
READER = "interop.reader"
TEAM = "interop"


class Profile:
    """An officer's profile directory as `doxwatch officer add` writes it."""

    def __init__(self, directory):
        def read(name):
            with open(os.path.join(directory, name), "rb") as f:
                return f.read()

        self.ca = read("ca.pem")
        self.certificate = read("client.pem")
        self.key = read("client.key")
        self.token = read("token").decode("ascii").strip()

    def tls(self, client_certificate=True):
        """TLS trusting the suite's CA, presenting the profile's certificate unless told not to."""
        if not client_certificate:
            return grpc.ssl_channel_credentials(root_certificates=self.ca)
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.certificate
        )

    def channel(self, token=True, client_certificate=True, options=()):
        """A channel to intake over TLS. `token`: True sends the profile's token with every call,
        a string sends that string as the bearer token instead, None sends none."""
        credentials = self.tls(client_certificate)
        if token is not None:
            bearer = self.token if token is True else token
            credentials = grpc.composite_channel_credentials(
                credentials, grpc.access_token_call_credentials(bearer), grpc.metadata_call_credentials(state_purpose)
            )
        return grpc.secure_channel(ADDR, credentials, options=options)


PURPOSE = "interoperability test"


def state_purpose(context, callback):
    """States why the officer reads personal data, as the audit log requires of every such read."""
    callback((("x-doxwatch-purpose", PURPOSE),), None)


def profile(variable):
    directory = os.environ.get(variable, "")
    if not directory:
        raise unittest.SkipTest(f"{variable} is not set; run tests/interop/run.sh")
    return Profile(directory)


def token_claims(token):
    """The claims of a JWT, read without verifying it (the server does that)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def timestamp(moment):
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(moment)
    return ts


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def a_case(summary="Home address of an officer posted on a forum", **overrides):
    """A complaint as an agency would submit it."""
    fields = dict(
        kind=pb.CASE_KIND_COMPLAINT,
        received_at=timestamp(utcnow() - datetime.timedelta(days=1)),
        channel=pb.INTAKE_CHANNEL_AGENCY,
        summary=summary,
        reported_urls=["https://forum.example.com/t/12345"],
        data_subjects=[
            pb.DataSubject(
                display_name="Officer A",
                category=pb.DATA_SUBJECT_CATEGORY_POLICE_OFFICER,
                hong_kong_nexus=pb.HONG_KONG_NEXUS_RESIDENT,
            )
        ],
    )
    fields.update(overrides)
    return pb.Case(**fields)


def status_details(err):
    """The `google.rpc.Status` a call failed with, from its `grpc-status-details-bin` trailer."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status()
            status.ParseFromString(value)
            return status
    raise AssertionError(f"no grpc-status-details-bin trailer on {err.code()}: {err.details()}")


def error_info(err):
    """The `google.rpc.ErrorInfo` a call failed with; fails the test if there is none."""
    info = detail(status_details(err), error_details_pb2.ErrorInfo)
    if info is None:
        raise AssertionError(f"no google.rpc.ErrorInfo detail on {err.code()}: {err.details()}")
    return info


def detail(status, message_type):
    """The first detail of `message_type` in a `google.rpc.Status`, or None."""
    for any_detail in status.details:
        if any_detail.Is(message_type.DESCRIPTOR):
            message = message_type()
            any_detail.Unpack(message)
            return message
    return None


class Interop(unittest.TestCase):
    """An officer's mutual-TLS channel with their token on every call, and helpers."""

    @classmethod
    def setUpClass(cls):
        if not ADDR:
            raise unittest.SkipTest("DOXWATCH_INTAKE_ADDR is not set; run tests/interop/run.sh")
        cls.officer = profile("DOXWATCH_INTEROP_OFFICER")
        cls.channel = cls.officer.channel()
        grpc.channel_ready_future(cls.channel).result(timeout=TIMEOUT)
        cls.intake = pb_grpc.IntakeServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def create(self, case=None, request_id=""):
        return self.intake.CreateCase(
            pb.CreateCaseRequest(case=case or a_case(), request_id=request_id), timeout=TIMEOUT
        )

    def transition(self, name, to_status, **fields):
        return self.intake.TransitionCase(
            pb.TransitionCaseRequest(name=name, to_status=to_status, **fields), timeout=TIMEOUT
        )

    def assert_fails(self, code, call, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as raised:
            call(*args, timeout=TIMEOUT, **kwargs)
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        return raised.exception

    def assert_refused(self, code, reason, call, *args, **kwargs):
        """The call fails with `code` and an ErrorInfo of `reason` in the doxwatch domain."""
        err = self.assert_fails(code, call, *args, **kwargs)
        status = status_details(err)
        self.assertEqual(status.code, code.value[0])
        info = error_info(err)
        self.assertEqual((info.reason, info.domain), (reason, DOMAIN), err.details())
        return err

    def assert_unreachable(self, call, *args, **kwargs):
        """The call fails before reaching the service: the connection itself is refused."""
        return self.assert_fails(grpc.StatusCode.UNAVAILABLE, call, *args, **kwargs)

    def all_cases(self, **filters):
        """Every case, following next_page_token to the end."""
        cases, token = [], ""
        while True:
            page = self.intake.ListCases(
                pb.ListCasesRequest(page_size=500, page_token=token, **filters), timeout=TIMEOUT
            )
            cases.extend(page.cases)
            token = page.next_page_token
            if not token:
                return cases

    def all_case_names(self, **filters):
        """Every case's name, following next_page_token to the end."""
        return [c.name for c in self.all_cases(**filters)]


class IntakeInterop(Interop):
    """The intake contract, used by an officer over mutual TLS with their token."""

    # -- health and reflection ---------------------------------------------------------------

    def test_health_serving(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        for service in ("", SERVICE):
            with self.subTest(service=service):
                reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
                self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING)

    def test_reflection_lists_services_and_serves_the_contract(self):
        reflection = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        requests = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE),
        ]
        listed, files = list(reflection.ServerReflectionInfo(iter(requests), timeout=TIMEOUT))

        self.assertFalse(listed.HasField("error_response"), listed.error_response.error_message)
        services = {s.name for s in listed.list_services_response.service}
        self.assertIn(SERVICE, services)
        self.assertIn("grpc.health.v1.Health", services)

        self.assertFalse(files.HasField("error_response"), files.error_response.error_message)
        protos = files.file_descriptor_response.file_descriptor_proto
        self.assertGreaterEqual(len(protos), 1)
        descriptors = []
        for raw in protos:
            fd = descriptor_pb2.FileDescriptorProto()
            fd.ParseFromString(raw)
            descriptors.append(fd)
        intake_file = next(fd for fd in descriptors if fd.name == "doxwatch/intake/v1/intake.proto")
        self.assertEqual(intake_file.package, "doxwatch.intake.v1")
        [service] = [s for s in intake_file.service if s.name == "IntakeService"]
        # The server describes the same methods as the contract the stubs were generated from.
        published = [m.name for m in pb.DESCRIPTOR.services_by_name["IntakeService"].methods]
        self.assertEqual([m.name for m in service.method], published)

    # -- cases -------------------------------------------------------------------------------

    def test_create_and_get_case(self):
        received_at = timestamp(utcnow() - datetime.timedelta(hours=3))
        case = self.create(a_case(received_at=received_at))

        self.assertTrue(case.name.startswith("cases/"), case.name)
        uuid.UUID(case.name.removeprefix("cases/"))
        self.assertEqual(case.status, pb.CASE_STATUS_RECEIVED)
        self.assertEqual(case.created_by, OFFICER)
        self.assertEqual(case.kind, pb.CASE_KIND_COMPLAINT)
        self.assertEqual(case.channel, pb.INTAKE_CHANNEL_AGENCY)
        self.assertEqual(case.received_at, received_at)
        self.assertEqual(list(case.reported_urls), ["https://forum.example.com/t/12345"])
        self.assertEqual(len(case.data_subjects), 1)
        self.assertEqual(case.data_subjects[0].category, pb.DATA_SUBJECT_CATEGORY_POLICE_OFFICER)
        self.assertEqual(case.data_subjects[0].hong_kong_nexus, pb.HONG_KONG_NEXUS_RESIDENT)
        self.assertTrue(case.HasField("create_time"))

        got = self.intake.GetCase(pb.GetCaseRequest(name=case.name), timeout=TIMEOUT)
        # The earlier cases of the same person come with the answer to recording it, not with reads.
        self.assertEqual(list(got.same_subject_cases), [])
        for earlier in case.same_subject_cases:
            self.assertTrue(earlier.startswith("cases/") and earlier != case.name, earlier)
        case.ClearField("same_subject_cases")
        self.assertEqual(got, case)

    def test_get_unknown_case_is_not_found(self):
        self.assert_fails(
            grpc.StatusCode.NOT_FOUND,
            self.intake.GetCase,
            pb.GetCaseRequest(name="cases/01900000-0000-7000-8000-000000000000"),
        )

    def test_list_cases_paginated_in_creation_order(self):
        # Five agency referrals received within one second a day ago, each received earlier than
        # the one recorded before it: the list must follow recording order, not business time.
        start = utcnow().replace(microsecond=0) - datetime.timedelta(days=1)
        created = [
            self.create(
                a_case(
                    summary=f"Referral {i}",
                    kind=pb.CASE_KIND_AGENCY_REFERRAL,
                    received_at=timestamp(start + datetime.timedelta(milliseconds=100 * (4 - i))),
                )
            ).name
            for i in range(5)
        ]
        filters = dict(
            kind=pb.CASE_KIND_AGENCY_REFERRAL,
            received_after=timestamp(start),
            received_before=timestamp(start + datetime.timedelta(seconds=1)),
        )

        seen, page_sizes, token = [], [], ""
        while True:
            page = self.intake.ListCases(
                pb.ListCasesRequest(page_size=2, page_token=token, **filters), timeout=TIMEOUT
            )
            page_sizes.append(len(page.cases))
            seen.extend(c.name for c in page.cases)
            token = page.next_page_token
            if not token:
                break
            self.assertLess(len(page_sizes), 10, "next_page_token never ran out")

        self.assertEqual(seen, created)
        self.assertEqual(page_sizes, [2, 2, 1])

    def test_transitions_and_timeline(self):
        case = self.create()

        moved = self.transition(case.name, pb.CASE_STATUS_UNDER_ASSESSMENT, note="assessing")
        self.assertEqual(moved.status, pb.CASE_STATUS_UNDER_ASSESSMENT)
        closed = self.transition(
            case.name, pb.CASE_STATUS_CLOSED, closure_reason=pb.CLOSURE_REASON_WITHDRAWN
        )
        self.assertEqual(closed.status, pb.CASE_STATUS_CLOSED)
        self.assertEqual(closed.closure_reason, pb.CLOSURE_REASON_WITHDRAWN)

        events = self.intake.ListCaseEvents(pb.ListCaseEventsRequest(name=case.name), timeout=TIMEOUT).events
        self.assertEqual(len(events), 3)
        self.assertEqual(
            [(e.kind, e.from_status, e.to_status) for e in events],
            [
                (pb.CASE_EVENT_KIND_CREATED, pb.CASE_STATUS_UNSPECIFIED, pb.CASE_STATUS_RECEIVED),
                (pb.CASE_EVENT_KIND_STATUS_CHANGED, pb.CASE_STATUS_RECEIVED, pb.CASE_STATUS_UNDER_ASSESSMENT),
                (pb.CASE_EVENT_KIND_STATUS_CHANGED, pb.CASE_STATUS_UNDER_ASSESSMENT, pb.CASE_STATUS_CLOSED),
            ],
        )
        self.assertEqual(events[2].closure_reason, pb.CLOSURE_REASON_WITHDRAWN)
        self.assertEqual({e.actor for e in events}, {OFFICER})
        for e in events:
            self.assertTrue(e.name.startswith(case.name + "/events/"), e.name)

        # CLOSED -> ANSWERED is not a move a complaint can make.
        self.assert_fails(
            grpc.StatusCode.FAILED_PRECONDITION,
            self.intake.TransitionCase,
            pb.TransitionCaseRequest(name=case.name, to_status=pb.CASE_STATUS_ANSWERED),
        )
        after = self.intake.GetCase(pb.GetCaseRequest(name=case.name), timeout=TIMEOUT)
        self.assertEqual(after.status, pb.CASE_STATUS_CLOSED)
        events = self.intake.ListCaseEvents(pb.ListCaseEventsRequest(name=case.name), timeout=TIMEOUT).events
        self.assertEqual(len(events), 3)

    def test_invalid_case_names_every_bad_field_and_stores_nothing(self):
        before = self.all_case_names()
        bad = a_case(summary="", reported_urls=["ftp://files.example.com/leak.txt"])

        err = self.assert_fails(
            grpc.StatusCode.INVALID_ARGUMENT,
            self.intake.CreateCase,
            pb.CreateCaseRequest(case=bad),
        )
        status = status_details(err)
        self.assertEqual(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertEqual(status.message, err.details())
        bad_request = detail(status, error_details_pb2.BadRequest)
        self.assertIsNotNone(bad_request, "no google.rpc.BadRequest detail")
        fields = [v.field for v in bad_request.field_violations]
        self.assertIn("case.summary", fields)
        self.assertIn("case.reported_urls[0]", fields)
        for v in bad_request.field_violations:
            self.assertTrue(v.description, f"{v.field} has no description")
        info = detail(status, error_details_pb2.ErrorInfo)
        self.assertIsNotNone(info, "no google.rpc.ErrorInfo detail")
        self.assertEqual(info.reason, "INVALID_ARGUMENT")

        self.assertEqual(self.all_case_names(), before)

    def test_request_id_makes_create_idempotent(self):
        request_id = f"interop-{uuid.uuid4()}"
        case = a_case(summary="Sent twice by a retrying agency system")

        first = self.create(case, request_id=request_id)
        again = self.create(case, request_id=request_id)
        self.assertEqual(again.name, first.name)
        self.assertEqual(self.all_case_names().count(first.name), 1)

        changed = pb.Case()
        changed.CopyFrom(case)
        changed.summary = "A different case under the same request_id"
        err = self.assert_fails(
            grpc.StatusCode.ABORTED,
            self.intake.CreateCase,
            pb.CreateCaseRequest(case=changed, request_id=request_id),
        )
        info = detail(status_details(err), error_details_pb2.ErrorInfo)
        self.assertIsNotNone(info, "no google.rpc.ErrorInfo detail")
        self.assertEqual(info.reason, "REQUEST_ID_REUSED")


class CredentialsInterop(Interop):
    """What intake asks of a caller: TLS with a client certificate of the suite's CA on every
    connection, and for an officer's calls a valid token bound to that certificate and roles that
    allow the RPC. Health and reflection need only the certificate."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reader = profile("DOXWATCH_INTEROP_READER")

    def health_check(self, channel):
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT
        )

    def who_am_i(self, channel):
        return identity_pb2_grpc.IdentityServiceStub(channel).WhoAmI(
            identity_pb2.WhoAmIRequest(), timeout=TIMEOUT
        )

    def assert_nothing_stored(self, summary):
        """No case with this summary was recorded (read with the officer's own credentials)."""
        self.assertNotIn(summary, [c.summary for c in self.all_cases()])

    # -- the connection ----------------------------------------------------------------------

    def test_plaintext_channel_cannot_call(self):
        summary = f"Sent in plaintext {uuid.uuid4()}"
        with grpc.insecure_channel(ADDR) as channel:
            self.assert_unreachable(
                health_pb2_grpc.HealthStub(channel).Check, health_pb2.HealthCheckRequest(service="")
            )
            self.assert_unreachable(
                pb_grpc.IntakeServiceStub(channel).CreateCase,
                pb.CreateCaseRequest(case=a_case(summary=summary)),
                metadata=(("authorization", f"Bearer {self.officer.token}"),),
            )
        self.assert_nothing_stored(summary)

    def test_tls_without_client_certificate_is_refused(self):
        # The server demands a certificate in the handshake; without one there is no connection,
        # not even to the services that are open to any certificate. (grpcio logs the server's
        # `certificate_required` alert to stderr as errors: that is this test working.)
        summary = f"Sent without a client certificate {uuid.uuid4()}"
        with self.officer.channel(client_certificate=False) as channel:
            self.assert_unreachable(
                health_pb2_grpc.HealthStub(channel).Check, health_pb2.HealthCheckRequest(service="")
            )
            self.assert_unreachable(
                pb_grpc.IntakeServiceStub(channel).CreateCase,
                pb.CreateCaseRequest(case=a_case(summary=summary)),
            )
        self.assert_nothing_stored(summary)

    def test_server_certificate_is_checked_against_the_name_called(self):
        # The client checks the server's certificate: intake's is valid for `localhost` and
        # `intake`, not for another service's name.
        serving = health_pb2.HealthCheckResponse.SERVING
        for name, reachable in (("localhost", True), ("intake", True), ("links", False)):
            options = (("grpc.ssl_target_name_override", name),)
            with self.subTest(name=name), self.officer.channel(token=None, options=options) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                if reachable:
                    self.assertEqual(self.health_check(channel).status, serving)
                else:
                    self.assert_unreachable(health.Check, health_pb2.HealthCheckRequest(service=""))

    # -- open to any certificate -------------------------------------------------------------

    def test_health_needs_only_the_client_certificate(self):
        with self.reader.channel(token=None) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", SERVICE):
                with self.subTest(service=service):
                    reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
                    self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING)

    def test_reflection_needs_only_the_client_certificate(self):
        with self.reader.channel(token=None) as channel:
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            [listed] = list(reflection.ServerReflectionInfo(iter([request]), timeout=TIMEOUT))
        self.assertFalse(listed.HasField("error_response"), listed.error_response.error_message)
        self.assertIn(SERVICE, {s.name for s in listed.list_services_response.service})

    def test_who_am_i_is_the_officer_of_the_token(self):
        me = self.who_am_i(self.channel)
        self.assertEqual(me.kind, "officer")
        self.assertEqual(me.identity, f"spiffe://doxwatch/officer/{OFFICER}")
        self.assertEqual(me.officer_id, OFFICER)
        self.assertEqual(sorted(me.roles), sorted(OFFICER_ROLES))
        self.assertEqual(me.team, TEAM)
        self.assertTrue(me.display_name)
        self.assertEqual(me.token_expires.seconds, token_claims(self.officer.token)["exp"])
        self.assertGreater(me.token_expires.ToDatetime(datetime.timezone.utc), utcnow())
        self.assertTrue(me.peer_address.startswith("127.0.0.1:"), me.peer_address)

        with self.reader.channel() as reader:
            me = self.who_am_i(reader)
        self.assertEqual((me.officer_id, list(me.roles), me.team), (READER, ["report_reader"], TEAM))

    def test_who_am_i_without_token_is_the_certificate_alone(self):
        with self.officer.channel(token=None) as channel:
            me = self.who_am_i(channel)
        self.assertEqual(me.kind, "officer")
        self.assertEqual(me.identity, f"spiffe://doxwatch/officer/{OFFICER}")
        self.assertEqual(me.officer_id, "")
        self.assertEqual(list(me.roles), [])
        self.assertFalse(me.HasField("token_expires"))

    # -- the officer's token -----------------------------------------------------------------

    def test_create_without_token_is_token_missing(self):
        summary = f"Sent without a token {uuid.uuid4()}"
        with self.officer.channel(token=None) as channel:
            intake = pb_grpc.IntakeServiceStub(channel)
            # A header naming the officer is not a credential.
            self.assert_refused(
                grpc.StatusCode.UNAUTHENTICATED,
                "TOKEN_MISSING",
                intake.CreateCase,
                pb.CreateCaseRequest(case=a_case(summary=summary)),
                metadata=(("x-doxwatch-officer", OFFICER),),
            )
            self.assert_refused(
                grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING", intake.ListCases, pb.ListCasesRequest()
            )
        self.assert_nothing_stored(summary)

    def test_garbage_token_is_token_invalid(self):
        summary = f"Sent with a garbage token {uuid.uuid4()}"
        for token in ("garbage", self.officer.token[:-8] + "AAAAAAAA"):  # not a JWT; bad signature
            with self.subTest(token=token[:12]), self.officer.channel(token=token) as channel:
                intake = pb_grpc.IntakeServiceStub(channel)
                self.assert_refused(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "TOKEN_INVALID",
                    intake.CreateCase,
                    pb.CreateCaseRequest(case=a_case(summary=summary)),
                )
                self.assert_refused(
                    grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID", intake.ListCases, pb.ListCasesRequest()
                )
        self.assert_nothing_stored(summary)

    def test_token_of_another_certificate_is_token_unbound(self):
        # The reader's valid token, sent over the officer's certificate.
        with self.officer.channel(token=self.reader.token) as channel:
            self.assert_refused(
                grpc.StatusCode.UNAUTHENTICATED,
                "TOKEN_UNBOUND",
                pb_grpc.IntakeServiceStub(channel).GetIntakeStatistics,
                pb.GetIntakeStatisticsRequest(),
            )

    # -- roles -------------------------------------------------------------------------------

    def test_report_reader_reads_figures_only(self):
        case = self.create(a_case(summary="Counted in the figures"))
        with self.reader.channel() as channel:
            intake = pb_grpc.IntakeServiceStub(channel)

            figures = intake.GetIntakeStatistics(pb.GetIntakeStatisticsRequest(), timeout=TIMEOUT)
            self.assertGreaterEqual(figures.total_cases, 1)
            self.assertEqual(sum(k.cases for k in figures.by_kind), figures.total_cases)

            denied = grpc.StatusCode.PERMISSION_DENIED
            self.assert_refused(denied, "PERMISSION_DENIED", intake.ListCases, pb.ListCasesRequest())
            self.assert_refused(
                denied, "PERMISSION_DENIED", intake.GetCase, pb.GetCaseRequest(name=case.name)
            )
            summary = f"Sent by a report reader {uuid.uuid4()}"
            self.assert_refused(
                denied,
                "PERMISSION_DENIED",
                intake.CreateCase,
                pb.CreateCaseRequest(case=a_case(summary=summary)),
            )
        self.assert_nothing_stored(summary)


if __name__ == "__main__":
    unittest.main(verbosity=2)
