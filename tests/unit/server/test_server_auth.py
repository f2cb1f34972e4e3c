"""Bearer-token authentication: protected and open routes, token files, rotation, fail-closed."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from credit_model import TrainedModel, columnar, settings_for
from modelship.server.app import create_app
from modelship.server.auth import GRACE_SECONDS, RECHECK_SECONDS
from modelship.server.settings import Settings, SettingsError, from_arguments, from_environment
from secret_volume import SecretVolume
from starlette.testclient import TestClient

TOKEN = "tok-Alpha-1.~+/="  # token68 characters
OTHER = "tok-Bravo-2.~+/="  # the same length: a rotation stat alone might not notice
ROW = [{"age": 30, "income": 40.5, "country": "FR"}]

# (method, path, JSON body): every route that needs the token.
PROTECTED = [
    ("GET", "/v2", None),
    ("GET", "/v2/models/credit", None),
    ("GET", "/v2/models/credit/versions/3", None),
    ("POST", "/v2/models/credit/infer", columnar(ROW)),
    ("POST", "/v2/models/credit/versions/3/infer", columnar(ROW)),
    ("POST", "/v2/models/credit/feedback", {"id": "unknown", "ground_truth": ["deny"]}),
    ("POST", "/v2/models/credit/versions/3/feedback", {"id": "x", "ground_truth": ["deny"]}),
]
OPEN = [
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/credit/ready",
    "/v2/models/credit/versions/3/ready",
]


class Clock:
    """A monotonic clock the test moves by hand: token rechecks happen when it says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = RECHECK_SECONDS + 0.01) -> None:
        self.now += seconds


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def send(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.request(method, path, json=body, headers=headers)


def infer(client: TestClient, token: str | None) -> int:
    headers = bearer(token) if token is not None else {}
    return client.post("/v2/models/credit/infer", json=columnar(ROW), headers=headers).status_code


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def volume(tmp_path: Path) -> SecretVolume:
    secret = SecretVolume(tmp_path / "auth")
    secret.write(TOKEN + "\n")  # `kubectl create secret --from-file` keeps the newline
    return secret


def served(settings: Settings, clock: Clock | None = None) -> TestClient:
    app = create_app(settings, load_in_background=False, clock=clock or Clock())
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def authed(credit: TrainedModel, volume: SecretVolume, clock: Clock) -> Iterator[TestClient]:
    with served(settings_for(credit, auth_token_file=str(volume.path)), clock) as client:
        yield client


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_every_protected_route_needs_the_right_token(
    authed: TestClient, method: str, path: str, body: Any
) -> None:
    missing = send(authed, method, path, body, {})
    assert missing.status_code == 401
    assert missing.json() == {
        "error": "missing bearer token: send the header 'Authorization: Bearer <token>'"
    }
    assert missing.headers["www-authenticate"] == 'Bearer realm="modelship"'

    wrong = send(authed, method, path, body, bearer(OTHER))
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "invalid bearer token"}
    assert wrong.headers["www-authenticate"] == 'Bearer realm="modelship", error="invalid_token"'

    for header in (f"Basic {TOKEN}", TOKEN, "Bearer", "Bearer ", f"Bearer {TOKEN}x",
                   f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN.upper()}"):  # fmt: skip
        refused = send(authed, method, path, body, {"Authorization": header})
        assert refused.status_code == 401, header
        assert refused.headers["www-authenticate"].startswith("Bearer")

    for header in (f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER   {TOKEN}"):
        allowed = send(authed, method, path, body, {"Authorization": header})
        assert allowed.status_code == 200, (header, allowed.text)


@pytest.mark.parametrize("path", OPEN)
def test_health_routes_stay_open_for_probes(authed: TestClient, path: str) -> None:
    assert authed.get(path).status_code == 200
    assert authed.get(path, headers=bearer("wrong")).status_code == 200


def test_metrics_stay_open_by_default_and_count_refusals(authed: TestClient) -> None:
    base = 'model="credit",version="3",revision="r1"'
    assert infer(authed, None) == 401
    assert infer(authed, OTHER) == 401
    assert infer(authed, TOKEN) == 200
    response = authed.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert f'modelship_unauthorized_requests_total{{{base},reason="missing"}} 1' in text
    assert f'modelship_unauthorized_requests_total{{{base},reason="invalid"}} 1' in text
    # Refused requests are not inference requests: they never dilute the error rate.
    assert f'modelship_requests_total{{{base},outcome="success"}} 1' in text
    assert f'modelship_requests_total{{{base},outcome="client_error"}} 0' in text


def test_auth_metrics_protects_metrics(credit: TrainedModel, volume: SecretVolume) -> None:
    settings = dataclasses.replace(
        settings_for(credit, auth_token_file=str(volume.path)), auth_metrics=True
    )
    with served(settings) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=bearer(OTHER)).status_code == 401
        scraped = client.get("/metrics", headers=bearer(TOKEN))
        assert scraped.status_code == 200
        assert "modelship_model_ready" in scraped.text
        assert client.get("/v2/health/ready").status_code == 200


