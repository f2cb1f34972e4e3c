"""`modelship serve` under hostile and wrong input, as a real process: never a 5xx, never a
hang, memory bounded (docs/reliability.md).

Oversized bodies (declared and chunked), too many rows, deep or huge JSON, wrong types, NaN and
infinities, unknown models, slow clients, a flood of connections, and a property-based fuzz of
the infer body over HTTP.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from credit_model import TrainedModel, columnar
from fuzz_bodies import VALID, explained_requests, infer_bodies, valued_requests
from hostile_client import exchange, flood, memory_kib, post, request_head, reset_peak
from hypothesis import given, settings
from hypothesis import strategies as st
from served_process import ServerProcess, call, serving

INFER = "/v2/models/credit/infer"
DEFAULT_LIMIT = 8 * 1024 * 1024  # Settings.max_request_bytes
BIG_ROWS = 2_000_000
MIB = 1024


def big_body(rows: int) -> bytes:
    """A valid columnar request of `rows` rows (~50 MB for 2 million), built as text."""

    def column(name: str, datatype: str, value: str) -> str:
        data = ",".join(itertools.repeat(value, rows))
        return f'{{"name":"{name}","shape":[{rows}],"datatype":"{datatype}","data":[{data}]}}'

    inputs = [column("age", "INT64", "42"), column("income", "FP64", "51234.567891"),
              column("country", "BYTES", '"FR"'), column("gender", "BYTES", '"F"')]  # fmt: skip
    return ('{"id":"big","inputs":[' + ",".join(inputs) + "]}").encode()


@pytest.fixture(scope="module")
def oversized() -> bytes:
    body = big_body(BIG_ROWS)
    assert len(body) > 50_000_000
    return body


def assert_refused(answer: Any, status: int, words: str) -> None:
    assert answer.status == status, answer
    assert words in answer.body["error"], answer.body


def assert_alive(server: ServerProcess) -> None:
    assert server.proc.poll() is None
    assert server.status("/v2/health/ready") == 200
    assert "Traceback" not in server.log.read_text(errors="replace"), server.log_tail()


def test_declared_oversized_body_is_refused_before_it_is_read(server: ServerProcess) -> None:
    # Only the headers go out: the answer comes without the server waiting for the body.
    head = request_head(INFER, {"Content-Length": str(50 * 1024 * 1024)})
    answer = exchange(server, head, timeout=10)
    assert_refused(answer, 413, f"larger than {DEFAULT_LIMIT} bytes (--max-request-bytes)")


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_oversized_body_sent_whole_is_413_and_memory_stays_bounded(
    server: ServerProcess, oversized: bytes, framing: str
) -> None:
    pid = server.proc.pid
    before = memory_kib(pid)["VmRSS"]
    reset_peak(pid)
    if framing == "chunked":
        pieces = (oversized[i : i + MIB * MIB] for i in range(0, len(oversized), MIB * MIB))
        answer = post(server, INFER, pieces)
    else:
        answer = post(server, INFER, oversized)
    growth = memory_kib(pid)["VmHWM"] - before
    print(f"{framing}: {len(oversized) / 1e6:.1f} MB body, {BIG_ROWS} rows -> {answer.status} "
          f"in {answer.seconds:.2f} s, peak RSS growth {growth / MIB:.1f} MiB")  # fmt: skip
    assert_refused(answer, 413, "--max-request-bytes")
    # The chunked body is held up to the limit, then dropped; the declared one not at all.
    assert growth < 2 * DEFAULT_LIMIT // MIB, f"peak RSS grew {growth} KiB"
    assert_alive(server)


def test_too_many_rows_under_the_byte_limit_is_refused(server: ServerProcess) -> None:
    body = big_body(100_001)
    assert len(body) < DEFAULT_LIMIT
    answer = post(server, INFER, body)
    assert_refused(answer, 400, "the batch has 100001 rows; this server takes at most 100000")


def valid_json(**changes: Any) -> bytes:
    return json.dumps({**VALID, **changes}).encode()


def with_income(token: str) -> bytes:
    """VALID with the income column's first value replaced by a raw JSON token."""
    return json.dumps(VALID).replace("40.5", token, 1).encode()


