"""Which operator shard owns an object: a stable hash of its namespace or a label."""

from __future__ import annotations

import subprocess
import sys

import pytest
from modelship.controller.settings import parse
from modelship.controller.sharding import Sharding, ShardingError, shard_of


def test_one_shard_owns_everything() -> None:
    assert Sharding().owns("any", {})
    assert not Sharding().sharded


def test_every_object_has_exactly_one_owner_and_the_shares_are_even() -> None:
    shards = [Sharding(3, i) for i in range(3)]
    counts = [0, 0, 0]
    for n in range(3000):
        owners = [i for i, s in enumerate(shards) if s.owns(f"team-{n}", None)]
        assert len(owners) == 1
        counts[owners[0]] += 1
    assert all(900 < c < 1100 for c in counts), counts  # sha256 spreads keys evenly


def test_namespace_key_keeps_a_namespace_together_whatever_the_labels() -> None:
    shard = Sharding(4, shard_of("namespace=ml", 4))
    assert shard.owns("ml", {"team": "a"})
    assert shard.owns("ml", {"team": "b"})


def test_label_key_hashes_the_label_value_and_falls_back_to_the_namespace() -> None:
    by_team = [Sharding(2, i, "label:team") for i in range(2)]
    owner_a = shard_of("label=a", 2)
    assert by_team[owner_a].owns("anything", {"team": "a"})
    assert not by_team[1 - owner_a].owns("anything", {"team": "a"})
    owner_ns = shard_of("namespace=ml", 2)
    assert by_team[owner_ns].owns("ml", {"other": "x"})  # no such label: its namespace


def test_the_owner_is_the_same_in_another_process() -> None:
    """Python's own str hash is salted per process; the shard must not be."""
    code = "from modelship.controller.sharding import shard_of; print(shard_of('namespace=ml', 7))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123"}).stdout  # fmt: skip
    assert int(other) == shard_of("namespace=ml", 7)


@pytest.mark.parametrize(
    ("shards", "index", "key", "message"),
    [
        (0, 0, "namespace", "--shards must be at least 1"),
        (2, 2, "namespace", "--shard-index must be in 0..1"),
        (2, -1, "namespace", "--shard-index must be in 0..1"),
        (2, 0, "label:", "--shard-key must be"),
        (2, 0, "name", "--shard-key must be"),
    ],
)
def test_invalid_sharding_is_refused_with_the_flag_named(
    shards: int, index: int, key: str, message: str
) -> None:
    with pytest.raises(ShardingError, match=message):
        Sharding(shards, index, key)


def test_flags_and_environment() -> None:
    config = parse(["--shards", "3", "--shard-index", "2", "--shard-key", "label:team"], {})
    assert config.sharding == Sharding(3, 2, "label:team")
    env = {"MODELSHIP_SHARDS": "2", "MODELSHIP_SHARD_INDEX": "1"}
    assert parse([], env).sharding == Sharding(2, 1, "namespace")
    assert parse([], {}).sharding == Sharding()


def test_invalid_flags_exit_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["--shards", "2", "--shard-index", "5"], {})
    assert "--shard-index must be in 0..1" in capsys.readouterr().err