def test_without_a_token_everything_is_open_and_unwrapped(client: TestClient) -> None:
    assert client.post("/v2/models/credit/infer", json=columnar(ROW)).status_code == 200
    assert client.get("/v2").status_code == 200
    server = client.app.state.server
    assert server.auth is None
    endpoints = {route.path: route.endpoint for route in client.app.routes}
    # No wrapper on the hot path when auth is off: the route calls the handler itself.
    assert endpoints["/v2/models/{name}/infer"] == server.infer
    assert "modelship_unauthorized_requests_total" not in client.get("/metrics").text


def test_a_literal_token_from_the_environment(credit: TrainedModel) -> None:
    env = {**settings_for(credit).to_environment(), "MODELSHIP_AUTH_TOKEN": f" {TOKEN}\n"}
    with served(from_environment(env)) as client:
        assert infer(client, None) == 401
        assert infer(client, OTHER) == 401
        assert infer(client, TOKEN) == 200


def test_a_rotated_secret_takes_effect_without_a_restart(
    authed: TestClient, volume: SecretVolume, clock: Clock, logs: list[dict[str, Any]]
) -> None:
    assert infer(authed, TOKEN) == 200
    volume.write(OTHER + "\n")
    # The file is looked at no more than once per recheck interval...
    assert infer(authed, TOKEN) == 200
    assert infer(authed, OTHER) == 401
    clock.advance()
    # ...and the next look sees the new token; the old one stops working at once.
    assert infer(authed, OTHER) == 200
    assert infer(authed, TOKEN) == 401
    changed = [e for e in logs if e["event"].startswith("auth token changed")]
    assert len(changed) == 1  # once, though the new file is re-read while it is brand new
    assert changed[0]["file"] == str(volume.path)
    assert not [e for e in logs if e["log_level"] == "error"]