HOSTILE: list[tuple[str, str, bytes, int, str]] = [
    ("deep JSON", INFER, b'{"inputs":' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400,
     "recursion limit"),
    ("huge id", INFER, valid_json(id="x" * (DEFAULT_LIMIT - 1000)), 400,
     "id: String should have at most 256 characters"),
    ("huge category", INFER, json.dumps(VALID).replace('"FR"', '"' + "x" * 7_000_000 + '"', 1)
     .encode(), 400, "unknown category 'xxx"),
    ("huge key count", INFER,
     json.dumps({f"k{i}": i for i in range(300_000)}).encode(), 400, "inputs: Field required"),
    ("not JSON", INFER, b"\x00\xff{{", 400, "invalid JSON"),
    ("empty body", INFER, b"", 400, "invalid JSON"),
    ("NaN token", INFER, with_income("NaN"), 400, "finite numbers"),
    ("Infinity token", INFER, with_income("Infinity"), 400, "finite numbers"),
    ("-Infinity token", INFER, with_income("-Infinity"), 400, "finite numbers"),
    ("1e999", INFER, with_income("1e999"), 400, "finite numbers"),
    ('"NaN" as a string', INFER, with_income('"NaN"'), 400, "numbers, not strings"),
    ('"Infinity" as a string', INFER, with_income('"Infinity"'), 400, "numbers, not strings"),
    ('"40.5" as a string', INFER, with_income('"40.5"'), 400, "numbers, not strings"),
    ("true for a float", INFER, with_income("true"), 400, "numbers, not booleans"),
    ("object for a number", INFER, with_income('{"a": 1}'), 400, "data must be numbers"),
    ("shape of strings", INFER, json.dumps(VALID).replace('"shape": [2]', '"shape": ["2"]', 1)
     .encode(), 400, "inputs.0.shape.0"),
    ("id a number", INFER, valid_json(id=7), 400, "id: Input should be a valid string"),
    ("inputs an object", INFER, valid_json(inputs={"a": 1}), 400, "inputs"),
    ("unknown model", "/v2/models/other/infer", valid_json(), 404, "model 'other' not found"),
    ("unknown version", "/v2/models/credit/versions/9/infer", valid_json(), 404,
     "has no version '9'"),
    ("feedback NaN", "/v2/models/credit/feedback", b'{"id": "a", "ground_truth": [NaN]}', 400,
     "ground_truth: values must be finite numbers"),
    ("feedback unknown model", "/v2/models/other/feedback",
     b'{"id": "a", "ground_truth": ["deny"]}', 404, "not found"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in HOSTILE],
)
def test_hostile_bodies_get_4xx_with_the_protocol_error_body(
    server: ServerProcess, path: str, body: bytes, status: int, words: str
) -> None:
    answer = post(server, path, body, timeout=30)
    assert answer.status == status, answer
    if status >= 400:
        assert words in answer.body["error"], answer.body
        assert len(answer.body["error"]) <= 1000  # a client's value is quoted, not echoed whole


@pytest.fixture(scope="module")
def impatient(trained: TrainedModel) -> Iterator[ServerProcess]:
    """The credit model with a 2 s read timeout (the default is 30 s)."""
    with serving(trained, ["--read-timeout", "2"]) as handle:
        yield handle


@pytest.mark.parametrize(
    ("framing", "pieces"),
    [
        pytest.param({"Content-Length": "2000"}, itertools.repeat(b" "), id="trickle"),
        pytest.param({"Content-Length": "2000"}, (), id="headers only"),
        pytest.param({"Transfer-Encoding": "chunked"}, itertools.repeat(b"1\r\n \r\n"),
                     id="chunked trickle"),
    ],
)  # fmt: skip
def test_slow_client_gets_408_and_holds_no_worker(
    impatient: ServerProcess, framing: dict[str, str], pieces: Iterator[bytes]
) -> None:
    answers: dict[str, Any] = {}
    sent = threading.Event()
    head = request_head(INFER, framing)
    slow = threading.Thread(
        target=lambda: answers.update(slow=exchange(impatient, head, pieces, pace=0.1, sent=sent))
    )
    slow.start()
    try:
        assert sent.wait(10), "the slow client could not connect"
        started = time.monotonic()
        status, _ = call(impatient, INFER, VALID)  # answered while the slow one trickles
        beside = time.monotonic() - started
    finally:
        slow.join(timeout=20)
    answer = answers["slow"]
    assert_refused(answer, 408, "did not arrive within 2 s (--read-timeout)")
    assert 1.9 < answer.seconds < 6, answer.seconds
    assert status == 200
    assert beside < answer.seconds
    assert_alive(impatient)


