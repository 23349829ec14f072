"""Write weights.bin (layout in include/tinyai/weights_file.h) by streaming each constant.

Each constant's payload is released right after it is written, so peak memory stays at about
one chunk plus whatever the source model itself occupies.
"""
from __future__ import annotations

import os
import shutil
import struct
import zlib
from typing import Callable, Dict, List, Optional, Tuple

from ..errors import ModelError
from .constants import STRING, Constant

MAGIC = b"TAIWGT01"
VERSION = 1
HEADER_SIZE = 64
ALIGN = 64
HEADER_STRUCT = struct.Struct("<8sIIQQ")  # magic, version, num_layers, index_offset, file_size
INDEX_STRUCT = struct.Struct("<QQII")  # offset, nbytes, crc32, reserved
_ZEROS = bytes(ALIGN)

# (layer index, absolute offset, nbytes) per constant name
Placement = Tuple[int, int, int]


def _pad_to(pos: int) -> int:
    return -pos % ALIGN


class _Writer:
    def __init__(self, f, total: int, progress: Optional[Callable]):
        self.f, self.pos, self.done, self.total = f, 0, 0, total
        self.progress = progress

    def write(self, data, crc: int) -> int:
        self.f.write(data)
        self.pos += len(data)
        return zlib.crc32(data, crc)

    def pad(self, crc: int) -> int:
        n = _pad_to(self.pos)
        return self.write(_ZEROS[:n], crc) if n else crc


def _check_disk_space(directory: str, need: int) -> None:
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return
    if need + (16 << 20) > free:
        raise ModelError(
            f"not enough disk space in {directory}: the weights need {need / 2**20:.1f} MiB, "
            f"{free / 2**20:.1f} MiB are free")


def write_weights(path: str, layers: List[List[Tuple[str, Constant]]],
                  progress: Optional[Callable[[int, int, str], None]] = None,
                  layer_names: Optional[List[str]] = None) -> Dict[str, Placement]:
    """layers[i] = that layer's constants in order. Returns where each constant landed."""
    total = sum(c.nbytes for consts in layers for _, c in consts)
    _check_disk_space(os.path.dirname(os.path.abspath(path)), total)
    placements: Dict[str, Placement] = {}
    index: List[Tuple[int, int, int]] = []
    with open(path, "wb") as f:
        w = _Writer(f, total, progress)
        w.write(bytes(HEADER_SIZE), 0)  # real header written last, once sizes are known
        for li, consts in enumerate(layers):
            label = layer_names[li] if layer_names else f"layer {li}"
            w.pad(0)  # blobs start 64-aligned; this padding is outside every blob
            start, crc = w.pos, 0
            for name, c in consts:
                if c.dtype == STRING:
                    raise ModelError(
                        f"constant '{name}' is a string tensor; only numeric tensors can be "
                        f"imported")
                crc = w.pad(crc)  # tensors inside a blob are 64-aligned too
                offset, expect = w.pos, c.nbytes
                try:
                    for chunk in c.iter_bytes():
                        crc = w.write(chunk, crc)
                        w.done += len(chunk)
                        if progress:
                            progress(w.done, total, f"writing weights: {label}")
                except (ModelError, OSError, MemoryError, KeyboardInterrupt):
                    raise
                except Exception as e:  # a malformed TensorProto payload
                    raise ModelError(f"constant '{name}' cannot be decoded ({e}); the model "
                                     f"file is damaged") from None
                written = w.pos - offset
                c.release()
                if written != expect:
                    raise ModelError(
                        f"constant '{name}' should hold {expect} bytes but its data has "
                        f"{written}; the model file is damaged")
                placements[name] = (li, offset, written)
            index.append((start, w.pos - start, crc))
        w.pad(0)
        index_offset = w.pos
        for off, nbytes, crc in index:
            w.write(INDEX_STRUCT.pack(off, nbytes, crc, 0), 0)
        file_size = w.pos
        f.seek(0)
        f.write(HEADER_STRUCT.pack(MAGIC, VERSION, len(layers), index_offset, file_size))
        f.flush()
        os.fsync(f.fileno())
    return placements


def read_header(path: str) -> Tuple[int, int, int]:
    """(num_layers, index_offset, file_size) after checking magic, version and size."""
    with open(path, "rb") as f:
        head = f.read(HEADER_SIZE)
    if len(head) < HEADER_SIZE:
        raise ModelError(f"weights file '{path}' is too short for a header")
    magic, version, num_layers, index_offset, file_size = HEADER_STRUCT.unpack_from(head)
    if magic != MAGIC or version != VERSION:
        raise ModelError(f"weights file '{path}' has a bad magic/version")
    actual = os.path.getsize(path)
    if file_size != actual or index_offset + num_layers * INDEX_STRUCT.size > file_size:
        raise ModelError(f"weights file '{path}' is truncated or inconsistent")
    return num_layers, index_offset, file_size
