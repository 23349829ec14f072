"""The AArch64 NEON kernels (kernels/*/*_neon.cpp) on an x86 machine: cross-compiled with
aarch64-linux-gnu-g++ and run under qemu-aarch64 against the scalar references
(tests/neon/neon_check.cpp). Skipped where the cross tools are not installed
(apt-get install g++-aarch64-linux-gnu qemu-user)."""
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "core_native" / "src"
CXX = shutil.which("aarch64-linux-gnu-g++")
QEMU = shutil.which("qemu-aarch64")
FLAGS = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror",
         "-DTINYAI_X86_KERNELS=0", "-DTINYAI_NEON_KERNELS=1",
         f"-I{ROOT / 'core_native' / 'include'}", f"-I{SRC}"]
NEON_FILES = sorted(SRC.glob("kernels/*/*_neon.cpp"))

needs_cross = pytest.mark.skipif(CXX is None, reason="aarch64-linux-gnu-g++ not installed")


def test_neon_files_exist_for_gemm_and_activations():
    names = {p.name for p in NEON_FILES}
    assert {"gemm_neon.cpp", "activation_neon.cpp"} <= names


@needs_cross
@pytest.mark.parametrize("source", NEON_FILES, ids=lambda p: p.name)
def test_neon_file_compiles_warning_free_for_aarch64(source, tmp_path):
    r = subprocess.run([CXX, *FLAGS, "-c", str(source), "-o", str(tmp_path / "k.o")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@needs_cross
@pytest.mark.skipif(QEMU is None and platform.machine() != "aarch64", reason="qemu-aarch64 not installed")
def test_neon_kernels_match_scalar_reference_under_qemu(tmp_path):
    exe = tmp_path / "neon_check"
    sources = [ROOT / "tests" / "neon" / "neon_check.cpp", SRC / "kernels" / "matmul" / "gemm_scalar.cpp",
               *NEON_FILES]
    r = subprocess.run([CXX, *FLAGS, "-static", *map(str, sources), "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    run = subprocess.run([str(exe)] if platform.machine() == "aarch64" else [QEMU, str(exe)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "ALL OK" and sum(line.startswith("ok ") for line in lines) >= 10, run.stdout