class StatProxy:
    """`os` as the auth module sees it, with `stat` counted and maybe coarsened."""

    def __init__(self, coarse: bool = False) -> None:
        self.calls = 0
        self.coarse = coarse
        self._frozen: tuple[int, int] | None = None

    def stat(self, path: str) -> Any:
        self.calls += 1
        st = os.stat(path)
        if not self.coarse:
            return st
        # A filesystem whose timestamps tick slower than the writes: every stat shows the
        # first mtime and ctime seen.
        self._frozen = self._frozen or (st.st_mtime_ns, st.st_ctime_ns)
        mtime, ctime = self._frozen
        return SimpleNamespace(st_dev=st.st_dev, st_ino=st.st_ino, st_size=st.st_size,
                               st_mtime_ns=mtime, st_ctime_ns=ctime)  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def test_a_file_rewritten_in_place_with_the_same_size_is_noticed(
    authed: TestClient, volume: SecretVolume, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelship.server.auth as auth_module

    monkeypatch.setattr(auth_module, "os", StatProxy(coarse=True))
    clock.advance()
    assert infer(authed, TOKEN) == 200
    # Not atomic, same size and (coarse) the same timestamps: stat alone cannot tell.
    volume.path.resolve().write_text(OTHER + "\n")
    clock.advance()
    assert infer(authed, OTHER) == 200
    assert infer(authed, TOKEN) == 401


def test_an_unchanged_file_is_stat_ed_once_per_interval_and_not_re_read(
    authed: TestClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelship.server.auth as auth_module

    proxy = StatProxy()
    monkeypatch.setattr(auth_module, "os", proxy)
    monkeypatch.setattr(auth_module, "RACY_NS", 0)  # the fixture's file is brand new
    clock.advance()
    for _ in range(20):
        assert infer(authed, TOKEN) == 200
    assert proxy.calls == 1
    opened: list[str] = []
    monkeypatch.setattr(auth_module, "open", lambda *a, **k: opened.append(a[0]), raising=False)
    clock.advance()
    assert infer(authed, TOKEN) == 200  # stat'ed again, unchanged: not re-read
    assert proxy.calls == 2
    assert opened == []


def test_an_empty_token_file_fails_closed(
    credit: TrainedModel, tmp_path: Path, clock: Clock, logs: list[dict[str, Any]]
) -> None:
    volume = SecretVolume(tmp_path / "auth")
    volume.write("\n")
    with served(settings_for(credit, auth_token_file=str(volume.path)), clock) as client:
        for _ in range(3):
            response = client.post("/v2/models/credit/infer", json=columnar(ROW),
                                   headers={"Authorization": "Bearer "})  # fmt: skip
            assert response.status_code == 401
            assert "token file is empty or unreadable" in response.json()["error"]
            assert infer(client, None) == 401
            assert infer(client, TOKEN) == 401
            assert client.get("/v2/models/credit").status_code == 401
            assert client.get("/v2/health/ready").status_code == 200
            clock.advance()
        errors = [e for e in logs if e["log_level"] == "error"]
        assert len(errors) == 1  # logged once, not per request or per recheck
        assert f"auth token file {volume.path} is empty" in errors[0]["event"]
        assert errors[0]["file"] == str(volume.path)

        volume.write(TOKEN)
        clock.advance()
        assert infer(client, TOKEN) == 200
        assert logs[-1]["event"] == "auth token loaded"


def test_a_token_file_that_becomes_empty_fails_closed_at_once(
    authed: TestClient, volume: SecretVolume, clock: Clock
) -> None:
    assert infer(authed, TOKEN) == 200
    volume.write("")
    clock.advance()
    assert infer(authed, TOKEN) == 401
    assert infer(authed, "") == 401


def test_a_missing_token_file_at_start_fails_closed(
    credit: TrainedModel, tmp_path: Path, clock: Clock, logs: list[dict[str, Any]]
) -> None:
    path = tmp_path / "nowhere" / "token"
    with served(settings_for(credit, auth_token_file=str(path)), clock) as client:
        assert infer(client, None) == 401
        assert infer(client, TOKEN) == 401
        assert client.get("/v2/health/live").status_code == 200
        errors = [e for e in logs if e["log_level"] == "error"]
        assert len(errors) == 1
        assert f"cannot read auth token file {path}: FileNotFoundError" in errors[0]["event"]
        path.parent.mkdir()
        path.write_text(TOKEN)
        assert infer(client, TOKEN) == 401  # not before the next recheck
        clock.advance()
        assert infer(client, TOKEN) == 200


def test_an_unreadable_file_keeps_the_previous_token_for_a_grace_period_then_fails_closed(
    authed: TestClient, volume: SecretVolume, clock: Clock, logs: list[dict[str, Any]]
) -> None:
    assert infer(authed, TOKEN) == 200
    volume.path.unlink()
    clock.advance()
    assert infer(authed, TOKEN) == 200  # a transient failure: the previous token holds
    assert infer(authed, OTHER) == 401
    clock.advance(GRACE_SECONDS - 2 * RECHECK_SECONDS)
    assert infer(authed, TOKEN) == 200
    clock.advance(2 * RECHECK_SECONDS + 0.5)
    assert infer(authed, TOKEN) == 401  # unreadable for longer than the grace: closed
    assert infer(authed, None) == 401
    errors = [e["event"] for e in logs if e["log_level"] == "error"]
    assert len(errors) == 2, errors  # one when it started failing, one when it closed
    assert "the previous token stays valid for up to 30 s" in errors[0]
    assert "every protected request answers 401" in errors[1]
    assert all(str(volume.path) in e for e in errors)

    volume.path.symlink_to(f"..data/{volume.key}")  # back, with the old content
    clock.advance()
    assert infer(authed, TOKEN) == 200


def test_a_short_failure_then_a_new_token(
    authed: TestClient, volume: SecretVolume, clock: Clock
) -> None:
    volume.path.unlink()
    clock.advance()
    assert infer(authed, TOKEN) == 200
    volume.write(OTHER)
    clock.advance()
    assert infer(authed, OTHER) == 200
    assert infer(authed, TOKEN) == 401


def test_the_token_never_reaches_the_logs(
    credit: TrainedModel,
    volume: SecretVolume,
    clock: Clock,
    logs: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with served(settings_for(credit, auth_token_file=str(volume.path)), clock) as client:
        assert infer(client, TOKEN) == 200
        assert infer(client, OTHER) == 401
        volume.write(OTHER)
        clock.advance()
        assert infer(client, OTHER) == 200
        volume.write("")
        clock.advance()
        assert infer(client, OTHER) == 401
        volume.path.unlink()
        clock.advance(GRACE_SECONDS + 1)
        assert infer(client, OTHER) == 401
        volume.path.symlink_to(f"..data/{volume.key}")
        volume.write(f"{TOKEN} has a space")
        clock.advance()
        assert infer(client, TOKEN) == 401
    captured = capsys.readouterr()
    assert len(logs) >= 5  # loaded, changed, empty, unreadable, bad characters
    text = repr(logs) + captured.out + captured.err
    for secret in (TOKEN, OTHER, "has a space"):
        assert secret not in text
    assert "holds whitespace, control or non-ASCII characters" in text


def test_auth_settings() -> None:
    base = {"MODELSHIP_MODEL_NAME": "m", "MODELSHIP_MODEL_URI": "file:///m"}
    settings = from_environment({**base, "MODELSHIP_AUTH_TOKEN": TOKEN})
    assert settings.auth_enabled
    assert settings.auth_token == TOKEN
    assert TOKEN not in repr(settings)
    assert from_environment(settings.to_environment()) == settings
    flagged = from_arguments(["--auth-token-file", "/t", "--auth-metrics"], base)
    assert (flagged.auth_token_file, flagged.auth_metrics) == ("/t", True)
    assert from_environment(flagged.to_environment()) == flagged
    env = {**base, "MODELSHIP_AUTH_TOKEN_FILE": "/t", "MODELSHIP_AUTH_METRICS": "true"}
    assert from_arguments(["--no-auth-metrics"], env).auth_metrics is False
    assert from_environment(env).auth_metrics is True
    assert not from_environment(base).auth_enabled


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODELSHIP_AUTH_TOKEN": "a", "MODELSHIP_AUTH_TOKEN_FILE": "/t"}, "not both"),
        ({"MODELSHIP_AUTH_METRICS": "true"}, "needs a token"),
        ({"MODELSHIP_AUTH_TOKEN_FILE": "/t", "MODELSHIP_AUTH_METRICS": "maybe"},
         "expected true or false"),
        ({"MODELSHIP_AUTH_TOKEN": "two words"}, "holds whitespace"),
        ({"MODELSHIP_AUTH_TOKEN": "   "}, "MODELSHIP_AUTH_TOKEN is empty"),
    ],
)  # fmt: skip
def test_auth_settings_errors(env: dict[str, str], message: str) -> None:
    base = {"MODELSHIP_MODEL_NAME": "m", "MODELSHIP_MODEL_URI": "file:///m"}
    with pytest.raises(SettingsError, match=message) as raised:
        from_environment({**base, **env})
    assert "two words" not in str(raised.value)
