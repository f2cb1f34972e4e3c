"""`modelship serve` as a real process with a bearer token in a file, rotated while it runs."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from credit_model import TrainedModel, columnar
from modelship_testing.waiters import wait_for
from secret_volume import SecretVolume
from served_process import ServerProcess, call, scrape, serving

FIRST = "first-token-4f1c9e"
SECOND = "second-token-77ab01"
THIRD = "third-token-c0ffee"
ROWS = [{"age": 40, "income": 50.0, "country": "FR"}]
INFER = "/v2/models/credit/infer"


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> SecretVolume:
    secret = SecretVolume(tmp_path_factory.mktemp("secret") / "auth")
    secret.write(FIRST + "\n")
    return secret


@pytest.fixture(scope="module")
def guarded(trained: TrainedModel, volume: SecretVolume) -> Iterator[ServerProcess]:
    """The credit model behind a token file, as the operator configures the pod."""
    with serving(
        trained,
        [],
        MODELSHIP_MODEL_URI=f"file://{trained.model_path}",
        MODELSHIP_REVISION="auth",
        MODELSHIP_AUTH_TOKEN_FILE=str(volume.path),
    ) as handle:
        yield handle


def infer(server: ServerProcess, token: str | None) -> int:
    return call(server, INFER, columnar(ROWS), token=token)[0]


def refusal(server: ServerProcess, path: str) -> urllib.error.HTTPError:
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(server.url + path, timeout=10)
    return raised.value


def test_routes_need_the_token_and_probes_do_not(guarded: ServerProcess) -> None:
    for path in ("/v2", "/v2/models/credit"):
        assert call(guarded, path)[0] == 401
        assert call(guarded, path, token=SECOND)[0] == 401
        assert call(guarded, path, token=FIRST)[0] == 200
    status, body = call(guarded, INFER, columnar(ROWS))
    assert (status, body["error"]) == (401, "missing bearer token: send the header "
                                            "'Authorization: Bearer <token>'")  # fmt: skip
    assert infer(guarded, SECOND) == 401
    assert infer(guarded, FIRST) == 200
    feedback = {"id": "none", "ground_truth": ["deny"]}
    assert call(guarded, "/v2/models/credit/feedback", feedback)[0] == 401
    assert call(guarded, "/v2/models/credit/feedback", feedback, token=FIRST)[0] == 200
    refused = refusal(guarded, "/v2")
    assert refused.code == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="modelship"'
    for probe in ("/v2/health/live", "/v2/health/ready", "/v2/models/credit/ready"):
        assert guarded.status(probe) == 200
    metrics = scrape(guarded)  # open by default, so Prometheus needs no token
    assert metrics['modelship_requests_total{model="credit",version="3",revision="auth",'
                   'outcome="success"}'] >= 1  # fmt: skip


def test_rotation_then_an_empty_file_then_recovery_and_a_clean_log(
    guarded: ServerProcess, volume: SecretVolume
) -> None:
    assert infer(guarded, FIRST) == 200
    volume.write(SECOND + "\n")  # what the kubelet does when the Secret changes
    rotated = time.monotonic()
    wait_for(lambda: infer(guarded, SECOND) == 200, timeout=10, interval=0.05,
             describe="the rotated token to be accepted")  # fmt: skip
    took = time.monotonic() - rotated
    print(f"rotation took effect after {took:.3f} s")
    assert took < 3, f"rotation took {took:.2f} s; the file is stat'ed about once per second"
    assert infer(guarded, FIRST) == 401

    volume.write("")  # never "open": an empty Secret key refuses everyone
    wait_for(lambda: infer(guarded, SECOND) == 401, timeout=10, interval=0.05,
             describe="an empty token file to fail closed")  # fmt: skip
    status, body = call(guarded, INFER, columnar(ROWS), token="")
    assert status == 401
    assert "token file is empty or unreadable" in body["error"]
    assert guarded.status("/v2/health/ready") == 200  # probes stay green: the pod is fine

    volume.write(THIRD)
    wait_for(lambda: infer(guarded, THIRD) == 200, timeout=10, interval=0.05,
             describe="a new token after the empty file")  # fmt: skip
    assert infer(guarded, SECOND) == 401

    log = Path(guarded.log).read_text()  # the file is named, a token never
    assert f"auth token file {volume.path} is empty" in log
    assert "auth token changed" in log
    for token in (FIRST, SECOND, THIRD):
        assert token not in log
