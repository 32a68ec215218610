"""Sweeps on Ray: the numbers of the same seeds one after another, a dead node's run retried, a run's own
fault reported once, Ctrl-C keeping what finished, a local instance on 127.0.0.1 only, and every Ray
started or joined demanding a token."""
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import train
from conftest import ROOT, ChildOutput
from data import load_mnist
from lab import search
from trainer import runs, sweeps
from trainer.engine import Options
from trainer.records import finished_record

if importlib.util.find_spec("ray") is None:
    pytest.skip("Ray is not installed (pip install -e '.[sweeps]')", allow_module_level=True)
pytestmark = [pytest.mark.slow, pytest.mark.ray]
QUICK = ["--model", "model4", "--epochs", "1", "--batch-size", "64", "--device", "cpu", "--no-download"]


@pytest.fixture(scope="module", autouse=True)
def ray_environment():
    """This module's Ray, imported only once these are set (Ray reads them then, and when a node starts):
    every node on 127.0.0.1, demanding a token, every client sending this one (so that no test reads or makes
    ~/.ray/auth_token). Restored after the module, any Ray this process started shut down."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        patch.setenv("RAY_AUTH_MODE", "token")
        patch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        import ray
        yield ray
        ray.shutdown()


def records(out, seeds):
    return {seed: json.loads((out / f"model4-seed{seed}" / "metrics.json").read_text()) for seed in seeds}


def numbers(record):
    """A run's numbers: every epoch's row but its seconds."""
    return [{key: value for key, value in row.items() if key != "seconds"} for row in record["epochs"]]


def test_an_address_where_no_cluster_answers_ends_in_one_line(tiny_mnist, capsys):
    code = train.main([*QUICK, "--seeds", "1", "--address", "127.0.0.1:9", "--data-dir", str(tiny_mnist)])
    err = capsys.readouterr().err
    assert code == 1 and err == "error: no Ray cluster answers at 127.0.0.1:9 (start one with `ray start --head`)\n"


def test_ctrl_c_stops_a_ray_sweep_and_keeps_its_finished_records(tiny_mnist, tmp_path):
    command = [sys.executable, "train.py", *QUICK, "--epochs", "10", "--seeds", "1-3", "--threads", "1",
               "--data-dir", str(tiny_mnist), "--out", str(tmp_path)]
    proc = subprocess.Popen([*command, "--jobs", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    output = ChildOutput(proc)
    output.until("TARGET", seconds=120)  # the first run recorded
    proc.send_signal(signal.SIGINT)
    stdout, stderr = output.end(seconds=60)
    assert proc.returncode == 130, stderr
    assert re.search(r"Interrupted after \d of 3 runs; every finished run is recorded, and the [12] in flight "
                     r"(was|were) stopped\.", stdout), stdout
    finished = [seed for seed in (1, 2, 3) if finished_record(tmp_path / f"model4-seed{seed}")]
    assert 1 <= len(finished) < 3 and not (tmp_path / "model4-summary.json").exists()
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)  # here, without Ray
    assert again.returncode == 0, again.stderr
    assert f"== seed {finished[0]} ({finished[0]}/3): reused" in again.stdout


@pytest.fixture(scope="class")
def token_cluster(ray_environment):
    """A head (no CPUs) and two one-CPU nodes on 127.0.0.1, started with this module's token."""
    from ray.cluster_utils import Cluster

    assert not ray_environment.is_initialized(), "this cluster's tests run before the shared local instance"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    yield cluster, nodes
    cluster.shutdown()


