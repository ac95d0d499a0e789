"""A Python client of the email-worker gRPC API, generated from proto/ with protoc and grpc_python_plugin.

It sends a tracked email, waits for it to be sent, sends a bad one and reads the google.rpc.BadRequest
from the error, calls without a key, and checks grpc.health.v1. It prints one JSON line with what it
saw and exits 1 when anything was not as expected.

    EMAIL_WORKER_ADDRESS    host:port of the gRPC API (default localhost:50060)
    EMAIL_WORKER_API_KEY    a key with the send scope (sent as `x-api-key: <key>`)
    EMAIL_WORKER_RECIPIENT  where the tracked email goes (default python-client@example.org)
    EMAIL_WORKER_DEADLINE   how long it may take altogether, in seconds (default 60)

The generated modules must be importable (PYTHONPATH): emailworker/v1/email_worker_pb2{,_grpc}.py,
google/rpc/{status,error_details}_pb2.py, and health_pb2{,_grpc}.py (from proto/grpc/health/v1,
generated at the top level: a grpc/ directory would clash with the grpc package) unless
grpcio-health-checking is installed. Runs on Debian 12's python3-grpcio 1.51 and python3-protobuf.
"""

import json
import os
import sys
import time

import grpc
from emailworker.v1 import email_worker_pb2, email_worker_pb2_grpc
from google.rpc import error_details_pb2, status_pb2

try:
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # pip install grpcio-health-checking
except ImportError:
    import health_pb2
    import health_pb2_grpc


def word(name, prefix):
    """An enum value's name as the JSON wire format spells it: JOB_STATUS_SENT -> sent."""
    return name[len(prefix):].lower() if name.startswith(prefix) else name.lower()


class Failure(Exception):
    pass


def bad_request_violations(error):
    """The field violations of the google.rpc.BadRequest in an error's grpc-status-details-bin.

    grpcio-status (grpc_status.rpc_status.from_call) does the same; it is not packaged in Debian.
    """
    violations = []
    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        details = status_pb2.Status.FromString(value)
        for detail in details.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                violations += [
                    {"field": v.field, "description": v.description} for v in bad_request.field_violations
                ]
    return violations


def run(out):
    address = os.environ.get("EMAIL_WORKER_ADDRESS") or "localhost:50060"
    recipient = os.environ.get("EMAIL_WORKER_RECIPIENT") or "python-client@example.org"
    ends = time.monotonic() + float(os.environ.get("EMAIL_WORKER_DEADLINE") or 60)
    key = os.environ.get("EMAIL_WORKER_API_KEY")
    # The key goes with every call as metadata (README, gRPC API: Auth).
    auth = [("x-api-key", key)] if key else []

    def left():
        remaining = ends - time.monotonic()
        if remaining <= 0:
            raise Failure("the deadline passed")
        return remaining

    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=left())
        except grpc.FutureTimeoutError:
            raise Failure(f"connect to {address}: the deadline passed") from None
        client = email_worker_pb2_grpc.EmailWorkerServiceStub(channel)

        # (a) A tracked email: recorded in PostgreSQL, so its status can be asked for.
        sent = client.SendEmail(
            email_worker_pb2.SendEmailRequest(
                job=email_worker_pb2.EmailJob(
                    type="client_check",
                    recipient_email=recipient,
                    subject="Hello from Python",
                    text="Sent by test/clients/python.",
                    sender=email_worker_pb2.Mailbox(email="python-client@shop.example", name="Python Client"),
                    tracked=True,
                )
            ),
            metadata=auth,
            timeout=left(),
        )
        out["job_id"], out["tracked"] = sent.job_id, sent.tracked
        if not sent.tracked:
            raise Failure("SendEmail: the job was not tracked")

        # (b) Its status until it is sent (or failed, or the deadline passes).
        while True:
            out["polls"] += 1
            job = client.GetEmailJob(
                email_worker_pb2.GetEmailJobRequest(id=sent.job_id), metadata=auth, timeout=left()
            ).job
            status = word(email_worker_pb2.JobStatus.Name(job.status), "JOB_STATUS_")
            out["status"] = status
            out["events"] = [word(email_worker_pb2.EventType.Name(e.status), "EVENT_TYPE_") for e in job.events]
            if job.status == email_worker_pb2.JOB_STATUS_SENT:
                break
            if status in ("failed", "cancelled", "suppressed"):
                raise Failure(f"GetEmailJob: the job ended {status}: {job.error_message}")
            if ends - time.monotonic() < 0.2:
                raise Failure(f"GetEmailJob: still {status} when the deadline passed")
            time.sleep(0.2)

        # (c) A bad request: INVALID_ARGUMENT with a google.rpc.BadRequest in the status details.
        try:
            client.SendEmail(
                email_worker_pb2.SendEmailRequest(
                    job=email_worker_pb2.EmailJob(
                        type="client_check", recipient_email="not-an-address", subject="Never sent", text="Never sent."
                    )
                ),
                metadata=auth,
                timeout=left(),
            )
            raise Failure("SendEmail with a bad recipient: accepted")
        except grpc.RpcError as error:
            out["invalid"] = {"code": error.code().name, "violations": bad_request_violations(error)}
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT or not out["invalid"]["violations"]:
                raise Failure(f"SendEmail with a bad recipient: {error.code().name} {error.details()}, no field violations")

        # No key: refused (when the service has keys at all).
        try:
            client.GetEmailJob(email_worker_pb2.GetEmailJobRequest(id=sent.job_id), timeout=left())
            out["unauthenticated_code"] = "OK"
        except grpc.RpcError as error:
            out["unauthenticated_code"] = error.code().name

        # (d) The standard health service, which needs no key.
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=left())
        out["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
        if health.status != health_pb2.HealthCheckResponse.SERVING:
            raise Failure(f"grpc.health.v1.Health/Check: {out['health']}")


def main():
    out = {"client": "python", "ok": False, "tracked": False, "polls": 0}
    try:
        run(out)
        out["ok"] = True
    except grpc.RpcError as error:
        out["error"] = f"{error.code().name}: {error.details()}"
    except Failure as error:
        out["error"] = str(error)
    print(json.dumps(out), flush=True)
    sys.exit(0 if out["ok"] else 1)


if __name__ == "__main__":
    main()
