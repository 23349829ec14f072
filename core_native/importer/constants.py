"""Constant tensors of a model being imported, kept as cheap as possible until written.

A constant comes from one of three places and stays there until the weights file needs it:
  * an embedded TensorProto (initializer or Constant node attribute),
  * an external data file (offset/length read lazily, streamed when written),
  * a numpy array produced by constant folding (often a zero-copy broadcast view, e.g. the
    ConstantOfShape weights of the onnx "light" models, which would otherwise cost their
    full size in RAM before they are ever written).
"""
from __future__ import annotations

import os
from typing import Iterator, Optional, Sequence

import numpy as np

from ..errors import ModelError

# ONNX TensorProto.DataType codes (stable; spelled out so this module needs no onnx import).
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL = 1, 2, 3, 4, 5, 6, 7, 8, 9
FLOAT16, DOUBLE, UINT32, UINT64, BFLOAT16 = 10, 11, 12, 13, 16
FLOAT_TYPES = frozenset({FLOAT, FLOAT16, DOUBLE, BFLOAT16, 17, 18, 19, 20, 23})

_NP_TO_CODE = {
    np.dtype("float32"): FLOAT, np.dtype("uint8"): UINT8, np.dtype("int8"): INT8,
    np.dtype("uint16"): UINT16, np.dtype("int16"): INT16, np.dtype("int32"): INT32,
    np.dtype("int64"): INT64, np.dtype("bool"): BOOL, np.dtype("float16"): FLOAT16,
    np.dtype("float64"): DOUBLE, np.dtype("uint32"): UINT32, np.dtype("uint64"): UINT64,
}
_CODE_TO_NP = {code: dt for dt, code in _NP_TO_CODE.items()}

# Streaming granularity: big enough for fast writes, small enough to never matter for RAM.
CHUNK_BYTES = 16 << 20


def dtype_code(dt: np.dtype) -> int:
    """ONNX code of a numpy dtype; raises ValueError for dtypes ONNX tensors cannot hold."""
    dt = np.dtype(dt)
    code = _NP_TO_CODE.get(dt.newbyteorder("=") if dt.byteorder not in "=|" else dt)
    if code is not None:
        return code
    from onnx import helper  # ml_dtypes (bfloat16, float8...) are only known to onnx

    return int(helper.np_dtype_to_tensor_dtype(dt))


def np_dtype(code: int) -> np.dtype:
    dt = _CODE_TO_NP.get(code)
    if dt is not None:
        return dt
    from onnx import helper

    return np.dtype(helper.tensor_dtype_to_np_dtype(code))


def contiguous(a: np.ndarray) -> np.ndarray:
    """C-contiguous, keeping 0-d arrays 0-d (np.ascontiguousarray turns them into shape (1,))."""
    a = np.asarray(a)
    return a if a.flags.c_contiguous else a.copy(order="C")


def _little_endian(a: np.ndarray) -> np.ndarray:
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and np.little_endian is False):
        return a.astype(a.dtype.newbyteorder("<"))
    return a


