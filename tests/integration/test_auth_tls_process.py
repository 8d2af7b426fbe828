"""``eureka-embed serve --server uvicorn --tls-cert --tls-key --tls-client-ca --auth``: the
command line wires mutual TLS and credentials, and announces an ``https://`` URL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.rest import RestEurekaHttpClient
from eureka_embed.client.urllib3_transport import urllib3_transports
from eureka_embed.errors import TransportError
from tests.auth.support import USERS, credentials_toml, make_pki
from tests.server.support import ServeProcess

READY_HTTPS = re.compile(r"eureka-embed serving on (https://\S+)")


def _status(url: str, ca_file: str, cert_file: str | None) -> int:
    endpoint = EurekaEndpoint.parse(url)
    transport = urllib3_transports(ca_file=ca_file, cert_file=cert_file)(endpoint)
    client = RestEurekaHttpClient(endpoint, transport)
    try:
        return client.get_applications().status
    finally:
        client.shutdown()


@pytest.mark.slow
def test_serve_with_mutual_tls_and_credentials(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    auth = tmp_path / "auth.toml"
    auth.write_text(credentials_toml())
    args = ["--server", "uvicorn", "--auth", str(auth), "--tls-cert", pki.server_cert,
            "--tls-key", pki.server_key, "--tls-client-ca", pki.ca]  # fmt: skip
    server = ServeProcess(args)
    try:
        base = server.stderr.wait_for(READY_HTTPS, 20).group(1)
        with_user = base.replace("https://", f"https://reader:{USERS['reader'][0]}@")
        assert _status(with_user, pki.ca, pki.client) == 200
        assert _status(base, pki.ca, pki.client) == 401
        with pytest.raises(TransportError):
            _status(with_user, pki.ca, None)  # no client certificate
    finally:
        server.terminate()
