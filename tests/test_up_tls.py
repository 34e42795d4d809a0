"""``packhorse up --tls-cert FILE --tls-key FILE``: HTTPS only, with a self-signed
certificate made here; and clear refusals, before the server starts, of a pair that cannot
serve."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import CliResult
from tests.test_up import free_port


def self_signed(folder: Path, name: str = "server") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.mark.slow
def test_up_serves_https_with_the_given_pair_and_not_plain_http(
    instance_home: Path, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "packhorse",
            "--home",
            str(instance_home),
            "up",
            "--listen",
            f"127.0.0.1:{port}",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    trusting = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "server exited early"
            try:
                health = httpx.get(f"https://127.0.0.1:{port}/health", verify=trusting, timeout=2)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "no HTTPS answer in time"
                time.sleep(0.05)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        # The certificate is checked: a client that does not trust it is refused.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{port}/health", timeout=5)
        # Plain HTTP gets no answer.
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr.decode()
    assert f"https://127.0.0.1:{port}" in stderr.decode()


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        (
            lambda cert, key, other: ["--tls-cert", cert.parent / "nope.crt", "--tls-key", key],
            "nope.crt does not exist",
        ),
        (lambda cert, key, other: ["--tls-cert", cert, "--tls-key", cert.parent], "cannot be read"),
        (
            lambda cert, key, other: ["--tls-cert", cert, "--tls-key", other],
            "does not match the certificate",
        ),
        (lambda cert, key, other: ["--tls-cert", key, "--tls-key", key], "not valid PEM"),
        (lambda cert, key, other: ["--tls-cert", cert], "--tls-key is missing"),
    ],
    ids=["missing", "unreadable", "mismatched", "not-a-certificate", "half-a-pair"],
)
def test_up_refuses_a_pair_that_cannot_serve_before_starting(
    instance_home: Path,
    tmp_path: Path,
    cli: Callable[..., CliResult],
    arrange: Callable[[Path, Path, Path], list[object]],
    message: str,
) -> None:
    cert, key = self_signed(tmp_path)
    _, other_key = self_signed(tmp_path, "other")
    port = free_port()
    result = cli(
        "--home", instance_home, "up", "--listen", f"127.0.0.1:{port}",
        *arrange(cert, key, other_key),
    )  # fmt: skip
    assert result.code == 2, result.err
    assert message in result.err
    assert "serving on" not in result.err