def iter_array_chunks(a: np.ndarray, chunk_bytes: int = CHUNK_BYTES) -> Iterator[memoryview]:
    """Raw little-endian bytes of `a` in C order, at most ~chunk_bytes at a time.

    Non-contiguous arrays (broadcast views, transposes) are materialised one slab at a time so
    a 400 MB broadcast constant never exists in RAM at once.
    """
    a = _little_endian(a)
    if a.size == 0:
        return
    if a.flags.c_contiguous:
        flat = a.reshape(-1).view(np.uint8)
        for start in range(0, flat.size, chunk_bytes):
            yield memoryview(flat[start:start + chunk_bytes])
        return
    if a.ndim == 0:
        yield memoryview(contiguous(a).reshape(-1).view(np.uint8))
        return
    if a.ndim > 0 and all(s == 0 for s in a.strides):
        # A fill (ConstantOfShape/Expand of a scalar): build one chunk and reuse it.
        total = a.size
        per = max(1, chunk_bytes // a.itemsize)
        block = np.full(min(per, total), a.reshape(-1)[0], dtype=a.dtype).view(np.uint8)
        left = total
        while left > 0:
            n = min(per, left)
            yield memoryview(block[: n * a.itemsize])
            left -= n
        return
    row_bytes = a[0].nbytes if a.shape[0] else 0
    if row_bytes > chunk_bytes and a.ndim > 1:
        for i in range(a.shape[0]):
            yield from iter_array_chunks(a[i], chunk_bytes)
        return
    rows = max(1, chunk_bytes // max(1, row_bytes))
    for start in range(0, a.shape[0], rows):
        slab = np.ascontiguousarray(a[start:start + rows])
        yield memoryview(slab.reshape(-1).view(np.uint8))


class ExternalRef:
    """Where an external-data tensor's bytes live (checked to exist when the model loads)."""

    __slots__ = ("path", "offset", "length")

    def __init__(self, path: str, offset: int, length: int):
        self.path, self.offset, self.length = path, offset, length


class Constant:
    """A constant tensor: dtype (ONNX code), static shape, and lazily available bytes."""

    __slots__ = ("dtype", "shape", "_array", "_proto", "_ext")

    def __init__(self, dtype: int, shape: Sequence[int], *, array=None, proto=None, ext=None):
        self.dtype = int(dtype)
        self.shape = tuple(int(d) for d in shape)
        self._array: Optional[np.ndarray] = array
        self._proto = proto
        self._ext: Optional[ExternalRef] = ext

    @classmethod
    def from_array(cls, a) -> "Constant":
        a = np.asarray(a)
        return cls(dtype_code(a.dtype), a.shape, array=a)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        if self._array is not None:
            return int(self._array.nbytes)
        if self._ext is not None:
            return self._ext.length
        if self.dtype == STRING:
            return 0
        # Never len(proto.raw_data): every access to a protobuf bytes field copies it.
        return self.numel * np_dtype(self.dtype).itemsize

    def is_float(self) -> bool:
        return self.dtype in FLOAT_TYPES

    def array(self) -> np.ndarray:
        """The value as numpy (materialised and cached: only for folding and small tensors)."""
        if self._array is None:
            if self._ext is not None:
                self._array = self._read_external()
                self._ext = None
            else:
                from onnx import numpy_helper

                self._array = numpy_helper.to_array(self._proto)
                self._drop_proto()
        return self._array

    def _read_external(self) -> np.ndarray:
        dt = np_dtype(self.dtype)
        with open(self._ext.path, "rb") as f:
            f.seek(self._ext.offset)
            buf = f.read(self._ext.length)
        if len(buf) != self._ext.length:
            raise ModelError(f"external data file '{self._ext.path}' is truncated")
        return np.frombuffer(buf, dtype=dt.newbyteorder("<")).reshape(self.shape)

    def iter_bytes(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[memoryview]:
        """The raw little-endian bytes, streamed; what goes into weights.bin."""
        if self.dtype == STRING:
            raise ModelError("string tensors cannot be stored in the weights file")
        if self._array is not None:
            yield from iter_array_chunks(self._array, chunk_bytes)
        elif self._ext is not None:
            left = self._ext.length
            with open(self._ext.path, "rb") as f:
                f.seek(self._ext.offset)
                while left > 0:
                    buf = f.read(min(chunk_bytes, left))
                    if not buf:
                        raise ModelError(f"external data file '{self._ext.path}' is truncated")
                    left -= len(buf)
                    yield memoryview(buf)
        elif (self._proto is not None and self.dtype in _CODE_TO_NP
              and self._proto.HasField("raw_data")):
            raw = self._proto.raw_data  # one copy; already little endian per the ONNX spec
            view = memoryview(raw)
            for start in range(0, len(raw), chunk_bytes):
                yield view[start:start + chunk_bytes]
        else:
            yield from iter_array_chunks(self.array(), chunk_bytes)

    def _drop_proto(self):
        if self._proto is not None:
            # The TensorProto still sits inside the loaded ModelProto; clearing its payload is
            # what actually returns the memory.
            for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data",
                          "uint64_data", "string_data"):
                self._proto.ClearField(field)
            self._proto = None

    def release(self):
        """Forget the payload (after it has been written)."""
        self._drop_proto()
        self._array = None
        self._ext = None


def external_ref(tensor, base_dir: str) -> ExternalRef:
    """Resolve and check a TensorProto's external data reference; ModelError if unusable."""
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    if not location:
        raise ModelError(f"tensor '{tensor.name}' uses external data but names no file")
    rel = os.path.normpath(location)
    if os.path.isabs(rel) or rel == ".." or rel.startswith(".." + os.sep):
        raise ModelError(
            f"tensor '{tensor.name}': external data file '{location}' lies outside the "
            f"model's directory; ONNX only allows paths relative to it")
    path = os.path.join(base_dir, rel)
    if not os.path.isfile(path):
        raise ModelError(
            f"external data file '{location}' (needed by tensor '{tensor.name}') not found; "
            f"looked for {path}")
    try:
        offset = int(info.get("offset", 0) or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError:
        raise ModelError(f"tensor '{tensor.name}' has a malformed external data offset/length")
    size = os.path.getsize(path)
    if length is None:
        length = size - offset
    if offset < 0 or length < 0 or offset + length > size:
        raise ModelError(
            f"external data file '{location}' is too short for tensor '{tensor.name}' "
            f"(needs bytes {offset}..{offset + length}, file has {size}); truncated?")
    numel = 1
    for d in tensor.dims:
        numel *= int(d)
    if tensor.data_type != STRING:
        try:
            expect = numel * np_dtype(tensor.data_type).itemsize
        except Exception:  # sub-byte or exotic types: trust the stated length
            expect = length
        if expect != length:
            raise ModelError(
                f"tensor '{tensor.name}' has shape {list(tensor.dims)} ({expect} bytes) but its "
                f"external data is {length} bytes")
    return ExternalRef(path, offset, length)


def constant_from_tensor_proto(tensor, base_dir: str) -> Constant:
    from onnx import TensorProto

    shape = tuple(int(d) for d in tensor.dims)
    if tensor.data_location == TensorProto.EXTERNAL:
        return Constant(tensor.data_type, shape, ext=external_ref(tensor, base_dir))
    if tensor.data_type == STRING:
        from onnx import numpy_helper

        return Constant(STRING, shape, array=numpy_helper.to_array(tensor))
    # The payload size is checked when it is written (reading raw_data here would copy it).
    return Constant(tensor.data_type, shape, proto=tensor)
