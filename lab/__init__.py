"""The lab: the research behind the README's choices, run from the repository's root.

    python -m lab.search --list            # the trial nets (specs) and their recipes; --variants trains them
    python -m lab.plain_loop --help        # a model file alone, by the course write-up's plain loop
    python -m lab.bench --help             # where a training epoch's time goes, against a classic pipeline
    python -m lab.bench_sweeps --help      # a seed sweep the ways this project has run them
    bash lab/device_check.sh               # the checks on a GPU machine

Each script writes under runs/ (git-ignored) unless asked to record into results/.
Imports: the trainer, data.py and third-party packages; never train.py or the reports.
"""
