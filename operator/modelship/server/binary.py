"""Binary tensor data: Triton's binary data extension of the REST protocol, and gRPC's
`raw_input_contents` / `raw_output_contents`, which carry tensors in the same layout.

A binary REST request is a JSON header followed by raw bytes; `Inference-Header-Content-Length`
gives the header's size and each input with `parameters.binary_data_size` takes that many bytes
of what follows, in input order. Tensors are row-major and little-endian; each BYTES element is
a 4-byte little-endian length and that many bytes. Decoding turns the bytes into the `data` list
a JSON request would have carried, so the same validation (field-level 400s) follows; every
malformed length or size is a 400 naming the field, never a 500.

A response is binary for the outputs that ask (`outputs[i].parameters.binary_data`, else the
request's `parameters.binary_data_output`): their `data` is replaced by
`parameters.binary_data_size` and their bytes follow the JSON header.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

HEADER_LENGTH = "inference-header-content-length"
OCTET_STREAM = "application/octet-stream"

# Little-endian numpy dtypes of the protocol's numeric datatypes.
DTYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(code)
    for name, code in {
        "BOOL": "?", "UINT8": "u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
        "INT8": "i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
        "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
    }.items()
}  # fmt: skip
_COUNT = re.compile(r"[0-9]{1,18}")
_LENGTH = struct.Struct("<I")


class BinaryDataError(ValueError):
    """Binary data that cannot be read as the header says; the message names the field."""

    def __init__(self, message: str, invalid_json: bool = False) -> None:
        super().__init__(message)
        self.invalid_json = invalid_json


def split_request(body: bytes, header_length: str) -> dict[str, Any]:
    """The JSON header of a binary request with each binary input's `data` filled in."""
    if not _COUNT.fullmatch(header_length):
        raise BinaryDataError(f"Inference-Header-Content-Length: expected a byte count, "
                              f"not {header_length[:40]!r}")  # fmt: skip
    size = int(header_length)
    if size > len(body):
        raise BinaryDataError(f"Inference-Header-Content-Length is {size} but the body has only "
                              f"{len(body)} bytes")  # fmt: skip
    try:
        header = orjson.loads(body[:size])
    except orjson.JSONDecodeError as err:
        raise BinaryDataError(f"invalid JSON: {err}", invalid_json=True) from None
    if isinstance(header, dict):
        attach_inputs(header, memoryview(body)[size:])
    return header  # type: ignore[no-any-return]  # not a dict: the envelope check says so


def attach_inputs(header: dict[str, Any], raw: memoryview) -> None:
    offset = 0
    inputs = header.get("inputs")
    for i, item in enumerate(inputs if isinstance(inputs, list) else []):
        parameters = item.get("parameters") if isinstance(item, dict) else None
        if not isinstance(parameters, dict) or "binary_data_size" not in parameters:
            continue
        where = f"inputs.{i}"
        size = parameters["binary_data_size"]
        if type(size) is not int or size < 0:
            raise BinaryDataError(f"{where}.parameters.binary_data_size: must be a byte count")
        if "data" in item:
            raise BinaryDataError(f"{where}: has both data and binary_data_size; send one")
        if offset + size > len(raw):
            raise BinaryDataError(
                f"{where}.parameters.binary_data_size: {size} bytes from offset {offset} pass "
                f"the end of the binary data ({len(raw)} bytes)"
            )
        item["data"] = decode_tensor(raw[offset : offset + size], item.get("datatype"),
                                     item.get("shape"), where)  # fmt: skip
        offset += size
    if offset != len(raw):
        raise BinaryDataError(f"the body has {len(raw) - offset} bytes after the binary data "
                              "that the inputs' binary_data_size account for")  # fmt: skip


def decode_tensor(raw: bytes | memoryview, datatype: Any, shape: Any, where: str) -> list[Any]:
    """A tensor's raw bytes as the flat list its JSON `data` would be."""
    if datatype == "BYTES":
        return _decode_bytes(raw, where)
    dtype = DTYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        expected = ", ".join([*DTYPES, "BYTES"])
        raise BinaryDataError(f"{where}.datatype: {str(datatype)[:40]!r} cannot be sent as "
                              f"binary data; expected one of {expected}")  # fmt: skip
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise BinaryDataError(f"{where}.shape: must be a list of non-negative integers")
    needed = math.prod(shape) * dtype.itemsize
    if len(raw) != needed:
        raise BinaryDataError(f"{where}: shape {shape} of {datatype} needs {needed} bytes of "
                              f"binary data, not {len(raw)}")  # fmt: skip
    values: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    return values


def _decode_bytes(raw: bytes | memoryview, where: str) -> list[Any]:
    values: list[Any] = []
    offset, end = 0, len(raw)
    while offset < end:
        if offset + 4 > end:
            raise BinaryDataError(f"{where}: BYTES element {len(values)} has a truncated length")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > end:
            raise BinaryDataError(f"{where}: BYTES element {len(values)} says {length} bytes "
                                  f"but only {end - offset} remain")  # fmt: skip
        values.append(text(bytes(raw[offset : offset + length]), f"{where}: BYTES element "
                                                                 f"{len(values)}"))  # fmt: skip
        offset += length
    return values


def text(value: bytes, what: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise BinaryDataError(f"{what} is not UTF-8 text") from None


def encode_tensor(array: NDArray[Any], datatype: str) -> bytes:
    """An output array's bytes in the protocol's layout (row-major, little-endian)."""
    if datatype == "BYTES":
        parts = []
        for value in array.ravel().tolist():
            encoded = value if isinstance(value, bytes) else str(value).encode()
            parts += [_LENGTH.pack(len(encoded)), encoded]
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=DTYPES[datatype]).tobytes()


def binary_outputs(parameters: dict[str, Any] | None, requested: list[tuple[str, Any]]) -> set[str]:
    """The names of the outputs to send as binary: each output's `binary_data` parameter, else
    the request's `binary_data_output` (both default false)."""
    default = (parameters or {}).get("binary_data_output", False)
    if not isinstance(default, bool):
        raise BinaryDataError("parameters.binary_data_output: must be true or false")
    chosen = set()
    for i, (name, output_parameters) in enumerate(requested):
        wanted = (output_parameters or {}).get("binary_data", default)
        if not isinstance(wanted, bool):
            raise BinaryDataError(f"outputs.{i}.parameters.binary_data: must be true or false")
        if wanted:
            chosen.add(name)
    return chosen


def render_response(body: dict[str, Any], arrays: dict[str, NDArray[Any]],
                    binary: set[str]) -> tuple[bytes, int | None]:  # fmt: skip
    """The response bytes and, when some outputs are binary, the JSON header's length."""
    if not binary:
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), None
    raw = []
    for tensor in body["outputs"]:
        if tensor["name"] in binary:
            data = encode_tensor(arrays[tensor["name"]], tensor["datatype"])
            del tensor["data"]
            tensor["parameters"] = {"binary_data_size": len(data)}
            raw.append(data)
    header = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    return header + b"".join(raw), len(header)
