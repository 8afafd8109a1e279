"""python -m tinygrad_cpp.show_config and tg.show_config(): the report a bug needs."""
import os
import subprocess
import sys

import pytest

import tinygrad_cpp as tg


def _env():
    # the subprocess must import the same tinygrad_cpp as this test (a checkout on
    # PYTHONPATH or the installed package)
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(tg.__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def test_module_runs_and_names_isa_and_threads():
    out = subprocess.run([sys.executable, "-m", "tinygrad_cpp.show_config"], capture_output=True, text=True,
                         env=_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr == "", out.stderr  # no runpy warning about the module already imported
    text = out.stdout
    gemm, vec = tg._C._gemm_isa(), tg._C._vec_isa()
    assert f"gemm:   {gemm}" in text
    assert f"vector: {vec}" in text
    # this process's thread count may have been changed by other tests: compare with a
    # fresh interpreter's default
    default = subprocess.run([sys.executable, "-c", "import tinygrad_cpp as tg; print(tg.get_num_threads())"],
                             capture_output=True, text=True, env=_env(), timeout=120, check=True).stdout.strip()
    assert f"num_threads: {default}\n" in text
    assert f"version:   {tg.__version__}" in text
    assert "build_type:" in text and "compiler:" in text and "lto:" in text
    assert "Optional extras:" in text


def test_module_reports_env_thread_count():
    env = _env()
    env["TG_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-m", "tinygrad_cpp.show_config"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "num_threads: 1\n" in out.stdout
    assert "TG_NUM_THREADS=1" in out.stdout


def test_dicts_mode_matches_runtime():
    cfg = tg.show_config(mode="dicts")
    assert cfg["tinygrad_cpp"]["version"] == tg.__version__
    assert cfg["SIMD (chosen at run time)"] == {"gemm": tg._C._gemm_isa(), "vector": tg._C._vec_isa()}
    assert cfg["Threads"]["num_threads"] == tg.get_num_threads()
    build = cfg["Build"]
    assert build["build_type"] in ("Release", "RelWithDebInfo", "Debug", "MinSizeRel")
    assert build["compiler"] and build["compiler"] != "unknown"
    assert build["lto"].split()[0] in ("ON", "OFF")
    import numpy as np
    assert cfg["numpy"]["version"] == np.__version__
    usable = cfg["CPU"]["usable"]
    # the ISA chosen is the best the CPU has
    best = "avx512" if "avx512" in usable else "avx2" if "avx2_fma" in usable else "portable"
    # tests elsewhere may switch ISAs; the conftest fixtures put the best one back
    assert tg._C._gemm_isa() == best


def test_isa_switch_is_reported():
    best = tg._C._gemm_isa()
    try:
        tg._C._set_gemm_isa("portable")
        assert tg.show_config(mode="dicts")["SIMD (chosen at run time)"]["gemm"] == "portable"
    finally:
        tg._C._set_gemm_isa(best)


def test_optional_extras_use_metadata_not_imports():
    import importlib.metadata
    before = set(sys.modules)
    cfg = tg.show_config(mode="dicts")
    extras = cfg["Optional extras"]
    for name in ("torch", "Pillow", "mpi4py", "onnx", "onnxruntime", "matplotlib", "tqdm", "safetensors"):
        assert name in extras
    try:
        assert extras["tqdm"] == importlib.metadata.version("tqdm")
    except importlib.metadata.PackageNotFoundError:
        assert extras["tqdm"] is None
    new = set(sys.modules) - before
    for heavy in ("torch", "onnx", "onnxruntime", "matplotlib", "PIL", "mpi4py", "safetensors"):
        assert heavy not in new, f"show_config imported {heavy}"


def test_import_does_not_pull_heavy_packages():
    code = ("import sys, tinygrad_cpp\n"
            "bad = [m for m in ('torch', 'onnx', 'onnxruntime', 'matplotlib', 'mpi4py') if m in sys.modules]\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert out.returncode == 0, out.stderr


def test_stdout_mode_prints_and_returns_none(capsys):
    assert tg.show_config() is None
    text = capsys.readouterr().out
    assert "SIMD (chosen at run time):" in text and "Threads:" in text


def test_bad_mode():
    with pytest.raises(ValueError):
        tg.show_config(mode="json")
