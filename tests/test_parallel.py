"""The parallel runtime (csrc/core/parallel.cpp): every chunk runs once, errors reach the
caller, nested and concurrent regions are safe, the thread count is respected, and the
default never exceeds the CPUs the process may use. `_C._parallel_probe` runs a
parallel_for whose chunks record which indices ran and on how many threads."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import tinygrad_cpp as tg

probe = tg._C._parallel_probe


@pytest.fixture
def threads():
    """Sets the thread count for one test and restores it afterwards."""
    n = tg.get_num_threads()
    yield tg.set_num_threads
    tg.set_num_threads(n)


@pytest.mark.parametrize("n,cost", [(1, 10**6), (2, 10**5), (7, 10**5), (1000, 100), (100_000, 1),
                                    (100_000, 64), (3, 1), (65_537, 1000), (200_000, 1000)])
@pytest.mark.parametrize("nthreads", [1, 2, 3, 8])
def test_every_index_runs_exactly_once(threads, n, cost, nthreads):
    threads(nthreads)
    hits, seen = probe(n, cost)
    assert len(hits) == n
    assert np.all(np.asarray(hits) == 1)
    assert 1 <= seen <= nthreads


def test_helpers_take_part_and_the_count_is_respected(threads):
    # chunks that sleep leave the caller's core free, so helpers get to claim some even on
    # a loaded machine; never more threads than set
    threads(3)
    seen = max(probe(24, 10**6, sleep_us=2000)[1] for _ in range(3))
    assert seen >= 2
    assert seen <= 3
    threads(1)
    assert probe(24, 10**6, sleep_us=500)[1] == 1
    threads(2)  # takes effect between regions, also after a larger count
    assert all(probe(24, 10**6, sleep_us=500)[1] <= 2 for _ in range(3))


def test_small_work_stays_on_the_calling_thread(threads):
    threads(2)
    # below twice the grain a region is not worth waking a helper
    assert probe(1000, 32)[1] == 1


@pytest.mark.parametrize("at", [0, 5, 99_999])
def test_an_exception_in_a_chunk_reaches_the_caller(threads, at):
    threads(2)
    with pytest.raises(RuntimeError, match=f"index {at} failed"):
        probe(100_000, 1000, throw_at=at)
    # the pool is usable afterwards
    hits, _ = probe(100_000, 1000)
    assert np.all(np.asarray(hits) == 1)


def test_nested_regions_run_inline_without_deadlock(threads):
    threads(2)
    hits, _ = probe(64, 10**6, nested=True)
    assert np.all(np.asarray(hits) == 1)


def _in_threads(n, work):
    """Runs work() on n Python threads started together; raises the first error any hit."""
    errors = []
    start = threading.Barrier(n)

    def run():
        try:
            start.wait()
            work()
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    ts = [threading.Thread(target=run) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


def test_regions_from_several_python_threads_at_once(threads):
    threads(2)
    results = []

    def work():
        for _ in range(20):
            hits, seen = probe(50_000, 200)
            results.append((min(hits), max(hits), seen))

    _in_threads(4, work)
    assert len(results) == 80
    assert all(r[:2] == (1, 1) and 1 <= r[2] <= 2 for r in results)


def test_matmul_from_several_python_threads(threads):
    # real kernels through the pool at once: GEMM tasks and elementwise chunks
    threads(2)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 400)).astype(np.float32)
    b = rng.standard_normal((400, 500)).astype(np.float32)
    want = tg.tensor(a) @ tg.tensor(b)

    def work():
        for _ in range(10):
            got = ((tg.tensor(a) @ tg.tensor(b)) * 0.01).exp().log() * 100
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-3, atol=1e-3)

    _in_threads(3, work)


def _child_threads(env_extra, code="import tinygrad_cpp as tg; print(tg.get_num_threads())"):
    env = {k: v for k, v in os.environ.items() if k not in ("TG_NUM_THREADS", "OMP_NUM_THREADS")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_default_is_the_cpus_this_process_may_use():
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert 1 <= tg._C._available_cpus() <= cpus
    assert int(_child_threads({})) == tg._C._available_cpus()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_default_follows_the_affinity_mask():
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "import tinygrad_cpp as tg; print(tg.get_num_threads(), tg._C._available_cpus())")
    assert _child_threads({}, code) == "1 1"


def test_environment_variables():
    assert _child_threads({"OMP_NUM_THREADS": "3"}) == "3"
    assert _child_threads({"OMP_NUM_THREADS": "5,2"}) == "5"
    assert _child_threads({"TG_NUM_THREADS": "4", "OMP_NUM_THREADS": "3"}) == "4"
    # nonsense falls back to the default
    dflt = str(tg._C._available_cpus())
    assert _child_threads({"OMP_NUM_THREADS": "lots"}) == dflt
    assert _child_threads({"TG_NUM_THREADS": "0"}) == dflt


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.skipif("tsan" in os.environ.get("LD_PRELOAD", ""), reason="ThreadSanitizer cannot fork a threaded process")
def test_regions_work_in_a_forked_child(threads):
    threads(2)
    probe(100_000, 1000)  # the parent's pool has workers now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: its pool starts afresh; must not hang on the parent's workers
        try:
            hits, _ = probe(100_000, 1000, sleep_us=0)
            x = tg.ones(1000, 1000) @ tg.ones(1000, 10)
            ok = min(hits) == max(hits) == 1 and float(x[0, 0]) == 1000.0
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.waitpid(pid, 0)
    assert got == b"1"


def _helpers_back(stats, within=2.0):
    """Runs small regions until one runs with helpers (not backed off); False on timeout."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = stats()["regions"]
        probe(2, 10**6)
        if stats()["regions"] > before:
            return True
        time.sleep(0.02)
    return False


def test_a_late_helper_makes_the_pool_back_off_then_return(threads):
    # Index 1 sleeps 5 ms, index 0 0.25 ms (long enough for the helper to claim one of
    # them): when a helper holds index 1, the caller waits far longer than one thread
    # would have taken, so the pool takes the helper away and the next regions run
    # on the caller alone; after the back-off (at most 64 ms) helpers come back.
    threads(2)
    stats = tg._C._parallel_stats
    assert _helpers_back(stats)
    for _ in range(50):
        before = stats()
        probe(2, 10**6, sleep_us=5000, slow_index=1)
        if stats()["late"] > before["late"]:
            break
        assert _helpers_back(stats)
    else:
        pytest.skip("the helper never took the slow index (machine too busy to schedule it)")
    s0 = stats()
    hits, seen = probe(2, 10**6)
    s1 = stats()
    assert list(hits) == [1, 1] and seen == 1
    assert s1["backed_off"] == s0["backed_off"] + 1 and s1["regions"] == s0["regions"]
    assert _helpers_back(stats)
