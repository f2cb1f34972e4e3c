"""The storage adapter: small files read whole, and every failure a message naming the URI."""

from __future__ import annotations

from pathlib import Path

import pytest
from modelship.adapters import storage
from modelship.adapters.storage import StorageError, read_text


def test_a_file_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text('{"metrics": {}}')
    assert read_text(f"file://{tmp_path}/result.json") == '{"metrics": {}}'


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("file:///nonexistent/result.json", "does not exist"),
        ("pvc://models/fraud/8/result.json", "the operator mounts no claims"),
        ("nosuchscheme://bucket/result.json", "cannot read nosuchscheme://"),
    ],
)
def test_what_cannot_be_read_says_why(uri: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        read_text(uri)


def test_a_file_larger_than_a_result_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "MAX_BYTES", 10)
    (tmp_path / "big.json").write_text("x" * 11)
    with pytest.raises(StorageError, match="larger than 10 bytes"):
        read_text(f"file://{tmp_path}/big.json")
