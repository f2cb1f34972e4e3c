"""Prometheus connections: the Secrets a spec names, which key is read by default, and one
client and one CA file per distinct connection, removed when the operator stops."""

from __future__ import annotations

from pathlib import Path

import pytest
from modelship.adapters.prometheus import PrometheusConnections, PrometheusUnavailableError
from modelship.api.common import PrometheusConnection, PrometheusTLS

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
OTHER_PEM = PEM.replace("MIIB", "MIIC")


class FakeSecrets:
    """Answers (namespace, name, key) from a dict: name -> {key: text}; records each read."""

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets
        self.read: list[tuple[str, str, str]] = []

    def __call__(self, namespace: str, name: str, key: str) -> str:
        self.read.append((namespace, name, key))
        if name not in self.secrets or key not in self.secrets[name]:
            raise LookupError(f"Secret {name} has no key {key}")
        return self.secrets[name][key]


def connection(**fields: object) -> PrometheusConnection:
    return PrometheusConnection.model_validate({"address": "https://prometheus:9090", **fields})


REFS = {"bearerTokenSecretRef": {"name": "prom-token"}, "tls": {"caSecretRef": {"name": "prom-ca"}}}


def test_ca_key_defaults_to_ca_crt_and_token_key_to_token() -> None:
    tls = PrometheusTLS.model_validate({"caSecretRef": {"name": "prom-ca"}})
    assert tls.ca_secret_ref is not None
    assert tls.ca_secret_ref.key == "ca.crt"
    conn = PrometheusConnection.model_validate({"bearerTokenSecretRef": {"name": "prom-token"}})
    assert conn.bearer_token_secret_ref is not None
    assert conn.bearer_token_secret_ref.key == "token"


def test_the_ca_bundle_is_read_from_ca_crt_by_default() -> None:
    secrets = FakeSecrets({"prom-ca": {"ca.crt": PEM}, "prom-token": {"token": "s3cret\n"}})
    connections = PrometheusConnections(None, secrets)
    client = connections.client(connection(**REFS), "ml")
    assert secrets.read == [("ml", "prom-token", "token"), ("ml", "prom-ca", "ca.crt")]
    bundle = client._conn._session.verify
    assert isinstance(bundle, str)
    assert Path(bundle).read_text() == PEM
    connections.close()
    assert not Path(bundle).exists()


def test_an_explicit_ca_key_is_honoured() -> None:
    secrets = FakeSecrets({"prom-ca": {"bundle.pem": PEM}})
    connections = PrometheusConnections(None, secrets)
    connections.client(
        connection(tls={"caSecretRef": {"name": "prom-ca", "key": "bundle.pem"}}), "ml"
    )
    assert secrets.read == [("ml", "prom-ca", "bundle.pem")]
    connections.close()


def test_an_unchanged_connection_reuses_one_client_and_one_ca_file() -> None:
    secrets = FakeSecrets({"prom-ca": {"ca.crt": PEM}, "prom-token": {"token": "s3cret"}})
    connections = PrometheusConnections(None, secrets)
    first = connections.client(connection(**REFS), "ml")
    for _ in range(5):  # five analysis rounds
        assert connections.client(connection(**REFS), "ml") is first
    bundle = Path(first._conn._session.verify)
    assert sorted(p.name for p in bundle.parent.iterdir()) == [bundle.name]
    connections.close()
    assert not bundle.parent.exists()


def test_a_rotated_secret_gets_a_new_client_and_a_changed_ca_a_new_file() -> None:
    secrets = FakeSecrets({"prom-ca": {"ca.crt": PEM}, "prom-token": {"token": "one"}})
    connections = PrometheusConnections(None, secrets)
    first = connections.client(connection(**REFS), "ml")
    secrets.secrets["prom-token"]["token"] = "two"
    second = connections.client(connection(**REFS), "ml")
    assert second is not first
    assert second._conn.headers == {"Authorization": "Bearer two"}
    secrets.secrets["prom-ca"]["ca.crt"] = OTHER_PEM
    third = connections.client(connection(**REFS), "ml")
    assert Path(third._conn._session.verify).read_text() == OTHER_PEM
    assert third._conn._session.verify != second._conn._session.verify
    connections.close()


def test_a_missing_secret_or_address_is_unavailable_with_its_name() -> None:
    connections = PrometheusConnections(None, FakeSecrets({}))
    with pytest.raises(PrometheusUnavailableError, match="Secret prom-token has no key token"):
        connections.client(connection(**REFS), "ml")
    with pytest.raises(PrometheusUnavailableError, match="no Prometheus address"):
        connections.client(None, "ml")
    assert connections.client(None, "ml", "http://127.0.0.1:9090").url == "http://127.0.0.1:9090"


def test_the_operators_token_and_ca_go_only_to_its_own_address(tmp_path: Path) -> None:
    token, ca = tmp_path / "token", tmp_path / "ca.pem"
    token.write_text("operator-token\n")
    ca.write_text(PEM)
    own = "https://prometheus:9090"
    connections = PrometheusConnections(own, FakeSecrets({}), str(token), str(ca))
    default = connections.client(None, "ml")
    assert default._conn.headers == {"Authorization": "Bearer operator-token"}
    assert default._conn._session.verify == str(ca)
    # A spec naming the same address without credentials of its own gets the operator's.
    same = connections.client(connection(), "ml")
    assert same._conn.headers == {"Authorization": "Bearer operator-token"}
    # A spec naming another address never receives them.
    other = connections.client(connection(address="https://elsewhere:9090"), "ml")
    assert other._conn.headers is None
    assert other._conn._session.verify is True
    # A spec that sets TLS of its own at that address never gets the operator's token: not
    # over unverified TLS, not checked against a CA the spec chose.
    for tls in ({"insecureSkipVerify": True}, {"caSecretRef": {"name": "prom-ca"}}):
        secrets = FakeSecrets({"prom-ca": {"ca.crt": OTHER_PEM}})
        tenant = PrometheusConnections(own, secrets, str(token), str(ca))
        own_tls = tenant.client(connection(tls=tls), "ml")
        assert own_tls._conn.headers is None
        assert own_tls._conn._session.verify != str(ca)
        tenant.close()
    # A spec's own token wins over the operator's, at the operator's address too.
    secrets = FakeSecrets({"prom-token": {"token": "spec-token"}})
    connections = PrometheusConnections(own, secrets, str(token), str(ca))
    spec_token = connections.client(connection(bearerTokenSecretRef={"name": "prom-token"}), "ml")
    assert spec_token._conn.headers == {"Authorization": "Bearer spec-token"}
    connections.close()


def test_a_rotated_operator_token_file_is_read_again_and_a_missing_one_named(
    tmp_path: Path,
) -> None:
    token = tmp_path / "token"
    token.write_text("one")
    connections = PrometheusConnections("http://prometheus:9090", FakeSecrets({}), str(token))
    assert connections.client(None, "ml")._conn.headers == {"Authorization": "Bearer one"}
    token.write_text("two")
    assert connections.client(None, "ml")._conn.headers == {"Authorization": "Bearer two"}
    token.unlink()
    with pytest.raises(PrometheusUnavailableError, match=f"token file {token}"):
        connections.client(None, "ml")
