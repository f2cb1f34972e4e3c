"""Several operators, each owning a share of the objects (`--shards N --shard-index I`).

Pure: which shard owns an object is a hash of its shard key, the same in every process
(sha256, not Python's salted `hash`). The key is the object's namespace by default, so a
ModelDeployment, its DriftMonitor and its RetrainPolicy (which refer to each other within a
namespace) are always owned by one shard; `label:<key>` hashes that label's value instead, for
fleets in few namespaces (objects without the label fall back to their namespace). Every
shard keeps the full in-memory indexes (references across shards resolve), but runs workers,
and so writes status and children, only for the objects it owns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

NAMESPACE_KEY = "namespace"
LABEL_PREFIX = "label:"


class ShardingError(ValueError):
    pass


@dataclass(frozen=True)
class Sharding:
    shards: int = 1
    index: int = 0
    key: str = NAMESPACE_KEY
    """`namespace`, or `label:<label key>`."""

    def __post_init__(self) -> None:
        if self.shards < 1:
            raise ShardingError(f"--shards must be at least 1, not {self.shards}")
        if not 0 <= self.index < self.shards:
            raise ShardingError(
                f"--shard-index must be in 0..{self.shards - 1} for --shards {self.shards}, "
                f"not {self.index}"
            )
        if self.key != NAMESPACE_KEY and not (
            self.key.startswith(LABEL_PREFIX) and self.key[len(LABEL_PREFIX) :]
        ):
            raise ShardingError(
                f"--shard-key must be 'namespace' or 'label:<label key>', not {self.key!r}"
            )

    @property
    def sharded(self) -> bool:
        return self.shards > 1

    def key_of(self, namespace: str | None, labels: Mapping[str, str] | None) -> str:
        if self.key.startswith(LABEL_PREFIX):
            value = (labels or {}).get(self.key[len(LABEL_PREFIX) :])
            if value is not None:
                return f"label={value}"
        return f"namespace={namespace or ''}"

    def owns(self, namespace: str | None, labels: Mapping[str, str] | None) -> bool:
        return not self.sharded or shard_of(self.key_of(namespace, labels), self.shards) == (
            self.index
        )


def shard_of(key: str, shards: int) -> int:
    """The shard (0..shards-1) that owns `key`: the same answer in every process."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards
