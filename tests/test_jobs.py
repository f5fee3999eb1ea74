"""Training runs as worker processes (fmnist.runs.jobs, fmnist.runs.worker): real processes, the real dataset, tiny
models."""

import gzip
import os
import signal
import subprocess
import sys
import time

import pytest

from fmnist.runs import jobs
from fmnist.runs.jobs import TrainingJob, WorkerPool
from fmnist.store.checkpoints import CheckpointStore
from tests.helpers import alive, rss_mb, wait_finished, wait_for

# Worker pools, stop times and the server's memory: alone, after the parallel part of `make test`.
pytestmark = pytest.mark.serial

STOPPED_WITHIN_S = 2.0


@pytest.fixture(scope="module")
def workers():
    """One pool for the module's tests that take it (one slot per core, a warm spare), as a server has one: each of
    them finds the spare the previous run left instead of a cold worker importing torch. Its workers start with the
    environment as it was when the pool was made, passed explicitly: a spare made while another test had changed
    the environment (the failing-data test's FMNIST_DATA_DIR) would otherwise carry that change to a later test.
    The tests that need a pool set up otherwise (one slot, no spare, a short idle time) make their own."""
    p = WorkerPool(environ=dict(os.environ))
    yield p
    p.shutdown()


def test_the_pool_s_workers_start_with_the_environment_it_was_given(monkeypatch):
    """A pool given an environment starts its workers (the spare among them) with it, whatever this process's
    environment says when they start; a pool given none, with this process's environment as it is then."""
    given = WorkerPool(environ={**os.environ, "FMNIST_DATA_DIR": "/given"})
    monkeypatch.setenv("FMNIST_DATA_DIR", "/changed-since")
    plain = WorkerPool()
    try:
        for pool, expected in ((given, b"FMNIST_DATA_DIR=/given"), (plain, b"FMNIST_DATA_DIR=/changed-since")):
            pool.ensure_spare()
            (pid,) = pool.pids()
            with open(f"/proc/{pid}/environ", "rb") as f:
                assert expected in f.read().split(b"\0")
    finally:
        given.shutdown()
        plain.shutdown()


def test_a_run_trains_in_a_worker_process_and_saves(tmp_path, tiny_config, workers):
    job = TrainingJob(tiny_config, CheckpointStore(tmp_path), log_every=10, workers=workers).start()
    assert job.snapshot().status in ("running", "waiting") and job.snapshot().config == tiny_config
    snap = wait_finished(job)
    assert snap.status == "done" and snap.error is None and snap.device == "cpu"
    assert len(snap.epochs) == 1 and len(snap.steps) >= 20 and snap.step == snap.total_steps
    assert job.pid != os.getpid() and not alive(job.pid)  # it trained elsewhere, and is gone
    ckpt = CheckpointStore(tmp_path).load(snap.checkpoint)
    assert ckpt.meta["metrics"]["test_acc"] == pytest.approx(snap.test_acc) and snap.eta_s is None
    assert ckpt.meta["elapsed_s"] == snap.elapsed_s  # the lesson's table shows the time its checkpoint records
    assert ckpt.meta["command"] == "the fmnist app's Train page"


def test_snapshot_is_a_copy(tmp_path, tiny_config, workers):
    job = TrainingJob(tiny_config, CheckpointStore(tmp_path), workers=workers).start()
    snap = job.snapshot()
    snap.steps.append((999, 1.0))
    wait_finished(job)
    assert (999, 1.0) not in job.snapshot().steps


def test_a_failed_save_keeps_the_metrics_and_says_so(tmp_path, tiny_config, workers):
    blocker = tmp_path / "a-file"
    blocker.write_text("the checkpoints folder cannot be made under a file")
    job = TrainingJob(tiny_config, CheckpointStore(blocker / "checkpoints"), workers=workers).start()
    snap = wait_finished(job)
    assert snap.status == "done" and snap.checkpoint is None
    assert "could not save" in snap.save_error and "kept in this session" in snap.save_error
    assert len(snap.epochs) == 1 and snap.test_acc > 50
    assert any("could not be resumed after a crash" in note for note in snap.notes)  # and it trained all the same


def test_an_exception_in_the_worker_fails_that_run_with_its_message(tmp_path, tiny_config, monkeypatch):
    broken = tmp_path / "data"
    broken.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        with gzip.open(broken / f"{stem}.gz", "wb") as f:
            f.write(b"\x00\x00\x09\x99 not an IDX file")
    monkeypatch.setenv("FMNIST_DATA_DIR", str(broken))  # read by the workers this pool starts
    p = WorkerPool(spare=False)
    try:
        snap = wait_finished(TrainingJob(tiny_config, CheckpointStore(tmp_path), workers=p).start())
        assert snap.status == "failed" and "DataError" in snap.error and "magic" in snap.error
        monkeypatch.delenv("FMNIST_DATA_DIR")
        assert wait_finished(TrainingJob(tiny_config, CheckpointStore(tmp_path), workers=p).start()).status == "done"
    finally:
        p.shutdown()


