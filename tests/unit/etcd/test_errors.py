"""grpc failures become readable sentences (details strings recorded from real servers)."""

from __future__ import annotations

import grpc
import pytest

from etcdmon_gui.etcd import errors
from etcdmon_gui.model import errors as model_errors


class FakeCall(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """The shape of a failed grpc call: just a code and details, as grpc raises them."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    # grpc.Call's other abstract methods are never used by the mapper.
    def initial_metadata(self) -> None: ...
    def trailing_metadata(self) -> None: ...
    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None: ...
    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


U = grpc.StatusCode


@pytest.mark.parametrize(
    ("code", "details", "cls", "message"),
    [
        (
            U.UNAVAILABLE,
            "failed to connect to all addresses; last error: UNKNOWN: "
            "ipv4:127.0.0.1:2379: Failed to connect to remote host: Connection refused",
            model_errors.ConnectionRefusedEtcdError,
            "connection refused at 127.0.0.1:2379",
        ),
        (
            U.DEADLINE_EXCEEDED,
            "Deadline Exceeded",
            model_errors.DeadlineError,
            "no answer from 127.0.0.1:2379 within 2 s (member hung or overloaded)",
        ),
        (
            U.UNAVAILABLE,
            "failed to connect to all addresses; last error: UNKNOWN: "
            "ipv4:127.0.0.1:2379: Ssl handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: "
            "error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
            model_errors.TLSError,
            "certificate verify failed: the server's certificate is not signed",
        ),
        (
            U.INVALID_ARGUMENT,
            "etcdserver: authentication failed, invalid user ID or password",
            model_errors.AuthenticationError,
            "authentication failed for user 'bob' at 127.0.0.1:2379: wrong user name or password",
        ),
        (
            U.PERMISSION_DENIED,
            "etcdserver: permission denied",
            model_errors.PermissionDeniedError,
            "permission denied for user 'bob' at 127.0.0.1:2379: etcdserver: permission denied",
        ),
        (
            U.UNAVAILABLE,
            "DNS resolution failed for nowhere.invalid:2379: C-ares status is not "
            "ARES_SUCCESS qtype=A name=nowhere.invalid is_balancer=0: Domain name not found",
            model_errors.UnreachableError,
            "cannot resolve host of 127.0.0.1:2379",
        ),
        (
            U.UNAVAILABLE,
            "etcdserver: leader changed",
            model_errors.ServerError,
            "127.0.0.1:2379: etcdserver: leader changed",
        ),
        (
            U.UNAVAILABLE,
            "Stream removed (sendmsg: Broken pipe (32))",
            model_errors.UnreachableError,
            "connection to 127.0.0.1:2379 was lost (the member closed it or went away)",
        ),
        (
            U.RESOURCE_EXHAUSTED,
            "etcdserver: mvcc: database space exceeded",
            model_errors.ServerError,
            "127.0.0.1:2379: etcdserver: mvcc: database space exceeded",
        ),
    ],
)
def test_rpc_errors_are_readable(
    code: grpc.StatusCode, details: str, cls: type[model_errors.EtcdError], message: str
) -> None:
    err = errors.from_rpc_error(FakeCall(code, details), "127.0.0.1:2379", user="bob", timeout=2.0)
    assert isinstance(err, cls)
    assert str(err).startswith(message), str(err)
    assert "RpcError" not in str(err) and "StatusCode" not in str(err)
