"""The object-storage adapter: read small text files (a run's result.json, its profile) at
the URIs trainers write to, through fsspec (file://, and s3://, gs://, ... when their fsspec
backends are installed). No decisions here."""

from __future__ import annotations

import fsspec

# Results and profiles are small; anything bigger is not one of them.
MAX_BYTES = 8 * 1024 * 1024


class StorageError(RuntimeError):
    """The file cannot be read: missing, no backend for the scheme, too large, no access."""


def read_text(uri: str) -> str:
    if uri.startswith("pvc://"):
        raise StorageError(
            f"cannot read {uri}: the operator mounts no claims; report the result in the "
            "termination message and write the profile where the operator can read it "
            "(object storage, or file:// on storage both share)"
        )
    try:
        with fsspec.open(uri, "rb") as handle:
            data: bytes = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise StorageError(f"{uri} does not exist") from None
    except (ImportError, ValueError) as err:
        raise StorageError(f"cannot read {uri}: {err}") from None
    except OSError as err:
        raise StorageError(f"cannot read {uri}: {err}") from None
    if len(data) > MAX_BYTES:
        raise StorageError(f"{uri} is larger than {MAX_BYTES} bytes")
    return data.decode("utf-8", errors="replace")
