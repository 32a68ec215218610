"""A sweep's runs: one after another in this process, or as Ray tasks on this machine or on a cluster.

A run is one task: a module-level function and its arguments in, its record out. The driver (this
process) writes every record, so the workers need no shared disk. train.py --seeds and search.py
both hand their runs here:

    from sweeps import Run, Where, run_all
    runs = [Run("model4 seed 1", train.sweep_task, (...), log=Path("runs/model4-seed1/log.txt")), ...]
    run_all(runs, data, Where(jobs=2, threads=1), done=lambda run, record: ...)

Where.jobs and Where.address both unset: the runs go one after another in this process (no Ray).
jobs=N: N at a time on a local Ray instance bound to 127.0.0.1, each with `threads` torch threads.
address: the same runs on a running Ray cluster (`ray start --head`); the project's code travels with
the job (results/, runs/ and data/ stay behind) and MNIST goes to the workers through Ray's object
store. Ray retries a run whose worker died (its process killed, its node gone); a run that fails by
its own fault (a UserError: a diverged loss, a broken model file) is reported once and not retried.
A Ray this process has started already is used as it is. Ray is imported here, lazily, and nowhere else.
"""
import contextlib
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
from tqdm.auto import tqdm

from engine import UserError

HERE = Path(__file__).resolve().parent
# What a job's copy of the code leaves behind: data, run outputs, results, environments, git.
LEFT_BEHIND = ["data/", "runs/", "results/", ".git/", ".venv/", "venv/", "assets/", "*.pt", "*.pth",
               "__pycache__/", ".pytest_cache/"]
RETRIES = 3  # of a run whose worker died; a run that raised is never retried


@dataclass(frozen=True)
class Run:
    """One run of a sweep: `work(*args, data=data)` returns its record; `log`, if given, takes its console."""
    label: str
    work: Callable
    args: tuple
    log: Optional[Path] = None


@dataclass(frozen=True)
class Where:
    """How a sweep's runs are spread: see the module's docstring."""
    jobs: Optional[int] = None
    threads: Optional[int] = None
    address: Optional[str] = None
    gpus_per_run: float = 0.0

    @property
    def on_ray(self):
        return self.jobs is not None or self.address is not None

    def threads_per_run(self):
        return self.threads or max(1, (os.cpu_count() or 1) // (self.jobs or 1))


class RunFailed(UserError):
    """A run that stopped by its own fault, or whose worker died more often than Ray retries."""


def perform(run, data, threads=None):
    """Do one run here: its torch threads set, its console to its log (if it has one)."""
    if threads:
        torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS to the task's CPUs; torch is told all the same
    if run.log is None:
        return run.work(*run.args, data=data)
    Path(run.log).parent.mkdir(parents=True, exist_ok=True)
    with open(run.log, "a", buffering=1) as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        return run.work(*run.args, data=data)


def run_all(runs, data, where, done, failed=None):
    """Do `runs` as `where` says; done(run, record) in this process as each finishes, failed(run, message)
    for each that stopped (default: a line on the console). Returns the number of runs that failed.
    Ctrl-C (KeyboardInterrupt) cancels the runs in flight; every finished run has had its done()."""
    failed = failed or (lambda run, message: tqdm.write(f"{run.label}: {message}"))
    if not where.on_ray:
        for run in runs:
            done(run, perform(run, data, where.threads))
        return 0
    return RaySweep(where).run(runs, data, done, failed)


def cluster_answers(address, timeout=5.0):
    """Whether something listens at a Ray cluster's HOST:PORT (its GCS), asked before Ray would wait a minute."""
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        return True  # "auto" or a ray:// address: Ray says itself whether it finds one
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def start_ray(where):
    """Start a local Ray instance on 127.0.0.1 (where.address unset) or join the cluster at where.address;
    returns the ray module."""
    if not where.address:  # read when Ray is imported: on Linux Ray would otherwise listen on every interface
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    if where.address:
        try:
            ray.init(address=where.address, log_to_driver=False,
                     runtime_env={"working_dir": str(HERE), "excludes": LEFT_BEHIND})
        except ConnectionError as err:
            raise UserError(f"no Ray cluster at {where.address} ({str(err).strip().splitlines()[0]})") from None
        return ray
    # A new instance of our own, never one named by a stale /tmp/ray/ray_current_cluster.
    ray.init(address="local", num_cpus=where.jobs * where.threads_per_run(), include_dashboard=False,
             log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}})
    return ray


class RaySweep:
    """The runs as Ray tasks: at most `jobs` in flight (all of them on a cluster without --jobs)."""

    def __init__(self, where):
        self.where = where

    def run(self, runs, data, done, failed):
        """The runs on the Ray this process has started already (a notebook's own ray.init, say), used as it
        is, or else on one started here for them and shut down after."""
        if self.where.address and not cluster_answers(self.where.address):
            raise UserError(f"no Ray cluster answers at {self.where.address} (start one with `ray start --head`)")
        ray = sys.modules.get("ray")  # not imported here before start_ray has set its environment
        if ray is not None and ray.is_initialized():
            return self._run(ray, runs, data, done, failed)
        ray = start_ray(self.where)
        try:
            return self._run(ray, runs, data, done, failed)
        finally:
            ray.shutdown()

    def _run(self, ray, runs, data, done, failed):
        from ray.exceptions import RayTaskError

        threads = self.where.threads_per_run()
        task = ray.remote(perform).options(num_cpus=threads, num_gpus=self.where.gpus_per_run,
                                           max_retries=RETRIES, retry_exceptions=False)
        data_ref = ray.put(data)  # once: every worker reads MNIST from the object store
        limit = self.where.jobs or len(runs)
        waiting, in_flight, failures = list(runs), {}, 0
        bar = tqdm(total=len(runs), unit="run", desc="sweep", dynamic_ncols=True, file=sys.stdout)
        began = time.perf_counter()
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < limit:
                    run = waiting.pop(0)
                    in_flight[task.remote(run, data_ref, threads)] = run
                bar.set_postfix_str(f"{len(in_flight)} in flight")
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                run = in_flight.pop(ready[0])
                try:
                    record = ray.get(ready[0])
                except RayTaskError as err:  # the run raised: its own fault, reported once, not retried
                    cause = err.cause if isinstance(err.cause, Exception) else err
                    failures += 1
                    failed(run, f"stopped: {cause}" if isinstance(cause, UserError) else
                           f"stopped: {type(cause).__name__}: {str(cause).strip().splitlines()[-1]}")
                except ray.exceptions.RayError as err:  # its worker or node died RETRIES + 1 times
                    failures += 1
                    failed(run, f"lost: {type(err).__name__} (Ray retried it {RETRIES} times)")
                else:
                    done(run, record)
                bar.update()
        except KeyboardInterrupt:
            for ref in in_flight:
                ray.cancel(ref, force=True)
            bar.close()
            stopped = len(in_flight)
            print(f"\nInterrupted after {bar.n} of {len(runs)} runs; every finished run is recorded, and the "
                  f"{stopped} in flight {'was' if stopped == 1 else 'were'} stopped.")
            raise
        bar.close()
        print(f"{len(runs)} runs in {time.perf_counter() - began:.0f} s on Ray "
              f"({threads} thread{'s' * (threads != 1)} each{'' if not failures else f'; {failures} failed'})")
        return failures
