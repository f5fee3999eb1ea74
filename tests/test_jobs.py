import threading
import time

import pytest
import torch

from fmnist import checkpoints, jobs, train
from fmnist.checkpoints import CheckpointStore
from fmnist.jobs import TrainingJob, Turns


def wait_finished(job, timeout=120):
    assert job.join(timeout), "the training thread did not finish"
    return job.snapshot()


def test_job_runs_to_done_and_saves(tmp_path, tiny_config, dataset):
    job = TrainingJob(tiny_config, CheckpointStore(tmp_path), dataset, log_every=10).start()
    first = job.snapshot()
    assert first.status == "running" and first.config == tiny_config
    snap = wait_finished(job)
    assert snap.status == "done" and snap.error is None
    assert len(snap.epochs) == 1 and len(snap.steps) >= 20 and snap.step == snap.total_steps
    ckpt = CheckpointStore(tmp_path).load(snap.checkpoint)
    assert ckpt.meta["metrics"]["test_acc"] == pytest.approx(snap.test_acc)
    assert job.model is not None and snap.eta_s is None


def test_snapshot_is_a_copy(tmp_path, tiny_config, dataset):
    job = TrainingJob(tiny_config, CheckpointStore(tmp_path), dataset).start()
    snap = job.snapshot()
    snap.steps.append((999, 1.0))
    wait_finished(job)
    assert (999, 1.0) not in job.snapshot().steps


def test_full_disk_keeps_the_metrics_and_says_so(tmp_path, tiny_config, dataset, monkeypatch):
    def no_space(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints.os, "fsync", no_space)
    job = TrainingJob(tiny_config, CheckpointStore(tmp_path), dataset).start()
    snap = wait_finished(job)
    assert snap.status == "done" and snap.checkpoint is None
    assert "No space left on device" in snap.save_error and "kept in this session" in snap.save_error
    assert len(snap.epochs) == 1 and job.model is not None
    assert [p for p in tmp_path.iterdir()] == []


def test_exception_in_the_worker_ends_the_run_with_its_message(tmp_path, tiny_config, dataset, monkeypatch):
    def broken(self, idx):
        raise RuntimeError("simulated fault in a training step")

    monkeypatch.setattr(train._Step, "__call__", broken)
    snap = wait_finished(TrainingJob(tiny_config, CheckpointStore(tmp_path), dataset).start())
    assert snap.status == "failed" and "simulated fault" in snap.error
    monkeypatch.undo()
    # The next run in the same process works.
    assert wait_finished(TrainingJob(tiny_config, CheckpointStore(tmp_path), dataset).start()).status == "done"


def test_cuda_out_of_memory_says_what_to_do(tmp_path, tiny_config, dataset, monkeypatch):
    def oom(self, idx):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train._Step, "__call__", oom)
    snap = wait_finished(TrainingJob(tiny_config, CheckpointStore(tmp_path), dataset).start())
    assert snap.status == "failed"
    assert "out of memory" in snap.error and "smaller batch" in snap.error and "CPU" in snap.error


def test_pause_resume_stop_and_close(tmp_path, tiny_config, dataset):
    job = TrainingJob(tiny_config.replace(epochs=30), CheckpointStore(tmp_path), dataset, log_every=5).start()
    while not job.snapshot().steps:
        time.sleep(0.05)
    job.pause()
    time.sleep(0.3)
    step = job.snapshot().step
    time.sleep(0.5)
    assert job.snapshot().status == "paused" and job.snapshot().step == step
    job.resume()
    deadline = time.time() + 30
    while job.snapshot().step == step and time.time() < deadline:
        time.sleep(0.05)
    assert job.snapshot().step > step
    t = time.perf_counter()
    job.close()  # what a closed browser tab does
    assert not job.alive and time.perf_counter() - t < 5
    snap = job.snapshot()
    assert snap.status == "stopped" and job.model is None
    assert snap.checkpoint and (tmp_path / f"{snap.checkpoint}.safetensors").exists()  # nothing lost


