"""http-request against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from packhorse import __version__
from packhorse.runners.base import NullEvents, RunnerResult, RunStatus
from packhorse.runners.http import HttpRequestRunner, host_of
from tests.runners.helpers import make_request, run


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(
        self,
        code: int,
        body: bytes | str,
        content_type: str = "text/plain",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers or []:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        route = parts.path
        if route == "/echo":
            document = {
                "method": self.command,
                "target": self.path,
                "query": parse_qs(parts.query),
                "headers": {key.lower(): value for key, value in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
            self._reply(200, json.dumps(document), "application/json")
        elif route.startswith("/status/"):
            self._reply(int(route.rsplit("/", 1)[1]), "status body")
        elif route == "/text":
            self._reply(200, '{"looks": "like json"}', "text/plain")
        elif route == "/json-charset":
            self._reply(200, '{"a": 1}', "application/json; charset=utf-8")
        elif route == "/bad-json":
            self._reply(200, "{oops", "application/json")
        elif route == "/problem":
            self._reply(400, '{"title": "bad"}', "application/problem+json")
        elif route == "/redirect":
            self._reply(302, "", headers=[("Location", "/echo")])
        elif route == "/redirect-away":
            port = self.server.server_address[1]
            self._reply(302, "", headers=[("Location", f"http://localhost:{port}/echo")])
        elif route == "/auth":
            expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
            if self.headers.get("Authorization") == expected:
                self._reply(200, "welcome")
            else:
                self._reply(401, "who are you", headers=[("WWW-Authenticate", "Basic")])
        elif route == "/headers":
            self._reply(
                200,
                "",
                headers=[("X-Mixed-Case", "one"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
            )
        elif route == "/slow":
            self.server.release.wait(10)
            self._reply(200, "late")
        else:
            self._reply(404, "no route")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    release: threading.Event


@dataclass
class Server:
    base: str
    port: int


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.release = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    try:
        yield Server(f"http://127.0.0.1:{port}", port)
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def call(
    url: str,
    runner_parameters: dict[str, Any] | None = None,
    run_timeout: float | None = 30,
    **action_parameters: Any,
) -> RunnerResult:
    request = make_request(
        runner_type="http-request",
        action_ref="core.http",
        runner_parameters={"url": url, **(runner_parameters or {})},
        action_parameters=action_parameters,
        timeout=run_timeout,
    )
    return run(HttpRequestRunner().run(request, NullEvents()))


def test_get_parses_a_json_body(server: Server) -> None:
    result = call(f"{server.base}/echo")
    assert result.status is RunStatus.SUCCEEDED
    assert set(result.result) == {"status_code", "body", "parsed", "headers"}
    assert result.result["status_code"] == 200
    assert result.result["parsed"] is True
    body = result.result["body"]
    assert body["method"] == "GET" and body["body"] == ""
    assert body["headers"]["user-agent"] == f"packhorse/v{__version__}"
    assert body["headers"]["x-stanley-action"] == "http"
    assert result.result["headers"]["Content-Type"] == "application/json"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_methods_and_body(server: Server, method: str) -> None:
    result = call(f"{server.base}/echo", method=method, body="payload é")
    assert result.result["body"]["method"] == method
    assert result.result["body"]["body"] == "payload é"


def test_head(server: Server) -> None:
    result = call(f"{server.base}/echo", method="HEAD")
    assert result.status is RunStatus.SUCCEEDED
    assert result.result["body"] == ""
    assert result.result["parsed"] is False


def test_method_defaults_to_post_with_a_body(server: Server) -> None:
    assert call(f"{server.base}/echo", body="x").result["body"]["method"] == "POST"


def test_json_request_body_is_reencoded(server: Server) -> None:
    headers = {"Content-Type": "application/json"}
    result = call(f"{server.base}/echo", {"headers": headers}, body='{"a": 1,  "b": [true]}')
    assert result.result["body"]["body"] == '{"a":1,"b":[true]}'
    python_literal = call(f"{server.base}/echo", {"headers": headers}, body="{'a': True}")
    assert python_literal.result["body"]["body"] == '{"a":true}'
    bad = call(f"{server.base}/echo", {"headers": headers}, body="{nope")
    assert bad.status is RunStatus.FAILED
    assert bad.result == {"error": "Request body ({nope) can't be parsed as JSON"}


def test_query_headers_and_cookies(server: Server) -> None:
    result = call(
        f"{server.base}/echo?fixed=1",
        {"headers": {"X-Token": "abc", "X-Number": 5}, "cookies": {"session": "s1"}},
        params={"q": "a b", "n": 2},
    )
    body = result.result["body"]
    assert body["query"] == {"fixed": ["1"], "q": ["a b"], "n": ["2"]}
    assert body["headers"]["x-token"] == "abc" and body["headers"]["x-number"] == "5"
    assert body["headers"]["cookie"] == "session=s1"


def test_an_action_user_agent_is_kept(server: Server) -> None:
    result = call(f"{server.base}/echo", {"headers": {"user-agent": "mine/1"}})
    assert result.result["body"]["headers"]["user-agent"] == "mine/1"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (200, RunStatus.SUCCEEDED),
        (201, RunStatus.SUCCEEDED),
        (204, RunStatus.SUCCEEDED),
        (206, RunStatus.SUCCEEDED),
        (207, RunStatus.FAILED),
        (304, RunStatus.FAILED),
        (404, RunStatus.FAILED),
        (500, RunStatus.FAILED),
    ],
)
def test_status_codes(server: Server, code: int, status: RunStatus) -> None:
    result = call(f"{server.base}/status/{code}")
    assert result.status is status
    assert result.result["status_code"] == code
    assert result.error is None


@pytest.mark.parametrize(
    ("route", "body", "parsed"),
    [
        ("/text", '{"looks": "like json"}', False),
        ("/json-charset", {"a": 1}, True),
        ("/bad-json", "{oops", False),
        ("/problem", '{"title": "bad"}', False),
    ],
)
def test_body_parsing_follows_the_content_type(
    server: Server, route: str, body: Any, parsed: bool
) -> None:
    result = call(f"{server.base}{route}")
    assert result.result["body"] == body
    assert result.result["parsed"] is parsed


def test_response_headers_keep_spelling_and_join_repeats(server: Server) -> None:
    headers = call(f"{server.base}/headers").result["headers"]
    assert headers["X-Mixed-Case"] == "one"
    assert headers["Set-Cookie"] == "a=1, b=2"


def test_redirects_are_not_followed_by_default(server: Server) -> None:
    result = call(f"{server.base}/redirect")
    assert result.status is RunStatus.FAILED
    assert result.result["status_code"] == 302
    assert result.result["headers"]["Location"] == "/echo"


def test_redirects_followed_when_allowed(server: Server) -> None:
    result = call(f"{server.base}/redirect", {"allow_redirects": True})
    assert result.status is RunStatus.SUCCEEDED
    assert result.result["body"]["target"] == "/echo"


def test_basic_auth(server: Server) -> None:
    good = call(f"{server.base}/auth", {"username": "alice", "password": "s3cret"})
    assert good.status is RunStatus.SUCCEEDED and good.result["body"] == "welcome"
    bad = call(f"{server.base}/auth", {"username": "alice", "password": "wrong"})
    assert bad.status is RunStatus.FAILED and bad.result["status_code"] == 401


def test_auth_action_parameter_is_refused_clearly(server: Server) -> None:
    result = call(f"{server.base}/echo", auth="x-auth-token=XYZ")
    assert result.status is RunStatus.FAILED
    assert "auth parameter is not supported" in result.result["error"]


def test_file_upload(server: Server) -> None:
    result = call(
        f"{server.base}/echo",
        file_name="report.csv",
        file_content="a,b\n1,2\n",
        file_content_type="text/csv",
    )
    body = result.result["body"]
    assert body["method"] == "POST"
    assert body["headers"]["content-type"].startswith("multipart/form-data")
    assert 'name="report.csv"; filename="report.csv"' in body["body"]
    assert "Content-Type: text/csv" in body["body"] and "a,b\n1,2\n" in body["body"]


def test_action_timeout(server: Server) -> None:
    result = call(f"{server.base}/slow", timeout=0.3)
    assert result.status is RunStatus.TIMEOUT
    assert result.result["error"].startswith(f"HTTP request to {server.base}/slow timed out")


def test_run_timeout(server: Server) -> None:
    result = call(f"{server.base}/slow", run_timeout=0.3)
    assert result.status is RunStatus.TIMEOUT


def test_connection_refused_fails() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = call(f"http://127.0.0.1:{port}/")
    assert result.status is RunStatus.FAILED
    assert result.result["error"].startswith("ConnectError")


def test_proxy(server: Server) -> None:
    result = call("http://proxied.invalid/echo?x=1", {"http_proxy": server.base})
    assert result.result["body"]["target"] == "http://proxied.invalid/echo?x=1"


def test_blacklist(server: Server) -> None:
    url = f"{server.base}/echo"
    result = call(url, {"url_hosts_blacklist": ["127.0.0.1"]})
    assert result.status is RunStatus.FAILED
    assert result.result == {"error": f'URL "{url}" is blacklisted'}
    assert call(url, {"url_hosts_blacklist": ["example.com"]}).status is RunStatus.SUCCEEDED


def test_blacklist_sees_through_user_info(server: Server) -> None:
    url = f"http://user:pw@127.0.0.1:{server.port}/echo"
    result = call(url, {"url_hosts_blacklist": ["127.0.0.1"]})
    assert result.result == {"error": f'URL "{url}" is blacklisted'}


def test_blacklist_applies_to_redirects(server: Server) -> None:
    result = call(
        f"{server.base}/redirect-away",
        {"allow_redirects": True, "url_hosts_blacklist": ["localhost"]},
    )
    assert result.status is RunStatus.FAILED
    assert result.result == {"error": f'URL "http://localhost:{server.port}/echo" is blacklisted'}


def test_whitelist(server: Server) -> None:
    url = f"{server.base}/echo"
    result = call(url, {"url_hosts_whitelist": ["example.com"]})
    assert result.result == {"error": f'URL "{url}" is not whitelisted'}
    assert call(url, {"url_hosts_whitelist": ["127.0.0.1"]}).status is RunStatus.SUCCEEDED


def test_black_and_white_lists_are_exclusive(server: Server) -> None:
    result = call(
        f"{server.base}/echo",
        {"url_hosts_blacklist": ["a"], "url_hosts_whitelist": ["b"]},
    )
    assert result.status is RunStatus.FAILED
    assert "mutually exclusive" in result.result["error"]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://Example.COM:8080/x", "example.com"),
        ("http://[::1]:80/", "::1"),
        ("https://user:pw@host.local/", "host.local"),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


def test_missing_url_fails() -> None:
    result = call("")
    assert result.result == {"error": "URL must be specified."}


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same server over HTTPS with a self-signed certificate for 127.0.0.1."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.release = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    try:
        yield Server(f"https://127.0.0.1:{port}", port)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_certificate_is_verified_by_default(tls_server: Server) -> None:
    result = call(f"{tls_server.base}/echo")
    assert result.status is RunStatus.FAILED
    assert "CERTIFICATE_VERIFY_FAILED" in result.result["error"]


def test_verify_ssl_cert_false(tls_server: Server) -> None:
    result = call(f"{tls_server.base}/echo", {"verify_ssl_cert": False})
    assert result.status is RunStatus.SUCCEEDED
    assert result.result["body"]["method"] == "GET"