def test_a_killed_worker_fails_its_run_alone_and_the_next_run_works(tmp_path, tiny_config, workers):
    store = CheckpointStore(tmp_path)
    long = tiny_config.replace(epochs=50)
    job = TrainingJob(long, store, log_every=5, workers=workers).start()
    other = TrainingJob(long.replace(seed=7), store, log_every=5, workers=workers).start()
    wait_for(lambda: len(job.snapshot().steps) >= 3 and other.snapshot().steps, what="both runs' first steps")
    os.kill(job.pid, signal.SIGKILL)
    snap = wait_finished(job, timeout=10)
    assert snap.status == "failed"
    assert "ended unexpectedly" in snap.error and "SIGKILL" in snap.error
    assert len(snap.steps) >= 3  # the curves received so far stay
    # Nothing half-written: no checkpoint, no temporary file; only the run's resume file, to go on from (#12).
    assert store.list() == [] and [p.name for p in tmp_path.iterdir()] in ([], [".resume"])
    before = other.snapshot().step
    wait_for(lambda: other.snapshot().step > before, timeout=30, what="the other run to go on")
    other.close()
    assert wait_finished(TrainingJob(tiny_config, store, workers=workers).start()).status == "done"


def test_pause_resume_and_stop_ends_the_worker_within_two_seconds(tmp_path, tiny_config, workers):
    job = TrainingJob(tiny_config.replace(epochs=30), CheckpointStore(tmp_path), log_every=5, workers=workers).start()
    wait_for(lambda: job.snapshot().steps, what="the first step")
    job.pause()
    time.sleep(0.5)
    step = job.snapshot().step
    time.sleep(0.5)
    assert job.snapshot().status == "paused" and job.snapshot().step == step
    job.resume()
    wait_for(lambda: job.snapshot().step > step, timeout=30, what="steps after resume")
    t = time.perf_counter()
    job.stop()
    assert job.join(STOPPED_WITHIN_S + 3)
    took = time.perf_counter() - t
    assert took < STOPPED_WITHIN_S, f"the worker took {took:.2f} s to stop"
    snap = job.snapshot()
    assert snap.status == "stopped" and not alive(job.pid)
    # Stopped in its first epoch: discarded, and nothing left behind (no checkpoint, no resume file).
    assert list(tmp_path.iterdir()) == [] and snap.checkpoint is None and snap.save_error is None
    assert snap.discarded and not snap.epochs


def test_a_run_stopped_after_an_epoch_is_saved_and_scored(tmp_path, tiny_config, workers):
    job = TrainingJob(tiny_config.replace(epochs=30), CheckpointStore(tmp_path), log_every=5, workers=workers).start()
    wait_for(lambda: job.snapshot().epochs, timeout=300, what="the first epoch")
    job.stop()
    snap = wait_finished(job, timeout=30)
    assert snap.status == "stopped" and not snap.discarded and snap.checkpoint and snap.test_acc > 50
    meta = CheckpointStore(tmp_path).load(snap.checkpoint).meta
    assert meta["stopped"] is True and len(meta["history"]) == len(snap.epochs) >= 1
    assert meta["metrics"]["test_acc"] == pytest.approx(snap.test_acc)


def test_close_is_what_a_closed_tab_does(tmp_path, tiny_config, workers):
    job = TrainingJob(tiny_config.replace(epochs=30), CheckpointStore(tmp_path), log_every=5, workers=workers).start()
    wait_for(lambda: job.snapshot().steps, what="the first step")
    t = time.perf_counter()
    job.close()
    assert time.perf_counter() - t < STOPPED_WITHIN_S and not job.alive and not alive(job.pid)
    assert job.snapshot().status == "stopped" and job.snapshot().discarded  # in its first epoch: nothing kept


def test_runs_beyond_the_slots_wait_in_line_and_start_by_themselves(tmp_path, tiny_config):
    p = WorkerPool(slots=1)
    store = CheckpointStore(tmp_path)
    try:
        first = TrainingJob(tiny_config.replace(epochs=2), store, workers=p).start()
        second = TrainingJob(tiny_config, store, workers=p).start()
        third = TrainingJob(tiny_config, store, workers=p).start()
        assert (second.snapshot().status, second.snapshot().queue_position) == ("waiting", 1)
        assert (third.snapshot().status, third.snapshot().queue_position) == ("waiting", 2)
        assert p.running() == 1 and p.waiting() == 2
        third.stop()  # leaving the line: nothing ran, nothing is saved
        assert third.snapshot().status == "stopped" and not third.alive and third.pid is None
        assert second.snapshot().queue_position == 1
        assert wait_finished(first).status == "done"
        assert wait_finished(second).status == "done"  # started by itself when the slot freed
        assert second.snapshot().queue_position == 0 and p.running() == 0
        assert len(store.list()) == 2
    finally:
        p.shutdown()