def test_insight_per_epoch(tmp_path, tiny_config, dataset):
    job = TrainingJob(tiny_config.replace(epochs=2), CheckpointStore(tmp_path), dataset, insight=True).start()
    snap = wait_finished(job)
    assert len(snap.insight) == 2
    first = snap.insight[0]
    assert first["filters"].shape == (32, 28, 28)  # all 32 units of the tiny model (fewer than 36)
    assert first["projection"].shape == (2000, 2)
    # Signs are aligned with the previous epoch's frame.
    a, b = snap.insight[0]["projection"], snap.insight[1]["projection"]
    assert (a[:, 0] * b[:, 0]).sum() > 0 and (a[:, 1] * b[:, 1]).sum() > 0


def test_turns_let_one_thread_compute_at_a_time_first_come_first_served():
    turns = Turns(slots=1)
    log, inside = [], []

    def worker(name):
        for _ in range(3):
            turns.acquire()
            inside.append(name)
            assert len(inside) == 1, f"two threads computing at once: {inside}"
            log.append(name)
            time.sleep(0.02)
            inside.remove(name)
            turns.release()
            time.sleep(0.001)  # queue up again behind whoever waits

    turns.acquire()  # all three queue behind this holder, in the order they asked
    threads = [threading.Thread(target=worker, args=(n,)) for n in "abc"]
    for t in threads:
        t.start()
        while turns.waiting < threads.index(t) + 1:
            time.sleep(0.001)
    turns.release()
    for t in threads:
        t.join(10)
    assert log[:3] == ["a", "b", "c"] and sorted(log) == sorted("abc" * 3)
    assert turns.waiting == 0


def test_turns_with_two_slots_let_two_compute_at_once():
    turns = Turns(slots=2)
    turns.acquire()
    got = threading.Event()
    threading.Thread(target=lambda: (turns.acquire(), got.set()), daemon=True).start()
    assert got.wait(5), "a free second slot was not given"
    third = threading.Event()
    threading.Thread(target=lambda: (turns.acquire(), third.set()), daemon=True).start()
    assert not third.wait(0.2), "a third thread computed while both slots were taken"
    turns.release()
    assert third.wait(5)


def test_jobs_on_one_slot_all_move_and_a_paused_one_gives_its_turn_up(tmp_path, tiny_config, dataset, monkeypatch):
    monkeypatch.setattr(jobs, "CPU_TURNS", Turns(slots=1, slice_s=0.01))
    config = tiny_config.replace(epochs=20, device="cpu")
    a = TrainingJob(config, CheckpointStore(tmp_path), dataset, log_every=2).start()
    b = TrainingJob(config.replace(seed=2), CheckpointStore(tmp_path), dataset, log_every=2).start()
    try:
        assert jobs.running_jobs() >= 2
        deadline = time.time() + 60
        while not (a.snapshot().step > 10 and b.snapshot().step > 10) and time.time() < deadline:
            time.sleep(0.05)
        assert a.snapshot().step > 10 and b.snapshot().step > 10, "both runs move while they share one slot"
        a.pause()
        time.sleep(0.3)
        before = b.snapshot().step
        time.sleep(0.5)
        assert b.snapshot().step > before, "the paused run kept the turn"
        a.resume()
        while a.snapshot().step <= 12 and time.time() < deadline:
            time.sleep(0.05)
        assert a.snapshot().step > 12
    finally:
        a.close()
        b.close()
    assert not a.alive and not b.alive and jobs.running_jobs() == 0
    assert jobs.CPU_TURNS.waiting == 0


def test_running_jobs_counts_a_run_from_start_to_end(tmp_path, tiny_config, dataset):
    before = jobs.running_jobs()
    job = TrainingJob(tiny_config, CheckpointStore(tmp_path), dataset).start()
    assert jobs.running_jobs() == before + 1  # at once: a page drawn right after Start sees it
    wait_finished(job)
    assert jobs.running_jobs() == before
