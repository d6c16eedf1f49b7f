"""A fault-injecting HTTP proxy between the code under test and the moto server, on 127.0.0.1.

A function's `AWS_ENDPOINT_URL` points at the proxy, which forwards every request to moto
unchanged and records the service, operation and status of each response. Rules make it respond to
chosen requests itself instead, with the error a real AWS service sends in that service's wire
format, so botocore parses and retries them exactly as it would in AWS:

- JSON protocols (`X-Amz-Target`, for example Logs, DynamoDB, Secrets Manager, SQS):
  `{"__type": code, "message": ...}` with `x-amzn-ErrorType`.
- Smithy RPC v2 CBOR (CloudWatch in botocore 1.43): the same map, CBOR-encoded.
- Query protocol (SNS, STS, IAM): an XML `ErrorResponse`.
- REST protocols (Lambda, Backup, API Gateway): a JSON body with `x-amzn-ErrorType`.

moto responds to a denied request with an XML `AccessDenied` body whatever the protocol, which
botocore reads as the error code "403" for JSON services. With `translate_access_denied` the
proxy rewrites it to `AccessDeniedException` in the service's own format, the code AWS sends,
so the code under test sees what it would see in AWS.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/[^/]+/([^/]+)/aws4_request")
_CBOR_OPERATION = re.compile(r"^/service/[^/]+/operation/([^/?]+)")
_XML_CODE = re.compile(rb"<Code>([^<]+)</Code>")
# Headers that http.client sets itself or that describe the hop, not the message.
_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})


class Protocol(StrEnum):
    JSON = "json"
    CBOR = "cbor"
    QUERY = "query"
    REST = "rest"


@dataclass
class FaultRule:
    """Respond to matching requests with an AWS error instead of forwarding them.

    `operation` is a regular expression matched in full against "signing-name:Operation", for
    example `logs:DescribeLogGroups` or `dynamodb:.*` (CloudWatch signs as `monitoring`).
    `count` limits how many requests the rule responds to; None means every matching request.
    `delay_seconds` holds the request that long before answering, to stand in for a slow service.
    """

    operation: str
    status: int = 400
    code: str = "ThrottlingException"
    message: str = "Rate exceeded"
    count: int | None = None
    delay_seconds: float = 0.0
    matched: int = 0

    def applies_to(self, operation: str) -> bool:
        if self.count is not None and self.matched >= self.count:
            return False
        return re.fullmatch(self.operation, operation) is not None


@dataclass
class ResponseRewrite:
    """Change the body of matching successful responses, to show a state moto cannot produce.

    `operation` is matched like `FaultRule.operation`. `rewrite` takes and returns the raw body.
    """

    operation: str
    rewrite: Callable[[bytes], bytes]

    def applies_to(self, operation: str, status: int) -> bool:
        return status < 300 and re.fullmatch(self.operation, operation) is not None


@dataclass(frozen=True)
class ProxyRecord:
    """One request as the proxy saw it."""

    service: str
    operation: str
    status: int
    error_code: str | None
    injected: bool
    access_key_id: str = ""

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


@dataclass
class _State:
    upstream: str
    translate_access_denied: bool
    rules: list[FaultRule] = field(default_factory=list)
    rewrites: list[ResponseRewrite] = field(default_factory=list)
    records: list[ProxyRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def cbor_encode(value: Any) -> bytes:
    """Encode str, int, bool, None, lists and str-keyed dicts as CBOR (RFC 8949), enough for error bodies."""
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _cbor_head(0, value) if value >= 0 else _cbor_head(1, -1 - value)
    if isinstance(value, str):
        encoded = value.encode()
        return _cbor_head(3, len(encoded)) + encoded
    if isinstance(value, list):
        return _cbor_head(4, len(value)) + b"".join(cbor_encode(item) for item in value)
    if isinstance(value, dict):
        items = b"".join(cbor_encode(str(key)) + cbor_encode(item) for key, item in value.items())
        return _cbor_head(5, len(value)) + items
    raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def _cbor_head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes([major << 5 | argument])
    for additional, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * size):
            return bytes([major << 5 | additional]) + argument.to_bytes(size, "big")
    raise ValueError(f"CBOR argument {argument} is too large")


def access_key_of(headers: Any) -> str:
    """Return the access key id that signed the request, or "" for an unsigned one."""
    scope = _CREDENTIAL_SCOPE.search(headers.get("Authorization", ""))
    return scope.group(1) if scope else ""


def identify(method: str, path: str, headers: Any, body: bytes) -> tuple[str, str, Protocol]:
    """Return the signing name, operation and wire protocol of an AWS request."""
    scope = _CREDENTIAL_SCOPE.search(headers.get("Authorization", ""))
    service = scope.group(2) if scope else "unknown"
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1], Protocol.JSON
    cbor = _CBOR_OPERATION.match(path)
    if cbor:
        return service, cbor.group(1), Protocol.CBOR
    query = parse_qs(urlsplit(path).query)
    if "Action" in query:
        return service, query["Action"][0], Protocol.QUERY
    if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        form = parse_qs(body.decode("utf-8", errors="replace"))
        if "Action" in form:
            return service, form["Action"][0], Protocol.QUERY
    return service, f"{method} {urlsplit(path).path}", Protocol.REST


def error_response(protocol: Protocol, status: int, code: str, message: str) -> tuple[dict[str, str], bytes]:
    """Return the headers and body AWS sends for an error in this wire protocol."""
    request_id = str(uuid.uuid4())
    if protocol is Protocol.QUERY:
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            '<?xml version="1.0"?>\n<ErrorResponse xmlns="http://webservices.amazon.com/AWSFault/2005-15-09">'
            f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    document = {"__type": code, "message": message}
    if protocol is Protocol.CBOR:
        headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": request_id}
        return headers, cbor_encode(document)
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
    return headers, json.dumps(document).encode()


def _response_error_code(status: int, headers: dict[str, str], body: bytes) -> str | None:
    if status < 300:
        return None
    error_type = next((value for name, value in headers.items() if name.lower() == "x-amzn-errortype"), None)
    if error_type:
        return error_type.split(":", 1)[0]
    xml_code = _XML_CODE.search(body)
    if xml_code:
        return xml_code.group(1).decode(errors="replace")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return str(status)
    if isinstance(document, dict) and isinstance(document.get("__type"), str):
        return document["__type"].rsplit("#", 1)[-1]
    return str(status)


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the records are the log."""

    def _handle(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        service, operation, protocol = identify(self.command, self.path, self.headers, body)
        action = f"{service}:{operation}"

        rule: FaultRule | None = None
        with state.lock:
            for candidate in state.rules:
                if candidate.applies_to(action):
                    candidate.matched += 1
                    rule = candidate
                    break
        if rule is not None:
            if rule.delay_seconds:
                time.sleep(rule.delay_seconds)
            headers, payload = error_response(protocol, rule.status, rule.code, rule.message)
            self._reply(rule.status, headers, payload)
            self._record(ProxyRecord(service, operation, rule.status, rule.code, True, access_key_of(self.headers)))
            return

        status, headers, payload = self._forward(body)
        with state.lock:
            rewrites = [rewrite for rewrite in state.rewrites if rewrite.applies_to(action, status)]
        for rewrite in rewrites:
            payload = rewrite.rewrite(payload)
        if rewrites:
            # DynamoDB signs its body with a CRC32 header, which botocore checks (and retries on a mismatch).
            for name in [name for name in headers if name.lower() == "x-amz-crc32"]:
                headers[name] = str(zlib.crc32(payload))
        code = _response_error_code(status, headers, payload)
        if (
            state.translate_access_denied
            and status == 403
            and code == "AccessDenied"
            and protocol is not Protocol.QUERY
        ):
            message = _XML_MESSAGE.search(payload)
            text = message.group(1).decode(errors="replace") if message else "access denied"
            headers, payload = error_response(protocol, 400, "AccessDeniedException", text)
            status, code = 400, "AccessDeniedException"
        self._reply(status, headers, payload)
        self._record(ProxyRecord(service, operation, status, code, False, access_key_of(self.headers)))

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        upstream = urlsplit(self.server.state.upstream)
        connection = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=60)
        try:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_HEADERS}
            # The signature covers the Host header, so it is passed on as the client sent it.
            headers["Host"] = self.headers.get("Host", "")
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            reply_headers = {name: value for name, value in response.getheaders() if name.lower() not in _HOP_HEADERS}
            return response.status, reply_headers, payload
        finally:
            connection.close()

    def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _record(self, record: ProxyRecord) -> None:
        with self.server.state.lock:
            self.server.state.records.append(record)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


_XML_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FaultProxy:
    """The running proxy: its endpoint, its rules and what it saw."""

    def __init__(self, upstream: str, translate_access_denied: bool = True) -> None:
        self._state = _State(upstream=upstream, translate_access_denied=translate_access_denied)
        self._server = _ProxyServer(self._state)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_rule(self, rule: FaultRule) -> FaultRule:
        with self._state.lock:
            self._state.rules.append(rule)
        return rule

    def add_rewrite(self, rewrite: ResponseRewrite) -> ResponseRewrite:
        with self._state.lock:
            self._state.rewrites.append(rewrite)
        return rewrite

    def clear(self) -> None:
        """Drop every rule and record."""
        with self._state.lock:
            self._state.rules.clear()
            self._state.records.clear()

    def records(self) -> list[ProxyRecord]:
        with self._state.lock:
            return list(self._state.records)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running(upstream: str, translate_access_denied: bool = True) -> Iterator[FaultProxy]:
    """Run a proxy to `upstream` for the duration of a `with` block."""
    proxy = FaultProxy(upstream, translate_access_denied)
    try:
        yield proxy
    finally:
        proxy.stop()
