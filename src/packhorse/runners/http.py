"""The ``http-request`` runner (``core.http``): one HTTP request with httpx.

Runner parameters: ``url``, ``headers``, ``cookies``, ``username``/``password`` (basic auth),
``allow_redirects`` (false), ``verify_ssl_cert`` (true), ``http_proxy``, ``https_proxy``,
``url_hosts_blacklist``, ``url_hosts_whitelist``. Action parameters, as ``core.http`` declares
them: ``method``, ``body``, ``params`` (query), ``timeout`` (60), ``file_name``,
``file_content``, ``file_content_type``.

The result is StackStorm's ``{status_code, body, parsed, headers}``: ``body`` is decoded and
``parsed`` true when the response's Content-Type is ``application/json``. Status codes 200 to
206 succeed, every other code fails (redirects too, unless they are followed); a timeout ends
as ``timeout`` with ``{error}``, and a request that cannot be made fails with ``{error}``.
"""

from __future__ import annotations

import ast
import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx

from packhorse import __version__
from packhorse.runners.base import RunEvents, RunnerResult, RunRequest, RunStatus

_SUCCESS_CODES = range(200, 207)
_DEFAULT_TIMEOUT = 60.0
_EXCLUSIVE_LISTS = (
    '"url_hosts_blacklist" and "url_hosts_whitelist" parameters are mutually exclusive. '
    "Only one should be provided."
)


class _Refused(Exception):
    """A request (or a redirect) to a host the black- or whitelist forbids."""


class HttpRequestRunner:
    """Sends the request an ``http-request`` action describes; never raises for its failures."""

    name = "http-request"

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        """``transport`` replaces the network (tests); proxies are then ignored."""
        self._transport = transport

    async def run(self, request: RunRequest, events: RunEvents) -> RunnerResult:
        runner = request.runner_parameters
        action = request.action_parameters
        blacklist = list(runner.get("url_hosts_blacklist") or [])
        whitelist = list(runner.get("url_hosts_whitelist") or [])
        url = runner.get("url")
        timeout = action.get("timeout")
        try:
            seconds = float(timeout if timeout is not None else _DEFAULT_TIMEOUT)
            if blacklist and whitelist:
                raise _Refused(_EXCLUSIVE_LISTS)
            if not url:
                raise ValueError("URL must be specified.")
            _check_host(str(url), blacklist, whitelist)
            async with asyncio.timeout(request.timeout):
                result = await self._send(request, str(url), seconds, blacklist, whitelist)
        except (httpx.TimeoutException, TimeoutError) as error:
            message = f"HTTP request to {url} timed out: {_describe(error)}"
            return RunnerResult(RunStatus.TIMEOUT, {"error": message}, error=message)
        except (httpx.HTTPError, httpx.InvalidURL, _Refused, ValueError) as error:
            message = _describe(error)
            return RunnerResult(RunStatus.FAILED, {"error": message}, error=message)
        succeeded = result["status_code"] in _SUCCESS_CODES
        return RunnerResult(RunStatus.SUCCEEDED if succeeded else RunStatus.FAILED, result)

    async def _send(
        self,
        request: RunRequest,
        url: str,
        timeout: float,
        blacklist: list[str],
        whitelist: list[str],
    ) -> dict[str, Any]:
        runner = request.runner_parameters
        action = request.action_parameters
        headers = httpx.Headers(
            {str(key): str(value) for key, value in (runner.get("headers") or {}).items()}
        )
        # StackStorm always overrides User-Agent with its own; we keep one the action sets.
        headers.setdefault("User-Agent", f"packhorse/v{__version__}")
        headers["X-Stanley-Action"] = request.action_ref.partition(".")[2] or request.action_ref
        body = action.get("body")
        files = _files(action)
        if files and body:
            raise ValueError("a request cannot have both a body and a file to upload")
        method = action.get("method") or ("POST" if files or body else "GET")
        content = _content(body, json_body=headers.get("content-type") == "application/json")
        auth = _auth(runner, action)
        verify = runner.get("verify_ssl_cert")
        verify = True if verify is None else bool(verify)

        async def check_hop(hop: httpx.Request) -> None:
            # StackStorm checks the first URL only; a redirect must not leave the lists either.
            _check_host(str(hop.url), blacklist, whitelist)

        async with httpx.AsyncClient(
            transport=self._transport,
            mounts=None if self._transport else _proxies(runner, verify),
            verify=verify,
            follow_redirects=bool(runner.get("allow_redirects", False)),
            timeout=timeout,
            cookies=dict(runner.get("cookies") or {}) or None,
            event_hooks={"request": [check_hop]},
        ) as client:
            target = httpx.URL(url)
            if action.get("params"):
                # requests adds the parameters to a query the URL has; httpx would replace it.
                target = target.copy_merge_params(action["params"])
            response = await client.request(
                str(method),
                target,
                content=content,
                files=files,
                headers=headers,
                auth=auth,
            )
        response_headers = _headers(response)
        body_out, parsed = _parse_body(response_headers, response.text)
        return {
            "status_code": response.status_code,
            "body": body_out,
            "parsed": parsed,
            "headers": response_headers,
        }