class TestACluster:
    """A cluster that demands a token, joined by --address (the last test here removes one of its nodes)."""

    def test_that_wants_a_token_this_process_lacks_says_where_to_put_it(self, token_cluster, tiny_mnist, tmp_path,
                                                                         monkeypatch, capsys):
        address = token_cluster[0].address
        command = [*QUICK, "--seeds", "1", "--address", address, "--data-dir", str(tiny_mnist), "--out", str(tmp_path)]
        monkeypatch.setenv("RAY_AUTH_TOKEN", "not-the-cluster's")
        assert train.main(command) == 1
        assert capsys.readouterr().err == (f"error: the Ray cluster at {address} refused the token in RAY_AUTH_TOKEN: "
                                           f"{sweeps.TOKEN_ADVICE}\n")
        monkeypatch.delenv("RAY_AUTH_TOKEN")
        monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "no-such-file"))
        assert train.main(command) == 1
        assert capsys.readouterr().err == (f"error: the Ray cluster at {address} demands a token and this machine has "
                                           f"none: {sweeps.TOKEN_ADVICE}\n")

    def test_that_starts_no_run_in_time_ends_the_sweep_in_one_line(self, token_cluster, tiny_mnist, tmp_path,
                                                                   monkeypatch, capsys):
        """A run of two threads on nodes of one CPU each never starts: Ray would wait for ever."""
        address = token_cluster[0].address
        monkeypatch.setattr(sweeps, "TAKE_SECONDS", 2)
        code = train.main([*QUICK, "--seeds", "1", "--threads", "2", "--address", address, "--data-dir",
                           str(tiny_mnist), "--out", str(tmp_path)])
        assert code == 1 and capsys.readouterr().err == (
            f"error: the Ray cluster at {address} started no run within 2 s: a run needs 2 CPUs free on one node "
            "(`ray status` on its head shows them)\n")
        assert not sys.modules["ray"].is_initialized()

    def test_a_run_whose_node_dies_is_retried_elsewhere_with_the_same_numbers(self, token_cluster, tiny_mnist,
                                                                               tmp_path):
        """A run on each node; one node is removed mid-run. The driver records both runs, once each, and the
        retried run's numbers are a serial run's. The workers write in the job's copy of the code, as on a real
        cluster."""
        cluster, nodes = token_cluster
        data = load_mnist(tiny_mnist, download=False)
        recipe = train.new_experiment(train.parse_args([*QUICK, "--epochs", "30"])).recipe
        names = {seed: f"dies-{os.getpid()}-seed{seed}" for seed in (1, 2)}  # scratch folders no other test shares
        tasks = [sweeps.Run(f"model4 seed {seed}", runs.sweep_task,
                            (runs.SeedTask("model4", recipe, seed, f"{seed}/2", Options(progress=False), False, {}),),
                            tmp_path / names[seed]) for seed in (1, 2)]

        def remove_a_node_mid_run():  # each node has one CPU: with both runs going, each node holds one of them
            deadline = time.time() + 120
            scratch = "/tmp/ray/session_*/runtime_resources/working_dir_files/*/" + str(sweeps.SCRATCH)
            while time.time() < deadline and not all(list(Path("/").glob(f"{scratch[1:]}/{names[s]}/checkpoint.pt"))
                                                     for s in (1, 2)):
                time.sleep(0.05)
            cluster.remove_node(nodes[1])

        killer = threading.Thread(target=remove_a_node_mid_run)
        done = []
        killer.start()
        failures = sweeps.run_all(tasks, data, sweeps.Spread(address=cluster.address, threads=1),
                                  done=lambda run, record: done.append(record))
        killer.join()
        assert failures == 0 and sorted(record["seed"] for record in done) == [1, 2]
        assert all("== seed" in (tmp_path / names[seed] / "log.txt").read_text() for seed in (1, 2))  # brought home
        serial = tmp_path / "serial"
        assert train.main([*QUICK, "--epochs", "30", "--seeds", "1,2", "--threads", "1", "--data-dir",
                           str(tiny_mnist), "--out", str(serial)]) == 0
        for record in done:
            assert numbers(record) == numbers(records(serial, [record["seed"]])[record["seed"]])


def test_a_cluster_without_a_token_is_refused_in_one_line_and_taken_with_no_auth(tiny_mnist, tmp_path, capsys):
    """A head started on 127.0.0.1 as a user would, without token authentication (which Ray 2.60 turns on by
    itself where ~/.ray/auth_token exists: hence RAY_AUTH_MODE=disabled). The sweep that takes it with
    --no-auth is typed as a user would too: a fresh process with no Ray variables set, whose driver must stay on
    127.0.0.1 (Ray's would swap in this machine's other address, where no head answers, and retry it for ever)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bare = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    with tempfile.TemporaryDirectory() as temp:  # a short path: Ray's sockets in it must fit in 107 characters
        log = Path(temp) / "head.log"
        with open(log, "w") as out:
            head = subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
                                     "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "1",
                                     "--temp-dir", temp, "--include-dashboard", "false", "--disable-usage-stats"],
                                    env={**bare, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"},
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 60
            while "Ray runtime started" not in log.read_text() and time.time() < deadline and head.poll() is None:
                time.sleep(0.2)
            address = f"127.0.0.1:{port}"
            command = [*QUICK, "--seeds", "1", "--threads", "1", "--address", address, "--data-dir", str(tiny_mnist),
                       "--out", str(tmp_path)]
            assert train.main(command) == 1
            assert capsys.readouterr().err == (
                f"error: the Ray cluster at {address} lets in clients without a token, so anyone who reaches it can "
                "run code on its machines: start its nodes with RAY_AUTH_MODE=token "
                "(docs/speed.md, \"On many machines\"), "
                "or give --no-auth to use it all the same\n")
            taken = subprocess.run([sys.executable, "train.py", *command, "--no-auth"], cwd=ROOT, env=bare,
                                   capture_output=True, text=True, timeout=180)
            assert taken.returncode == 0, taken.stderr
            assert "1 runs in" in taken.stdout and "on Ray (1 thread each)" in taken.stdout
        finally:
            head.terminate()
            head.wait(timeout=60)


@pytest.fixture(scope="module")
def local_ray():
    """One local instance (2 CPUs, as --jobs 2 --threads 1 starts) for the tests below: sweeps use a Ray
    this process has started already, so it starts once for all of them. The tests that start their own
    (a cluster, a subprocess) come first in this file, before it."""
    started = sweeps.start_ray(sweeps.Spread(jobs=2, threads=1))
    yield started
    started.shutdown()


def test_the_local_instance_lets_in_only_a_client_with_its_token(local_ray):
    gcs = local_ray.get_runtime_context().gcs_address
    assert sweeps.lets_in(gcs, dict(os.environ))  # this module's token
    assert not sweeps.lets_in(gcs, {**os.environ, "RAY_AUTH_TOKEN": "not-its-token"})
    assert not sweeps.lets_in(gcs, sweeps.without_token(os.environ))


def test_a_sweep_on_local_ray_gives_the_numbers_of_the_same_seeds_one_after_another(local_ray, tiny_mnist, tmp_path,
                                                                                    capsys):
    common = [*QUICK, "--seeds", "1,2", "--threads", "1", "--data-dir", str(tiny_mnist)]
    assert train.main([*common, "--out", str(tmp_path / "serial")]) == 0
    assert "sweep:" not in capsys.readouterr().out  # one after another in this process: no Ray
    assert train.main([*common, "--jobs", "2", "--out", str(tmp_path / "ray")]) == 0
    out = capsys.readouterr().out
    assert "2 runs in" in out and "on Ray (1 thread each)" in out and "seed 1 on " in out
    serial, on_ray = records(tmp_path / "serial", [1, 2]), records(tmp_path / "ray", [1, 2])
    for seed in (1, 2):
        assert numbers(on_ray[seed]) == numbers(serial[seed]) and on_ray[seed]["provenance"]["threads"] == 1
        assert "EPOCH: 1" in (tmp_path / "ray" / f"model4-seed{seed}" / "log.txt").read_text()
    assert json.loads((tmp_path / "ray" / "model4-summary.json").read_text())["runs"] == 2


def test_search_runs_its_trials_on_local_ray(local_ray, tiny_mnist, tmp_path, capsys):
    results = tmp_path / "search.jsonl"
    code = search.main(["--variants", "p3918-settled-fade-b64", "--seeds", "1,2", "--jobs", "2", "--threads", "1",
                        "--data-dir", str(tiny_mnist), "--results", str(results), "--out", str(tmp_path / "runs")])
    assert code == 0
    assert "2 runs in" in capsys.readouterr().out  # and on Ray, not one after another
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(row["seed"] for row in rows) == [1, 2] and all(row["threads"] == 1 for row in rows)


def test_a_local_instance_listens_on_loopback_only_and_demands_a_token_it_made_for_its_owner(tmp_path):
    """In a fresh process, where nothing has set Ray's environment but sweeps.py itself, and the token's file
    (which Ray would make readable by every user) is named but missing."""
    script = """import json, os, psutil
