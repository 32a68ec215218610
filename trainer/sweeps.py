"""A sweep's runs: one after another in this process, or as Ray tasks on this machine or on a cluster.

A run is one task: a module-level function and its arguments in, its record out. Each run has a
folder; the work is handed the folder to write in where it runs (this machine's, or on a cluster a
scratch folder in the job's copy of the code), and the driver (this process) writes every record, so
the workers need no shared disk. train.py --seeds, the search and the plain loop all hand their runs here:

    from trainer.sweeps import Run, Spread, run_all
    runs = [Run("model4 seed 1", runs.sweep_task, (SeedTask(...),), Path("runs/model4-seed1")), ...]
    run_all(runs, data, Spread(jobs=2, threads=1), done=lambda run, record: ...)

Spread.jobs and Spread.address both unset: the runs go one after another in this process (no Ray).
jobs=N: N at a time on a local Ray instance bound to 127.0.0.1, each with `threads` torch threads.
address: the same runs on a running Ray cluster (`ray start --head`); the project's code travels with the job
(results/, runs/ and data/ stay behind; teachers/ goes, for a distilled run) and MNIST goes to the workers
through Ray's object store. Every Ray started or joined here demands a token (Ray's RAY_AUTH_MODE=token): the
local instance makes one if this user has none, and a cluster that lets in clients without one is refused
unless no_auth (--no-auth) says to use it all the same. Ray retries a run whose worker died (its process
killed, its node gone); a run that fails by its own fault (a UserError: a diverged loss, a broken model file)
is reported once and not retried, here as on Ray, and the rest go on. A Ray this process has started already
is used as it is, as this machine's. Ray is imported here, lazily, and nowhere else.
"""
import argparse
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import torch
from tqdm.auto import tqdm

from trainer.engine import UserError
from trainer.paths import ROOT

# What a job's copy of the code leaves behind: data, run outputs, results, environments, git.
# A weights file outside these goes with the code: teachers/*.pt, which a distilled run reads on its worker.
LEFT_BEHIND = ["data/", "runs/", "results/", ".git/", ".venv/", "venv/", "assets/", "__pycache__/", ".pytest_cache/"]
RETRIES = 3  # of a run whose worker died; a run that raised is never retried
SCRATCH = Path("sweep-runs")  # a cluster worker's folder for its runs, in the job's copy of the code
LOG = "log.txt"  # a run's console, in its folder, when it is not this process's console
LOOPBACK = ("127.0.0.1", "localhost")
ASK_SECONDS = 20  # a Ray head answers a client in well under a second; something else at its port never does
TAKE_SECONDS = 60  # a cluster that has not started a run by then would keep the sweep waiting for ever
TOKEN_ADVICE = ("copy the head's ~/.ray/auth_token to ~/.ray/auth_token here (chmod 600), or name the file that holds "
             "it in RAY_AUTH_TOKEN_PATH")
# Ray's private names, where Ray has no public API for the job (2.60): each is reached only through
# ray_private, and tests/test_ray.py checks that the installed Ray still has every one.
RAY_PRIVATE = ("ray._raylet.GcsClient",  # TOKEN_PROBE's client of a head, before this process joins it
               "ray._private.services.canonicalize_bootstrap_address_or_die",  # "auto" and names to HOST:PORT
               "ray._private.ray_constants.ENABLE_RAY_CLUSTER",  # whether an imported Ray listens beyond 127.0.0.1
               "ray._raylet.AuthenticationMode", "ray._raylet.get_authentication_mode")  # an imported Ray's token mode
# A client of a cluster's head in a process of its own, since Ray fixes a process's token when it is imported:
# it exits 0 if the head lets it in, 3 if the head refuses its token (or its lack of one).
TOKEN_PROBE = """import sys
from ray._raylet import GcsClient
from ray.exceptions import AuthenticationError
try:
    GcsClient(address=sys.argv[1])
except AuthenticationError:
    sys.exit(3)"""