def host_of(url: str) -> str:
    """The host a black- or whitelist entry is compared with: no port, user or brackets.

    StackStorm compares the network location minus the port, so ``user@host`` slipped past a
    blacklist; the lowercase host name does not.
    """
    try:
        return httpx.URL(url).host
    except httpx.InvalidURL as error:
        raise ValueError(f'URL "{url}" is not valid: {error}') from None


def _check_host(url: str, blacklist: list[str], whitelist: list[str]) -> None:
    host = host_of(url)
    if blacklist and host in {entry.lower().strip("[]") for entry in blacklist}:
        raise _Refused(f'URL "{url}" is blacklisted')
    if whitelist and host not in {entry.lower().strip("[]") for entry in whitelist}:
        raise _Refused(f'URL "{url}" is not whitelisted')


def _content(body: Any, *, json_body: bool) -> bytes | None:
    if body is None:
        return None
    if json_body:
        value = body
        if isinstance(body, str):
            try:
                value = json.loads(body)
            except ValueError:
                try:
                    value = ast.literal_eval(body)
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    raise ValueError(f"Request body ({body}) can't be parsed as JSON") from None
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError):
            raise ValueError(f"Request body ({body}) can't be parsed as JSON") from None
    if isinstance(body, bytes):
        return body
    return str(body).encode()


def _files(action: Mapping[str, Any]) -> dict[str, Any] | None:
    name = action.get("file_name")
    content = action.get("file_content")
    if not (name and content):
        return None
    data = content.encode() if isinstance(content, str) else content
    return {name: (name, data, action.get("file_content_type") or None)}


def _auth(runner: Mapping[str, Any], action: Mapping[str, Any]) -> httpx.BasicAuth | None:
    username = runner.get("username")
    password = runner.get("password")
    if username or password:
        return httpx.BasicAuth(username or "", password or "")
    if action.get("auth"):
        # StackStorm hands the string to requests as an auth object, which always fails.
        raise ValueError(
            "the auth parameter is not supported: use username and password for basic "
            "authentication, or put the credential in a header"
        )
    return None


def _proxies(runner: Mapping[str, Any], verify: bool) -> dict[str, httpx.AsyncBaseTransport]:
    mounts: dict[str, httpx.AsyncBaseTransport] = {}
    for scheme in ("http", "https"):
        proxy = runner.get(f"{scheme}_proxy")
        if proxy:
            mounts[f"{scheme}://"] = httpx.AsyncHTTPTransport(proxy=str(proxy), verify=verify)
    return mounts


def _headers(response: httpx.Response) -> dict[str, str]:
    """Response headers with the server's spelling; repeated headers joined by ``", "``."""
    headers: dict[str, str] = {}
    spelling: dict[str, str] = {}
    encoding = response.headers.encoding
    for raw_key, raw_value in response.headers.raw:
        key, value = raw_key.decode(encoding), raw_value.decode(encoding)
        known = spelling.setdefault(key.lower(), key)
        headers[known] = f"{headers[known]}, {value}" if known in headers else value
    return headers


def _parse_body(headers: Mapping[str, str], text: str) -> tuple[Any, bool]:
    content_type = next(
        (value for key, value in headers.items() if key.lower() == "content-type"), ""
    )
    if content_type.split(";")[0].strip().lower() != "application/json":
        return text, False
    try:
        return json.loads(text), True
    except ValueError:
        return text, False


def _describe(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, _Refused | ValueError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