from trainer import sweeps
ray = sweeps.start_ray(sweeps.Spread(jobs=1, threads=1))
ours = {proc.pid for proc in psutil.Process().children(recursive=True)}
gcs = ray.get_runtime_context().gcs_address
print(json.dumps({"nodes": [node["NodeManagerAddress"] for node in ray.nodes()], "gcs": gcs,
                  "listening": sorted({c.laddr.ip for c in psutil.net_connections("inet")
                                       if c.status == "LISTEN" and c.pid in ours}),
                  "lets in a client without a token": sweeps.lets_in(gcs, sweeps.without_token(os.environ))}))
ray.shutdown()"""
    token = tmp_path / "ray" / "auth_token"
    env = {**{key: value for key, value in os.environ.items() if not key.startswith("RAY_")},
           "RAY_AUTH_TOKEN_PATH": str(token)}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["nodes"] == ["127.0.0.1"] and seen["gcs"].startswith("127.0.0.1:")
    assert seen["listening"] and set(seen["listening"]) <= {"127.0.0.1", "::ffff:127.0.0.1"}, seen
    assert seen["lets in a client without a token"] is False
    assert len(token.read_text()) == 64 and token.stat().st_mode & 0o777 == 0o600


def test_a_run_that_fails_by_its_own_fault_is_reported_once_and_not_retried(local_ray, tiny_mnist, tmp_path, capsys):
    code = train.main([*QUICK, "--seeds", "1,2", "--jobs", "2", "--threads", "1", "--lr", "1e12",
                       "--data-dir", str(tiny_mnist), "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1 and "error: 2 of 2 runs failed" in captured.err
    for seed in (1, 2):
        assert captured.out.count(f"model4 seed {seed}: stopped: model4 seed {seed}, epoch 1: the loss became") == 1
        assert (tmp_path / f"model4-seed{seed}" / "log.txt").read_text().count("EPOCH: 1") == 1  # not retried


def test_every_private_name_of_ray_that_the_sweeps_use_is_there():
    """Ray has no public API for these (trainer/sweeps.py, RAY_PRIVATE): each is reached only through
    ray_private, so that a Ray that drops one fails here, by name, rather than mid-sweep."""
    for name in sweeps.RAY_PRIVATE:
        assert sweeps.ray_private(name) is not None, name
    with pytest.raises(ValueError, match="not among RAY_PRIVATE"):
        sweeps.ray_private("ray._private.worker.global_worker")
    source = (ROOT / "trainer" / "sweeps.py").read_text()
    outside = re.findall(r"ray\._\w+(?:\.\w+)*", source.split("RAY_PRIVATE = (")[1].split("def ray_private")[1])
    assert set(outside) <= set(sweeps.RAY_PRIVATE), outside  # no private name but through ray_private
