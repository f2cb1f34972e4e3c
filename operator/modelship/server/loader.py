"""Fetch a model artifact from its URI (fsspec) and find the file to load.

Local paths and file:// are used in place; http(s)://, s3:// and gs:// are downloaded into the
cache directory first (s3 and gs need the `s3`/`gcs` extras). A URI may name a file or a
directory holding one of the well-known artifact names below.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlparse

# Artifact names looked for, in order, when the URI is a directory.
ARTIFACT_NAMES: dict[str, tuple[str, ...]] = {
    "sklearn": ("model.joblib", "model.pkl", "model.pickle"),
    "xgboost": ("model.json", "model.ubj", "model.bst"),
    "lightgbm": ("model.txt", "model.lgb"),
    "onnx": ("model.onnx",),
    "custom": (),
}
EXTRA_FOR_PROTOCOL = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}


class ModelLoadError(RuntimeError):
    """The model could not be fetched or loaded; the message says why and what to do."""


def is_local(uri: str) -> bool:
    return urlparse(uri).scheme in {"", "file"}


def local_path(uri: str) -> Path:
    parsed = urlparse(uri)
    return Path(parsed.path if parsed.scheme == "file" else uri)


def fetch(uri: str, cache_dir: str = "") -> Path:
    """A local path holding the artifact named by `uri` (downloaded when remote)."""
    if is_local(uri):
        path = local_path(uri)
        if not path.exists():
            raise ModelLoadError(f"model URI {uri!r}: {path} does not exist")
        return path
    import fsspec

    scheme = urlparse(uri).scheme
    if scheme == "pvc":
        raise ModelLoadError(
            f"model URI {uri!r}: pvc:// URIs are mounted by the operator, which passes the "
            "server a file:// URI; outside Kubernetes, give the claim's local path as file://"
        )
    try:
        fs, remote = fsspec.core.url_to_fs(uri)
    except ImportError as err:
        extra = EXTRA_FOR_PROTOCOL.get(scheme, scheme)
        raise ModelLoadError(
            f"model URI {uri!r}: the {scheme}:// scheme needs the {extra!r} extra "
            f"(pip install 'modelship[{extra}]'): {err}"
        ) from err
    except ValueError as err:
        raise ModelLoadError(f"model URI {uri!r}: {err}") from err
    target = Path(tempfile.mkdtemp(prefix="modelship-model-", dir=cache_dir or None))
    try:
        if fs.isdir(remote):
            fs.get(remote.rstrip("/") + "/", str(target) + "/", recursive=True)
            return target
        destination = target / (Path(remote).name or "model")
        fs.get(remote, str(destination))
        return destination
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"model URI {uri!r}: download failed: {err}") from err


def artifact_file(path: Path, fmt: str) -> Path:
    """The file to load: `path` itself, or the first well-known artifact in the directory."""
    if path.is_file() or fmt == "custom":
        return path
    for name in ARTIFACT_NAMES[fmt]:
        candidate = path / name
        if candidate.is_file():
            return candidate
    expected = ", ".join(ARTIFACT_NAMES[fmt])
    raise ModelLoadError(f"{path} is a directory without a {fmt} artifact (looked for {expected})")
