"""Another agency's system, written with Python's grpcio, using the intake service.

Everything here goes over the wire as such a system would: stubs generated from the published
contract (proto/doxwatch/intake/v1/intake.proto), the standard health and reflection services,
and `google.rpc` error details decoded from the trailing metadata.

Needs DOXWATCH_INTAKE_ADDR (host:port) and the generated stubs on PYTHONPATH; tests/interop/run.sh
provides both and starts the service on a fresh store.
"""

import datetime
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

ADDR = os.environ.get("DOXWATCH_INTAKE_ADDR", "")
SERVICE = "doxwatch.intake.v1.IntakeService"
OFFICER = "agency-interop"
METADATA = (("x-doxwatch-officer", OFFICER),)
TIMEOUT = 10  # seconds, per call


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


def detail(status, message_type):
    """The first detail of `message_type` in a `google.rpc.Status`, or None."""
    for any_detail in status.details:
        if any_detail.Is(message_type.DESCRIPTOR):
            message = message_type()
            any_detail.Unpack(message)
            return message
    return None


class IntakeInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ADDR:
            raise unittest.SkipTest("DOXWATCH_INTAKE_ADDR is not set; run tests/interop/run.sh")
        cls.channel = grpc.insecure_channel(ADDR)
        grpc.channel_ready_future(cls.channel).result(timeout=TIMEOUT)
        cls.intake = pb_grpc.IntakeServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    # -- helpers -----------------------------------------------------------------------------

    def create(self, case=None, request_id=""):
        return self.intake.CreateCase(
            pb.CreateCaseRequest(case=case or a_case(), request_id=request_id),
            metadata=METADATA,
            timeout=TIMEOUT,
        )

    def transition(self, name, to_status, **fields):
        return self.intake.TransitionCase(
            pb.TransitionCaseRequest(name=name, to_status=to_status, **fields),
            metadata=METADATA,
            timeout=TIMEOUT,
        )

    def assert_fails(self, code, call, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as raised:
            call(*args, timeout=TIMEOUT, **kwargs)
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        return raised.exception

    def all_case_names(self, **filters):
        """Every case's name, following next_page_token to the end."""
        names, token = [], ""
        while True:
            page = self.intake.ListCases(
                pb.ListCasesRequest(page_size=500, page_token=token, **filters), timeout=TIMEOUT
            )
            names.extend(c.name for c in page.cases)
            token = page.next_page_token
            if not token:
                return names

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
        self.assertEqual(got, case)

    def test_create_without_officer_is_unauthenticated(self):
        self.assert_fails(
            grpc.StatusCode.UNAUTHENTICATED, self.intake.CreateCase, pb.CreateCaseRequest(case=a_case())
        )

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
            metadata=METADATA,
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
            metadata=METADATA,
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
            metadata=METADATA,
        )
        info = detail(status_details(err), error_details_pb2.ErrorInfo)
        self.assertIsNotNone(info, "no google.rpc.ErrorInfo detail")
        self.assertEqual(info.reason, "REQUEST_ID_REUSED")


if __name__ == "__main__":
    unittest.main(verbosity=2)
