"""The Secrets named in spec.analysis.prometheus: which key the operator reads by default."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from modelship.api.common import PrometheusConnection, PrometheusTLS
from modelship.api.modeldeployment import ModelDeploymentSpec
from modelship.controller.analysis import PrometheusAnalysis

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class FakeSecrets:
    """Answers the adapter's GETs of Secrets from a dict: name -> {key: text}."""

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets
        self.read: list[str] = []

    def call(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        assert method == "GET"
        name = path.rsplit("/", 1)[-1]
        self.read.append(path)
        data = {k: base64.b64encode(v.encode()).decode() for k, v in self.secrets[name].items()}
        return {"data": data}


def spec(prometheus: dict[str, Any]) -> ModelDeploymentSpec:
    return ModelDeploymentSpec.model_validate(
        {
            "model": {"name": "m", "version": "1", "uri": "s3://b/m/1/"},
            "analysis": {
                "metrics": [{"name": "errors", "builtin": "errorRate", "max": 0.01}],
                "prometheus": {"address": "https://prometheus:9090", **prometheus},
            },
        }
    )


MD = {"metadata": {"namespace": "ml", "name": "fraud"}}


def test_ca_key_defaults_to_ca_crt_and_token_key_to_token() -> None:
    tls = PrometheusTLS.model_validate({"caSecretRef": {"name": "prom-ca"}})
    assert tls.ca_secret_ref is not None
    assert tls.ca_secret_ref.key == "ca.crt"
    conn = PrometheusConnection.model_validate({"bearerTokenSecretRef": {"name": "prom-token"}})
    assert conn.bearer_token_secret_ref is not None
    assert conn.bearer_token_secret_ref.key == "token"


def test_the_ca_bundle_is_read_from_ca_crt_by_default() -> None:
    secrets = FakeSecrets({"prom-ca": {"ca.crt": PEM}, "prom-token": {"token": "s3cret\n"}})
    analysis = PrometheusAnalysis(secrets, None)  # type: ignore[arg-type]
    refs = {
        "bearerTokenSecretRef": {"name": "prom-token"},
        "tls": {"caSecretRef": {"name": "prom-ca"}},
    }
    client = analysis._client(MD, spec(refs))
    assert secrets.read == [
        "/api/v1/namespaces/ml/secrets/prom-token",
        "/api/v1/namespaces/ml/secrets/prom-ca",
    ]
    bundle = client._conn._session.verify
    assert isinstance(bundle, str)
    assert Path(bundle).read_text() == PEM
    Path(bundle).unlink()


def test_an_explicit_ca_key_is_honoured() -> None:
    secrets = FakeSecrets({"prom-ca": {"bundle.pem": PEM}})
    analysis = PrometheusAnalysis(secrets, None)  # type: ignore[arg-type]
    analysis._client(MD, spec({"tls": {"caSecretRef": {"name": "prom-ca", "key": "bundle.pem"}}}))
    assert secrets.read == ["/api/v1/namespaces/ml/secrets/prom-ca"]
