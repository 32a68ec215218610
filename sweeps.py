"""A sweep's runs: one after another in this process, or as Ray tasks on this machine or on a cluster.

A run is one task: a module-level function and its arguments in, its record out. Each run has a
folder; the work is handed the folder to write in where it runs (this machine's, or on a cluster a
scratch folder in the job's copy of the code), and the driver (this process) writes every record, so
the workers need no shared disk. train.py --seeds and search.py both hand their runs here:

    from sweeps import Run, Where, run_all
    runs = [Run("model4 seed 1", train.sweep_task, (...), Path("runs/model4-seed1")), ...]
    run_all(runs, data, Where(jobs=2, threads=1), done=lambda run, record: ...)

Where.jobs and Where.address both unset: the runs go one after another in this process (no Ray).
jobs=N: N at a time on a local Ray instance bound to 127.0.0.1, each with `threads` torch threads.
address: the same runs on a running Ray cluster (`ray start --head`); the project's code travels with
the job (results/, runs/ and data/ stay behind) and MNIST goes to the workers through Ray's object
store. Ray retries a run whose worker died (its process killed, its node gone); a run that fails by
its own fault (a UserError: a diverged loss, a broken model file) is reported once and not retried,
here as on Ray, and the rest go on. A Ray this process has started already is used as it is, as this
machine's. Ray is imported here, lazily, and nowhere else.
"""
import contextlib
import os
import socket
import sys
import time
from dataclasses import dataclass, replace
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
SCRATCH = Path("sweep-runs")  # a cluster worker's folder for its runs, in the job's copy of the code
LOG = "log.txt"  # a run's console, in its folder, when it is not this process's console


@dataclass(frozen=True)
class Run:
    """One run of a sweep: `work(*args, folder=..., data=data)` returns its record. `folder` is where its
    files go; `quiet`: its console goes to folder/log.txt even when it runs here (always on Ray)."""
    label: str
    work: Callable
    args: tuple
    folder: Path
    quiet: bool = False


