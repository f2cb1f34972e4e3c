"""Children as the operator compares them with the live objects. Pure.

Two decisions the Kubernetes adapter acts on: whether a live child differs from its manifest
and what merge patch restores it (`restore_patch`), and whether a watch event for a child is
someone else's change that the owner must look at (`foreign_change`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Maps in a child's spec that the operator sets whole: a key it does not set is removed (a
# Service selecting both revisions drops the revision key; one added by hand goes too).
OWNED_MAPS: dict[str, tuple[str, ...]] = {"Service": ("selector",)}


def contains(live: Any, want: Any) -> bool:
    """Every field `want` sets has the same value in `live`, which may hold more (the API
    server's defaults); a None in `want` means the field is absent, and an empty map or list
    matches an absent field too (the API server drops empty ones it stores `omitempty`)."""
    if isinstance(want, Mapping):
        return isinstance(live, Mapping) and all(
            live.get(key) in (None, {}, [])
            if value is None or value in ({}, [])
            else key in live and contains(live[key], value)
            for key, value in want.items()
        )
    if isinstance(want, list):
        return (
            isinstance(live, list)
            and len(live) == len(want)
            and all(contains(have, wanted) for have, wanted in zip(live, want, strict=True))
        )
    return bool(live == want)


def extra_owned_keys(
    kind: str, live: Mapping[str, Any], want: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Keys of the owned maps of `kind` that the live spec has and `want` does not."""
    extra = {}
    for field in OWNED_MAPS.get(kind, ()):
        keys = sorted(set(live.get(field) or {}) - set(want.get(field) or {}))
        if keys:
            extra[field] = keys
    return extra


def restore_patch(
    manifest: Mapping[str, Any], live: Mapping[str, Any], annotation: str
) -> dict[str, Any] | None:
    """The merge patch that makes `live` what `manifest` says, or None when it already is:
    its content hash (`annotation`) matches and every field the manifest sets holds (a hand
    edit keeps the hash annotation, so the content is compared too)."""
    meta = manifest["metadata"]
    want_spec = manifest["spec"]
    live_spec = live.get("spec") or {}
    live_hash = ((live.get("metadata") or {}).get("annotations") or {}).get(annotation)
    extra = extra_owned_keys(manifest["kind"], live_spec, want_spec)
    if (
        live_hash == meta["annotations"][annotation]
        and not extra
        and contains(live_spec, want_spec)
    ):
        return None
    spec = dict(want_spec)
    for field, keys in extra.items():  # a merge patch removes a key set to null
        spec[field] = {**spec.get(field, {}), **dict.fromkeys(keys)}
    return {
        "metadata": {
            "labels": meta.get("labels"),
            "annotations": meta.get("annotations"),
            "ownerReferences": meta.get("ownerReferences"),
        },
        "spec": spec,
    }


@dataclass(frozen=True)
class Seen:
    """What the operator last wrote of a child, or last saw change in its status only."""

    version: str
    """resourceVersion"""
    generation: int | None


def foreign_change(
    seen: Seen | None, version: str, generation: int | None, deleted: bool, wanted: bool
) -> bool:
    """Whether a watch event for a child is a change by someone else the owner must restore:
    not the echo of the operator's own write (its resourceVersion), not a status write of
    another controller (the same generation: an HPA's, a gateway's), not the deletion of a
    child the last plan no longer `wanted`."""
    if deleted:
        return wanted and (seen is None or seen.version != version)
    if seen is None:
        return True
    if seen.version == version:
        return False
    return generation is None or seen.generation != generation
