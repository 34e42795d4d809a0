"""One HTTP connection to a remote Packhorse, with its credentials.

Credentials go where StackStorm's API reads them (``X-Auth-Token`` or ``St2-Api-Key``). Every
failure is translated at this boundary: no answer (refused, unreachable, timed out, TLS) and
error answers become :class:`RemoteError` carrying the server's ``faultstring``; a refused
credential (401) becomes :class:`Unauthenticated` with the hint to sign in again.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import httpx

from packhorse.errors import ConfigurationError, RemoteError, Unauthenticated

TOKEN_HEADER, API_KEY_HEADER = "X-Auth-Token", "St2-Api-Key"
LONG_TIMEOUT = 3600.0
"""Seconds a bundle's export or import may take to answer (an import builds virtualenvs)."""


def normalise_url(url: str) -> str:
    """``url`` as the key it is stored and compared under: scheme and host lower case, no
    trailing slash. Refuses anything but an http(s) URL with a host."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"--url must be an http:// or https:// URL with a host, not {url!r}",
            hint="for example --url http://127.0.0.1:9101",
        )
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def segment(value: str) -> str:
    """``value`` quoted as one path segment."""
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the client signs its requests with: an API key wins over a token; neither means
    anonymous (enough for a server whose ``[auth]`` is off)."""

    token: str | None = None
    api_key: str | None = None
    source: str = ""
    """Where they came from, for messages (``PACKHORSE_API_KEY``, ``packhorse login``...)."""


def _tls_context(ca_file: str | None) -> ssl.SSLContext | bool:
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(f"cannot read the CA file {ca_file}: {error}") from error


def _tls_failure(error: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class ApiClient:
    """Requests to one Packhorse: ``get``/``post``/``put``/``delete`` answer decoded JSON
    (None for an empty answer). ``transport`` replaces the network in tests."""

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials | None = None,
        ca_file: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = normalise_url(url)
        self.credentials = credentials = credentials or Credentials()
        headers = {"Accept": "application/json"}
        if credentials.api_key:
            headers[API_KEY_HEADER] = credentials.api_key
        elif credentials.token:
            headers[TOKEN_HEADER] = credentials.token
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            verify=_tls_context(ca_file),
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def get_or_none(self, path: str, **params: Any) -> Any:
        """The answer, or None when the server says 404."""
        try:
            return self.get(path, **params)
        except RemoteError as error:
            if error.status == 404:
                return None
            raise

    def post(self, path: str, body: Any = None, **options: Any) -> Any:
        return self.request("POST", path, json=body, **options)

    def put(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("PUT", path, json=body, params=params)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        auth: tuple[str, str] | None = None,
    ) -> Any:
        """Send one request; raise :class:`RemoteError` or :class:`Unauthenticated` for any
        failure, with what to do about it."""
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        with self._failures(method, path):
            response = self._http.request(
                method, path, params=query or None, json=json, auth=auth or httpx.USE_CLIENT_DEFAULT
            )
        return self._answer(response, method, path, f"{self.url}{path}")

    def download(
        self, path: str, body: Any, target: BinaryIO, *, timeout: float = LONG_TIMEOUT
    ) -> int:
        """POST ``body`` (JSON) and write the answer's bytes to ``target`` as they come;
        the number written. Errors as :meth:`request` raises them."""
        written = 0
        with (
            self._failures("POST", path, timeout),
            self._http.stream(
                "POST", path, json=body, timeout=httpx.Timeout(self._timeout, read=timeout)
            ) as response,
        ):
            if response.status_code >= 400:
                response.read()
                self._answer(response, "POST", path, f"{self.url}{path}")
            for chunk in response.iter_bytes():
                target.write(chunk)
                written += len(chunk)
        return written

    def upload(
        self,
        path: str,
        source: BinaryIO,
        *,
        size: int,
        content_type: str,
        params: dict[str, Any] | None = None,
        timeout: float = LONG_TIMEOUT,
    ) -> Any:
        """POST the bytes of ``source`` (``size`` of them) as they are read; the decoded
        answer. Errors as :meth:`request` raises them."""
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}

        def chunks() -> Iterator[bytes]:
            while chunk := source.read(1 << 20):
                yield chunk

        headers = {"Content-Type": content_type, "Content-Length": str(size)}
        with self._failures("POST", path, timeout):
            response = self._http.post(
                path,
                params=query or None,
                content=chunks(),
                headers=headers,
                timeout=httpx.Timeout(self._timeout, read=timeout),
            )
        return self._answer(response, "POST", path, f"{self.url}{path}")

    @contextlib.contextmanager
    def _failures(self, method: str, path: str, timeout: float | None = None) -> Iterator[None]:
        """Translate a request's failure to :class:`RemoteError` (see :meth:`request`)."""
        where = f"{self.url}{path}"
        try:
            yield
        except httpx.TimeoutException as error:
            waited = self._timeout if timeout is None else timeout
            raise RemoteError(
                f"{self.url} did not answer {method} {path} within {waited:g} seconds",
                status=None,
                url=where,
                hint="check that 'packhorse up' is running there and is not overloaded",
            ) from error
        except httpx.HTTPError as error:
            tls = _tls_failure(error)
            if tls is not None:
                raise RemoteError(
                    f"TLS with {self.url} failed: {tls}",
                    status=None,
                    url=where,
                    hint="for a self-signed server, give its CA certificate with --ca-file "
                    "(or $PACKHORSE_CA_FILE)",
                ) from error
            raise RemoteError(
                f"cannot connect to {self.url}: {error}",
                status=None,
                url=where,
                hint="check the URL, and that 'packhorse up' is running there and listening "
                "on that address and port",
            ) from error

    def _answer(self, response: httpx.Response, method: str, path: str, where: str) -> Any:
        body: Any = None
        if response.content:
            if response.headers.get("content-type", "").startswith("application/json"):
                try:
                    body = response.json()
                except ValueError:
                    body = None
            else:
                body = response.text
        fault = body.get("faultstring") if isinstance(body, dict) else None
        status = response.status_code
        if status == 401:
            raise Unauthenticated(
                f"{self.url} refused the credentials"
                + (f" from {self.credentials.source}" if self.credentials.source else "")
                + f": {fault or 'HTTP 401'}",
                hint=f"run 'packhorse login --url {self.url}' (or set PACKHORSE_API_KEY)",
            )
        if status >= 400:
            hint = None
            if status == 403:
                hint = "the signed-in user's role does not allow this; an admin can change it"
            message = fault or f"{method} {path}: HTTP {status} {response.reason_phrase}"
            raise RemoteError(str(message), status=status, url=where, hint=hint)
        if isinstance(body, dict) and set(body) == {"faultstring"}:
            # StackStorm refuses some requests with 200 and a fault (cancelling an ended run).
            raise RemoteError(str(fault), status=status, url=where)
        return body


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
