"""The document generator: the README's and docs/' tables, logs and pictures, from results/ only.

    python -m reports                       # rewrite every generated block and picture
    python -m reports --check               # write nothing; exit 1 if a block differs from results/
    python -m reports --run runs/model3-seed1   # one run of yours on its own

cli (the command), report (the README and the model files' Results), research_pages (docs/frontier.md
and docs/trials.md), speed_page (docs/speed.md), evidence (the runs and words they share), run_log (a
run's log, and a run of one's own).
Imports: the trainer, data.py and third-party packages; never train.py or the lab.
"""
