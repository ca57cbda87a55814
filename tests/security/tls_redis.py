"""A real redis-server speaking TLS only, with a throw-away certificate made by `openssl`.

Built on tests/redis/server.py's RedisServer (same lifecycle, ACL user/password); only the
listener changes: `--port 0 --tls-port N`, and the URL becomes `rediss://` with the test
CA so the client verifies the server's certificate.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.redis.server import RedisServer


def openssl_binary() -> str | None:
    return shutil.which("openssl")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 (valid one day): (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl_binary() or "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


class TLSRedisServer(RedisServer):
    def __init__(self, *, user: str | None = None, password: str | None = None) -> None:
        super().__init__(user=user, password=password)
        self.cert, self.key = make_certificate(self.dir)

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.password is not None else ""
        return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.cert}"

    @property
    def untrusted_url(self) -> str:
        """The same server without its CA: certificate verification must fail."""
        return self.url.split("?", 1)[0]

    def argv(self) -> list[str]:
        argv = super().argv()
        argv[argv.index("--port") + 1] = "0"  # no plain-text listener at all
        return [
            *argv,
            "--tls-port", str(self.port),
            "--tls-cert-file", str(self.cert),
            "--tls-key-file", str(self.key),
            "--tls-ca-cert-file", str(self.cert),
            "--tls-auth-clients", "no",
        ]  # fmt: skip
