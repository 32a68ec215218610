"""Sweeps on Ray: the numbers of the same seeds one after another, a dead node's run retried, a run's own
fault reported once, Ctrl-C keeping what finished, and a local instance on 127.0.0.1 only."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import search
import sweeps
import train
from conftest import ROOT
from data import load_mnist

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # read when Ray is imported: every node on 127.0.0.1
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements.txt)")
QUICK = ["--model", "model4", "--epochs", "1", "--batch-size", "64", "--device", "cpu", "--no-download"]


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
    proc = subprocess.Popen([*command, "--jobs", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = []
    for line in proc.stdout:  # until the first run is recorded
        seen.append(line)
        if "TARGET" in line:
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    stdout = "".join(seen) + stdout
    assert proc.returncode == 130, stderr
    assert re.search(r"Interrupted after \d of 3 runs; every finished run is recorded, and the [12] in flight "
                     r"(was|were) stopped\.", stdout), stdout
    finished = [seed for seed in (1, 2, 3) if train.finished_record(tmp_path / f"model4-seed{seed}")]
    assert 1 <= len(finished) < 3 and not (tmp_path / "model4-summary.json").exists()
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)  # here, without Ray
    assert again.returncode == 0, again.stderr
    assert f"== seed {finished[0]} ({finished[0]}/3): reused" in again.stdout


def test_a_run_whose_node_dies_is_retried_elsewhere_with_the_same_numbers(tiny_mnist, tmp_path):
    """Two nodes on 127.0.0.1, a run on each; one node is removed mid-run. The driver records both runs,
    once each, and the retried run's numbers are a serial run's. The workers write in the job's copy of
    the code, as on a real cluster."""
    from ray.cluster_utils import Cluster

    assert not ray.is_initialized(), "this test starts its own cluster: it runs before the shared instance"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    data = load_mnist(tiny_mnist, download=False)
    recipe = train.new_experiment(train.parse_args([*QUICK, "--epochs", "30"])).recipe
    names = {seed: f"dies-{os.getpid()}-seed{seed}" for seed in (1, 2)}  # scratch folders no other test shares
    runs = [sweeps.Run(f"model4 seed {seed}", train.sweep_task, ("model4", recipe, seed, f"{seed}/2",
                                                                 train.Options(progress=False), False, {}),
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
    try:
        killer.start()
        failures = sweeps.run_all(runs, data, sweeps.Where(address=cluster.address, threads=1),
                                  done=lambda run, record: done.append(record))
        killer.join()
    finally:
        cluster.shutdown()
    assert failures == 0 and sorted(record["seed"] for record in done) == [1, 2]
    assert all("== seed" in (tmp_path / names[seed] / "log.txt").read_text() for seed in (1, 2))  # brought home
    serial = tmp_path / "serial"
    assert train.main([*QUICK, "--epochs", "30", "--seeds", "1,2", "--threads", "1", "--data-dir", str(tiny_mnist),
                       "--out", str(serial)]) == 0
    for record in done:
        assert numbers(record) == numbers(records(serial, [record["seed"]])[record["seed"]])


@pytest.fixture(scope="module")
def local_ray():
    """One local instance (2 CPUs, as --jobs 2 --threads 1 starts) for the tests below: sweeps use a Ray
    this process has started already, so it starts once for all of them. The tests that start their own
    (a cluster, a subprocess) come first in this file, before it."""
    started = sweeps.start_ray(sweeps.Where(jobs=2, threads=1))
    yield started
    started.shutdown()


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


def test_a_local_instance_listens_on_loopback_only():
    """In a fresh process, where nothing has set Ray's environment but sweeps.py itself."""
    script = """import json, psutil, sweeps
ray = sweeps.start_ray(sweeps.Where(jobs=1, threads=1))
ours = {proc.pid for proc in psutil.Process().children(recursive=True)}
print(json.dumps({"nodes": [node["NodeManagerAddress"] for node in ray.nodes()],
                  "gcs": ray.get_runtime_context().gcs_address,
                  "listening": sorted({c.laddr.ip for c in psutil.net_connections("inet")
                                       if c.status == "LISTEN" and c.pid in ours})}))
ray.shutdown()"""
    env = {key: value for key, value in os.environ.items() if key != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["nodes"] == ["127.0.0.1"] and seen["gcs"].startswith("127.0.0.1:")
    assert seen["listening"] and set(seen["listening"]) <= {"127.0.0.1", "::ffff:127.0.0.1"}, seen


def test_a_run_that_fails_by_its_own_fault_is_reported_once_and_not_retried(local_ray, tiny_mnist, tmp_path, capsys):
    code = train.main([*QUICK, "--seeds", "1,2", "--jobs", "2", "--threads", "1", "--lr", "1e12",
                       "--data-dir", str(tiny_mnist), "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1 and "error: 2 of 2 runs failed" in captured.err
    for seed in (1, 2):
        assert captured.out.count(f"model4 seed {seed}: stopped: model4 seed {seed}, epoch 1: the loss became") == 1
        assert (tmp_path / f"model4-seed{seed}" / "log.txt").read_text().count("EPOCH: 1") == 1  # not retried