@dataclass(frozen=True)
class Where:
    """How a sweep's runs are spread: see the module's docstring."""
    jobs: Optional[int] = None
    threads: Optional[int] = None
    address: Optional[str] = None
    gpus_per_run: float = 0.0

    @classmethod
    def from_args(cls, args):
        """From the flags train.add_sweep_flags adds; --address defaults to $RAY_ADDRESS."""
        return cls(jobs=args.jobs, threads=args.threads, address=args.address or os.environ.get("RAY_ADDRESS") or None,
                   gpus_per_run=args.gpus_per_run)

    def check_device(self, device):
        """On Ray a run sees a GPU only if it asks for a share of one."""
        if self.on_ray and device.type == "cuda" and not self.gpus_per_run:
            raise UserError("on Ray a run sees the GPU only with a share of it: give --gpus-per-run (0.05 puts "
                            "twenty runs on one GPU)")

    @property
    def on_ray(self):
        return self.jobs is not None or self.address is not None

    def threads_per_run(self):
        """--threads; else this machine's cores shared among --jobs; on a cluster, whose machines differ, 1."""
        if self.threads:
            return self.threads
        return 1 if self.address else max(1, (os.cpu_count() or 1) // (self.jobs or 1))

    def folder(self, folder):
        """Where a run writes: its own folder, absolute (this machine's workers share its disk), or on a
        cluster a scratch folder of the same name in the job's copy (the driver writes the record home)."""
        return SCRATCH / Path(folder).name if self.address else Path(folder).resolve()


def perform(run, data, folder, threads=None):
    """Do one run here, in `folder`: its torch threads set, its console to folder/log.txt if it is quiet.
    Returns (record, the log's text or None)."""
    if threads:
        torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS to the task's CPUs; torch is told all the same
    if not run.quiet:
        return run.work(*run.args, folder=folder, data=data), None
    Path(folder).mkdir(parents=True, exist_ok=True)
    with open(Path(folder) / LOG, "a", buffering=1) as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        record = run.work(*run.args, folder=folder, data=data)
    return record, (Path(folder) / LOG).read_text()


def default_failed(run, message):
    tqdm.write(f"{run.label}: {message}")


def run_all(runs, data, where, done, failed=default_failed):
    """Do `runs` as `where` says; done(run, record) in this process as each finishes, failed(run, message)
    for each that stopped by its own fault or was lost with its worker. Returns how many failed.
    Ctrl-C (KeyboardInterrupt) cancels the runs in flight; every finished run has had its done()."""
    if where.on_ray:
        return RaySweep(where).run(runs, data, done, failed)
    failures = 0
    for run in runs:
        try:
            record, _ = perform(run, data, run.folder, where.threads)
        except UserError as err:
            failures += 1
            failed(run, f"stopped: {err}")
        else:
            done(run, record)
    return failures


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
    imported = "ray" in sys.modules
    try:
        import ray
        from ray._private import ray_constants
    except ImportError:
        raise UserError("--jobs and --address run on Ray, which is not installed here: "
                        "pip install -r requirements.txt") from None
    if where.address:
        if not cluster_answers(where.address):
            raise UserError(f"no Ray cluster answers at {where.address} (start one with `ray start --head`)")
        try:
            ray.init(address=where.address, log_to_driver=False,
                     runtime_env={"working_dir": str(HERE), "excludes": LEFT_BEHIND})
        except ConnectionError as err:
            raise UserError(f"no Ray cluster at {where.address} ({str(err).strip().splitlines()[0]})") from None
        return ray
    if imported and ray_constants.ENABLE_RAY_CLUSTER:
        raise UserError("Ray was imported before this sweep could keep it on 127.0.0.1; run the sweep in a fresh "
                        "process, or set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before importing Ray")
    # A new instance of our own, never one named by a stale /tmp/ray/ray_current_cluster. Its workers inherit
    # this environment, so they find the project's modules without a runtime_env (which sets up each worker).
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    ray.init(address="local", num_cpus=where.jobs * where.threads_per_run(), include_dashboard=False,
             log_to_driver=False)
    return ray


def lost(err):
    """A line on a run that Ray could not finish (its worker died each time, it could not be set up, ...)."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"lost: {type(err).__name__} ({first[:200]}; a dead worker's run is tried {RETRIES + 1} times)"


class RaySweep:
    """The runs as Ray tasks: at most `jobs` in flight (on a cluster without --jobs, as many as it takes)."""

    def __init__(self, where):
        self.where = where

    def run(self, runs, data, done, failed):
        """The runs on the Ray this process has started already (a notebook's own ray.init, say), used as it
        is, or else on one started here for them and shut down after."""
        ray = sys.modules.get("ray")  # not imported here before start_ray has set its environment
        if ray is not None and ray.is_initialized():
            return self._run(ray, runs, data, done, failed)
        ray = start_ray(self.where)
        try:
            return self._run(ray, runs, data, done, failed)
        finally:
            ray.shutdown()

    def _run(self, ray, runs, data, done, failed):
        from ray.exceptions import RayError, RayTaskError

        threads = self.where.threads_per_run()
        task = ray.remote(perform).options(num_cpus=threads, num_gpus=self.where.gpus_per_run,
                                           max_retries=RETRIES, retry_exceptions=False)
        data_ref = ray.put(data)  # once: every worker reads MNIST from the object store
        limit = self.where.jobs or len(runs)
        waiting, in_flight, failures, finished = list(runs), {}, 0, 0
        bar = tqdm(total=len(runs), unit="run", desc="sweep", dynamic_ncols=True, file=sys.stdout)
        began = time.perf_counter()
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < limit:
                    run = replace(waiting.pop(0), quiet=True)
                    in_flight[task.remote(run, data_ref, self.where.folder(run.folder), threads)] = run
                bar.set_postfix_str(f"{len(in_flight)} in flight")
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                run = in_flight.pop(ready[0])
                try:
                    record, log = ray.get(ready[0])
                except RayTaskError as err:  # the run raised: its own fault, reported once, not retried
                    cause = err.cause if isinstance(err.cause, Exception) else err
                    failures += 1
                    failed(run, f"stopped: {cause}" if isinstance(cause, UserError) else
                           f"stopped: {type(cause).__name__}: {str(cause).strip().splitlines()[-1]}")
                except RayError as err:
                    failures += 1
                    failed(run, lost(err))
                else:
                    if self.where.address:  # the worker's folder was a scratch one: its console comes home
                        Path(run.folder).mkdir(parents=True, exist_ok=True)
                        (Path(run.folder) / LOG).write_text(log)
                    done(run, record)
                    finished += 1
                bar.update()
        except KeyboardInterrupt:
            bar.close()
            print(f"\nInterrupted after {finished} of {len(runs)} runs; every finished run is recorded, and the "
                  f"{len(in_flight)} in flight {'was' if len(in_flight) == 1 else 'were'} stopped.")
            raise
        finally:
            for ref in in_flight:  # whatever stopped the sweep, nothing of it runs on
                ray.cancel(ref, force=True)
        bar.close()
        print(f"{len(runs)} runs in {time.perf_counter() - began:.0f} s on Ray "
              f"({threads} thread{'s' * (threads != 1)} each{'' if not failures else f'; {failures} failed'})")
        return failures