@dataclass(frozen=True)
class Run:
    """One run of a sweep: `work(*args, folder=..., data=data)` returns its record. `folder` is where its
    files go; `quiet`: its console goes to folder/log.txt even when it runs here (always on Ray)."""
    label: str
    work: Callable[..., Any]
    args: tuple[Any, ...]
    folder: Path
    quiet: bool = False


@dataclass(frozen=True)
class Spread:
    """How a sweep's runs are spread: see the module's docstring."""
    jobs: int | None = None
    threads: int | None = None
    address: str | None = None
    gpus_per_run: float = 0.0
    no_auth: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Spread":
        """From the flags trainer.flags.add_sweep_flags adds; --address defaults to $RAY_ADDRESS."""
        return cls(jobs=args.jobs, threads=args.threads, address=args.address or os.environ.get("RAY_ADDRESS") or None,
                   gpus_per_run=args.gpus_per_run, no_auth=args.no_auth)

    def check_device(self, device: torch.device) -> None:
        """On Ray a run sees a GPU only if it asks for a share of one."""
        if self.on_ray and device.type == "cuda" and not self.gpus_per_run:
            raise UserError("on Ray a run sees the GPU only with a share of it: give --gpus-per-run (0.05 puts "
                            "twenty runs on one GPU)")

    @property
    def on_ray(self) -> bool:
        return self.jobs is not None or self.address is not None

    def threads_per_run(self) -> int:
        """--threads; else this machine's cores shared among --jobs; on a cluster, whose machines differ, 1."""
        if self.threads:
            return self.threads
        return 1 if self.address else max(1, (os.cpu_count() or 1) // (self.jobs or 1))

    def folder(self, folder: str | Path) -> Path:
        """Spread a run writes: its own folder, absolute (this machine's workers share its disk), or on a
        cluster a scratch folder of the same name in the job's copy (the driver writes the record home)."""
        return SCRATCH / Path(folder).name if self.address else Path(folder).resolve()


def run_here(run: Run, data: object, folder: str | Path, threads: int | None = None) -> tuple[Any, str | None]:
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


def default_failed(run: Run, message: str) -> None:
    tqdm.write(f"{run.label}: {message}")


def run_all(runs: list[Run], data: object, spread: Spread, done: Callable[[Run, Any], object],
            failed: Callable[[Run, str], object] = default_failed) -> int:
    """Do `runs` as `spread` says; done(run, record) in this process as each finishes, failed(run, message)
    for each that stopped by its own fault or was lost with its worker. Returns how many failed.
    Ctrl-C (KeyboardInterrupt) cancels the runs in flight; every finished run has had its done()."""
    if spread.on_ray:
        return RaySweep(spread).run(runs, data, done, failed)
    failures = 0
    for run in runs:
        try:
            record, _ = run_here(run, data, run.folder, spread.threads)
        except UserError as err:
            failures += 1
            failed(run, f"stopped: {err}")
        else:
            done(run, record)
    return failures


def cluster_answers(address: str, timeout: float = 5.0) -> bool:
    """Whether something listens at a Ray cluster's HOST:PORT (its GCS), asked before Ray would wait a minute."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def token_path() -> Path:
    """The file Ray reads its token from when RAY_AUTH_TOKEN is not set."""
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def token_source() -> str | None:
    """Spread Ray finds this process's token (RAY_AUTH_TOKEN, else token_path()), or None if it finds none."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return "RAY_AUTH_TOKEN"
    try:
        return str(token_path()) if token_path().read_text().strip() else None
    except OSError:
        return None


def make_token() -> None:
    """A token for a local instance where this user has none: Ray would make one too, but (under the usual umask)
    readable by every user of the machine."""
    path = token_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        os.fchmod(file.fileno(), 0o600)  # an empty file already there would keep its own mode
        file.write(secrets.token_hex(32))


def without_token(env: Mapping[str, str]) -> dict[str, str]:
    """`env` as a client that holds no token has it."""
    return {**{key: value for key, value in env.items() if key not in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")},
            "RAY_AUTH_MODE": "disabled"}


def lets_in(address: str, env: Mapping[str, str]) -> bool:
    """Whether the Ray cluster whose head is at HOST:PORT lets in a client with this environment's token."""
    try:
        client = subprocess.run([sys.executable, "-c", TOKEN_PROBE, address], env=env, capture_output=True, text=True,
                                timeout=ASK_SECONDS)
    except subprocess.TimeoutExpired:
        raise UserError(f"no Ray cluster answers at {address} within {ASK_SECONDS} s (something listens there, but "
                        "not a Ray head)") from None
    if client.returncode not in (0, 3):
        last = (client.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"could not ask the Ray cluster at {address} for a token ({last[:200]})")
    return client.returncode == 0


def check_token(address: str, no_auth: bool) -> None:
    """Refuse a cluster that lets in clients without a token (unless no_auth), and say where the token goes if it
    refuses this process's: Ray itself would retry for a minute and then name neither, or crash."""
    if not no_auth and lets_in(address, without_token(os.environ)):
        raise UserError(f"the Ray cluster at {address} lets in clients without a token, so anyone who reaches it can "
                        "run code on its machines: start its nodes with RAY_AUTH_MODE=token (docs/speed.md, \"On many "
                        "machines\"), or give --no-auth to use it all the same")
    source = token_source()
    if source is None and (os.environ.get("RAY_AUTH_MODE") == "token" or not lets_in(address, dict(os.environ))):
        raise UserError(f"the Ray cluster at {address} demands a token and this machine has none: {TOKEN_ADVICE}")
    if source is not None and not lets_in(address, dict(os.environ)):
        raise UserError(f"the Ray cluster at {address} refused the token in {source}: {TOKEN_ADVICE}")


def ray_private(name: str) -> Any:
    """One of RAY_PRIVATE, by its full name."""
    if name not in RAY_PRIVATE:
        raise ValueError(f"{name} is not among RAY_PRIVATE")
    import importlib
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def start_a_run(ray: ModuleType, spread: Spread, address: str) -> None:
    """A cluster with no node that has a run's CPUs and GPUs free (none has enough, or all are busy) would keep
    the sweep waiting for ever: a task that asks for as much must start within TAKE_SECONDS."""
    threads = spread.threads_per_run()
    started, _ = ray.wait([ray.remote(lambda: None).options(num_cpus=threads, num_gpus=spread.gpus_per_run).remote()],
                          timeout=TAKE_SECONDS)
    if not started:
        gpus = f" and {spread.gpus_per_run:g} GPU" if spread.gpus_per_run else ""
        raise UserError(f"the Ray cluster at {address} started no run within {TAKE_SECONDS} s: a run needs {threads} "
                        f"CPU{'s' * (threads != 1)}{gpus} free on one node (`ray status` on its head shows them)")


def join(ray: ModuleType, spread: Spread) -> ModuleType:
    """Join the cluster at spread.address once it has passed check_token, and see that it can start a run."""
    canonical = ray_private("ray._private.services.canonicalize_bootstrap_address_or_die")
    try:  # "auto" found, a name resolved
        address = canonical(spread.address)
    except (ConnectionError, ValueError) as err:
        raise UserError(f"no Ray cluster at {spread.address} ({str(err).strip().splitlines()[0]})") from None
    if not cluster_answers(address):
        raise UserError(f"no Ray cluster answers at {address} (start one with `ray start --head`)")
    check_token(address, spread.no_auth)
    try:
        ray.init(address=address, log_to_driver=False,
                 runtime_env={"working_dir": str(ROOT), "excludes": LEFT_BEHIND})
    except ConnectionError as err:
        raise UserError(f"no Ray cluster at {address} ({str(err).strip().splitlines()[0]})") from None
    try:
        start_a_run(ray, spread, address)
    except UserError:
        ray.shutdown()
        raise
    return ray


def start_ray(spread: Spread) -> ModuleType:
    """Start a local Ray instance on 127.0.0.1 (spread.address unset) or join the cluster at spread.address;
    returns the ray module."""
    loopback = not spread.address or spread.address.rpartition(":")[0] in LOOPBACK
    if loopback:  # read when Ray is imported: on Linux Ray would otherwise listen on every interface, and a driver
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # would swap 127.0.0.1 for an address no head is at
    if not (spread.address and spread.no_auth and token_source() is None):
        os.environ["RAY_AUTH_MODE"] = "token"  # read when Ray is imported, too
    imported = "ray" in sys.modules
    try:
        import ray
    except ImportError:
        raise UserError("--jobs and --address run on Ray 2.52 or later, which is not installed here: "
                        "pip install -e '.[sweeps]' (or pip install 'ray>=2.52')") from None
    token_mode = ray_private("ray._raylet.AuthenticationMode").TOKEN
    stale_auth = os.environ.get("RAY_AUTH_MODE") == "token" and ray_private("ray._raylet.get_authentication_mode")() \
        != token_mode
    if imported and ((loopback and ray_private("ray._private.ray_constants.ENABLE_RAY_CLUSTER")) or stale_auth):
        raise UserError("Ray was imported before this sweep could set it up (a token demanded; on this machine, "
                        "127.0.0.1 only): run the sweep in a fresh process, or set RAY_AUTH_MODE=token (and "
                        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0) before importing Ray")
    if spread.address:
        return join(ray, spread)
    if token_source() is None:
        make_token()
    # A new instance of our own, never one named by a stale /tmp/ray/ray_current_cluster. Its workers inherit
    # this environment, so they find the project's modules without a runtime_env (which sets up each worker).
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    # On Ray without an address: spread.jobs is set.
    ray.init(address="local", num_cpus=cast(int, spread.jobs) * spread.threads_per_run(), include_dashboard=False,
             log_to_driver=False)
    return ray


def lost_line(err: Exception) -> str:
    """A line on a run that Ray could not finish (its worker died each time, it could not be set up, ...)."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"lost: {type(err).__name__} ({first[:200]}; a dead worker's run is tried {RETRIES + 1} times)"


class RaySweep:
    """The runs as Ray tasks: at most `jobs` in flight (on a cluster without --jobs, as many as it takes)."""

    def __init__(self, spread: Spread) -> None:
        self.spread = spread

    def run(self, runs: list[Run], data: object, done: Callable[[Run, Any], object],
            failed: Callable[[Run, str], object]) -> int:
        """The runs on the Ray this process has started already (a notebook's own ray.init, say), used as it
        is, or else on one started here for them and shut down after."""
        ray = sys.modules.get("ray")  # not imported here before start_ray has set its environment
        if ray is not None and ray.is_initialized():
            return self._run(ray, runs, data, done, failed)
        ray = start_ray(self.spread)
        try:
            return self._run(ray, runs, data, done, failed)
        finally:
            ray.shutdown()

    def _run(self, ray: ModuleType, runs: list[Run], data: object, done: Callable[[Run, Any], object],
             failed: Callable[[Run, str], object]) -> int:
        from ray.exceptions import RayError, RayTaskError

        threads = self.spread.threads_per_run()
        task = ray.remote(run_here).options(num_cpus=threads, num_gpus=self.spread.gpus_per_run,
                                           max_retries=RETRIES, retry_exceptions=False)
        data_ref = ray.put(data)  # once: every worker reads MNIST from the object store
        limit = self.spread.jobs or len(runs)
        in_flight: dict[Any, Run]  # a task's ObjectRef -> its run
        waiting, in_flight, failures, finished = list(runs), {}, 0, 0
        bar = tqdm(total=len(runs), unit="run", desc="sweep", dynamic_ncols=True, file=sys.stdout)
        began = time.perf_counter()
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < limit:
                    run = replace(waiting.pop(0), quiet=True)
                    in_flight[task.remote(run, data_ref, self.spread.folder(run.folder), threads)] = run
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
                    failed(run, lost_line(err))
                else:
                    if self.spread.address:  # the worker's folder was a scratch one: its console comes home
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
