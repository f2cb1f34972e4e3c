"""The committed gRPC stubs are what `make grpc-stubs` generates from the committed .proto."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

OIP = Path(__file__).parents[3] / "operator" / "modelship" / "server" / "oip"
GENERATED = ("open_inference_pb2.py", "open_inference_pb2.pyi", "open_inference_pb2_grpc.py")


def test_the_stubs_are_generated_from_the_proto(tmp_path: Path) -> None:
    protoc = pytest.importorskip("grpc_tools.protoc")
    package = tmp_path / "modelship" / "server" / "oip"
    package.mkdir(parents=True)
    shutil.copy(OIP / "open_inference.proto", package)
    status = protoc.main(["protoc", f"-I{tmp_path}", f"--python_out={tmp_path}",
                          f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}",
                          str(package / "open_inference.proto")])  # fmt: skip
    assert status == 0
    stale = [n for n in GENERATED if (package / n).read_bytes() != (OIP / n).read_bytes()]
    assert not stale, f"stale gRPC stubs {stale}: run `make grpc-stubs`"