def test_max_runs_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FMNIST_MAX_RUNS", "3")
    assert jobs.max_runs() == 3 and WorkerPool(spare=False).slots == 3
    monkeypatch.setenv("FMNIST_MAX_RUNS", "0")
    assert jobs.max_runs() == 1
    monkeypatch.delenv("FMNIST_MAX_RUNS")
    assert jobs.max_runs() == max(1, os.cpu_count() or 1)


def test_insight_per_epoch(tmp_path, tiny_config, workers):
    job = TrainingJob(tiny_config.replace(epochs=2), CheckpointStore(tmp_path), insight=True, workers=workers)
    snap = wait_finished(job.start())
    assert len(snap.insight) == 2
    first = snap.insight[0]
    assert first["filters"].shape == (32, 28, 28)  # all 32 units of the tiny model (fewer than 36)
    assert first["projection"].shape == (2000, 2)
    # Signs are aligned with the previous epoch's frame.
    a, b = snap.insight[0]["projection"], snap.insight[1]["projection"]
    assert (a[:, 0] * b[:, 0]).sum() > 0 and (a[:, 1] * b[:, 1]).sum() > 0


def test_an_idle_spare_is_let_go_and_made_again_on_demand(tmp_path, tiny_config):
    p = WorkerPool(idle_s=1.0)
    try:
        assert set(p.devices(timeout=60)) == {"auto", "cuda", "mps"}
        (spare,) = p.pids()
        wait_for(lambda: not alive(spare), timeout=10, what="the idle spare to exit")
        assert wait_finished(TrainingJob(tiny_config, CheckpointStore(tmp_path), workers=p).start()).status == "done"
    finally:
        p.shutdown()


def test_shutdown_ends_a_spare_still_importing_torch_without_waiting_for_it():
    """The server's exit (Ctrl-C) does not wait seconds for a spare that holds no run: it is terminated mid-import."""
    p = WorkerPool(spare=True)
    p.ensure_spare()
    (spare,) = p.pids()
    p.shutdown()
    assert not alive(spare)
    assert p.devices_seen is None  # it never got as far as reporting itself ready


def test_no_spare_starts_beside_a_worker_still_importing_torch(tmp_path, tiny_config):
    """A Start that found no spare has a cold worker importing torch: a spare asked for meanwhile (the first page's
    timer) waits for it, instead of a second import slowing that run's start on two cores."""
    p = WorkerPool(spare=True)
    try:
        job = TrainingJob(tiny_config, CheckpointStore(tmp_path), workers=p)
        job.pause()  # held at its first step: the run's worker lives until the test resumes it
        job.start()  # no spare yet: a cold worker
        p.ensure_spare()
        (cold,) = p.pids()
        assert not p._spare  # asked for, not made while the run's worker warms up
        wait_for(lambda: len(p.pids()) == 2, timeout=60, what="the spare, once the run's worker is ready")
        assert job.worker.ready.is_set() and job.worker.pid == cold
        job.resume()
        assert wait_finished(job).status == "done"
    finally:
        p.shutdown()


def test_the_server_stays_light_and_gets_its_memory_back(tmp_path, tiny_config, workers):
    """Ten finished runs in one session: what this process (the server's part) holds stays within 50 MB of what it
    held after the first, and no worker's memory is its own. The nine after the first are started at once, as a
    class pressing Start together would: they wait in line for the slots (each run's time is its worker's start)."""
    store = CheckpointStore(tmp_path)
    config = tiny_config.replace(hidden=(16,))
    wait_finished(TrainingJob(config, store, insight=True, workers=workers).start())
    after_first = rss_mb()
    later = [TrainingJob(config.replace(seed=seed), store, insight=True, workers=workers).start() for seed in range(9)]
    assert [wait_finished(job).status for job in later] == ["done"] * 9
    assert len(store.list()) == 10  # ten checkpoints, none overwritten
    grown = rss_mb() - after_first
    print(f"server-side memory after the first and the tenth run: {after_first:.0f} MB, +{grown:.1f} MB")
    assert grown < 50


def test_workers_map_one_shared_copy_of_the_dataset(tmp_path, tiny_config, workers):
    """Each worker's resident memory is mostly the shared, memory-mapped dataset (RssFile), not a private copy."""
    job = TrainingJob(tiny_config.replace(epochs=30), CheckpointStore(tmp_path), log_every=5, workers=workers).start()
    wait_for(lambda: len(job.snapshot().steps) >= 3, what="training")
    with open(f"/proc/{job.pid}/status") as f:
        fields = {line.split(":")[0]: int(line.split()[1]) // 1024 for line in f if line.startswith("Rss")}
    job.close()
    assert fields["RssFile"] > 150  # the normalised training images, mapped from the cache file
    assert fields["RssAnon"] < 400, fields  # torch and the model, without a private 220 MB copy of the data


def test_the_worker_module_does_not_run_on_import():
    code = "import fmnist.runs.worker, fmnist.runs.jobs, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