def test_flood_of_connections_is_served_without_5xx(server: ServerProcess) -> None:
    pid = server.proc.pid
    before = memory_kib(pid)["VmRSS"]
    reset_peak(pid)
    body = json.dumps(columnar([{"age": 30, "income": 40.5, "country": "FR"}])).encode()
    statuses = flood(server, INFER, body, connections=1000)
    growth = memory_kib(pid)["VmHWM"] - before
    print(f"flood: 1000 connections at once -> {sorted(set(statuses))}, "
          f"peak RSS growth {growth / MIB:.1f} MiB")  # fmt: skip
    assert statuses == [200] * 1000
    assert growth < 64 * MIB, f"peak RSS grew {growth} KiB"
    assert_alive(server)


FUZZ_CASES = 400
fuzz_bodies = st.binary(max_size=300) | infer_bodies.map(lambda b: json.dumps(b).encode())


@pytest.fixture(scope="module")
def connection(server: ServerProcess) -> Iterator[http.client.HTTPConnection]:
    handle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    yield handle
    handle.close()


def fuzz(
    server: ServerProcess, connection: http.client.HTTPConnection,
    requests: st.SearchStrategy[tuple[str, bytes]], cases: int,
) -> Counter[int]:  # fmt: skip
    """POST `cases` drawn (path, body) pairs: never a 5xx, every 4xx with an error body."""
    seen: list[int] = []

    @settings(max_examples=cases, deadline=None, database=None)
    @given(request=requests)
    def one(request: tuple[str, bytes]) -> None:
        path, body = request
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
        seen.append(response.status)
        assert response.status < 500, raw
        if response.status >= 400:
            assert "error" in json.loads(raw)

    one()
    assert len(seen) >= cases
    assert_alive(server)
    return Counter(seen)


def test_fuzzed_infer_bodies_never_get_a_5xx(
    server: ServerProcess, connection: http.client.HTTPConnection
) -> None:
    seen = fuzz(server, connection, st.tuples(st.just(INFER), fuzz_bodies), FUZZ_CASES)
    print(f"fuzz: {seen.total()} bodies over HTTP -> statuses {dict(sorted(seen.items()))}")


EXPLAIN_CASES = 150  # an explanation costs ~10^3 predictions a row


def test_fuzzed_explain_bodies_never_get_a_5xx(server: ServerProcess) -> None:
    warm = call(server, "/v2/models/credit/explain", VALID, timeout=180)  # imports shap
    assert warm[0] == 200, warm
    # A connection of its own, opened after the warm-up: an idle keep-alive one is closed by
    # the server after 5 s.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    explained = explained_requests.map(lambda b: json.dumps(b).encode())
    # Well-formed rows of any values too, so the explainers themselves are fuzzed, not only
    # the validation in front of them.
    valid_rows = st.lists(
        st.tuples(st.integers(18, 89), st.floats(allow_nan=False, allow_infinity=False),
                  st.sampled_from(["FR", "DE", "US"])), min_size=1, max_size=4,
    )  # fmt: skip
    served = valid_rows.map(
        lambda rows: columnar([{"age": a, "income": i, "country": c} for a, i, c in rows])
    )
    valued = (valued_requests | served).map(lambda b: json.dumps(b).encode())
    requests = st.tuples(st.just("/v2/models/credit/explain"), fuzz_bodies | valued) | st.tuples(
        st.just(INFER), explained
    )
    try:
        seen = fuzz(server, connection, requests, EXPLAIN_CASES)
    finally:
        connection.close()
    print(f"fuzz: {seen.total()} explain and infer+explain bodies -> {dict(sorted(seen.items()))}")
