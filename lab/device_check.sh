#!/usr/bin/env bash
# The GPU check, on a machine with a CUDA device, in three modes, each sized for one call of at
# most 10 minutes on an H100 (docs/speed.md: what each step took there).
#
#   bash lab/device_check.sh            # the check:
#       1. the tests that run on CUDA (same seed twice, resume, --eval, the torchsummary table, the
#          CUDA-graph step against the eager one);
#       2. one full default model3 run on CUDA, timed as a whole process;
#       3. where a training epoch's time goes (lab/bench.py --profile);
#       4. lab/bench.py on CUDA: the tensor pipeline against the classic one, the CUDA-graph step against
#          the eager one, and whole processes.
#   bash lab/device_check.sh --sweeps [model3] [model4]   # their fresh seeds on CUDA (1001-1010,
#       6301-6310; both if none named): the ten seeds of a model at once, one process each, then each
#       sweep's own command, which reuses them and prints its summary.
#   bash lab/device_check.sh --ray      # many tiny nets on one GPU: model4 on 20 seeds at once on local Ray
#       (--jobs 20 --gpus-per-run 0.05, 1 thread each) against one run alone, each a timed whole process.
#
# It needs MNIST in ./data (MNIST/raw/*-ubyte) and, where torchsummary (or, for --ray, Ray) is not
# installed, their wheels in ./wheels; both paths are git-ignored. Prepare them here, then run it there:
#   mkdir -p data && cp -r ../shared/data/MNIST data/
#   pip download torchsummary==1.5.1 --no-deps -d wheels
#   pip download "ray>=2.52" -d wheels           # for --ray only
# Logs go to $OUT (or ./runs/device-check); runs to ./runs/device-check.
set -uo pipefail
cd "$(dirname "$0")/.."  # the repository's root
logs="${OUT:-runs/device-check}"
runs=runs/device-check
mkdir -p "$logs" "$runs"
python=$(command -v python || command -v python3)  # some images have only python3
status=0

step() { echo; echo "== $*"; }
# A time counts only for a step that had the GPU to itself (docs/speed.md): say what else computes on it.
others() { echo "other processes on the GPU: $(nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -c .)"; }

step "machine"
"$python" -c "import torchsummary" 2>/dev/null || "$python" -m pip install --quiet --no-index wheels/*.whl
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$python" -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '|', torch.cuda.get_device_name())"
others

if [[ "${1:-}" == "--sweeps" ]]; then
    shift
    declare -A seeds=([model3]="1001 1010" [model4]="6301 6310")
    models=("$@")
    [[ ${#models[@]} -gt 0 ]] || models=(model3 model4)
    sweep=(train.py --data-dir data --device cuda --no-download --out "$runs/sweeps")
    for model in "${models[@]}"; do
        set -- $model ${seeds[$model]}
        step "python train.py --model $1 --seeds $2-$3 --device cuda (each seed in its own process first)"
        for seed in $(seq "$2" "$3"); do
            timeout 150 "$python" "${sweep[@]}" --model "$1" --seeds "$seed" > "$runs/sweep-$1-$seed.log" 2>&1 &
        done
        wait
        timeout 60 "$python" "${sweep[@]}" --model "$1" --seeds "$2-$3" > "$runs/sweep-$1.log" 2>&1 || status=1
        grep -E "^(== seed|TARGET)" "$runs/sweep-$1.log"
        sed -n "/^$1: /,\$p" "$runs/sweep-$1.log"
    done
    tar -czf "$logs/sweeps.tar.gz" "$runs"/sweep-*.log "$runs"/sweeps/*-summary.json "$runs"/sweeps/*/metrics.json
    exit $status
fi

if [[ "${1:-}" == "--ray" ]]; then
    "$python" -c "import ray" 2>/dev/null || "$python" -m pip install --quiet --no-index --find-links wheels ray
    ray_sweep=(train.py --model model4 --data-dir data --device cuda --no-download --threads 1)
    for way in "alone:--seeds 7501" "ray20:--seeds 7501-7520 --jobs 20 --gpus-per-run 0.05"; do
        step "python ${ray_sweep[*]} ${way#*:}"
        began=$(date +%s.%N)
        timeout 280 "$python" "${ray_sweep[@]}" ${way#*:} --out "$runs/ray-${way%%:*}" \
            > "$logs/ray-${way%%:*}.log" 2>&1 || status=1
        ended=$(date +%s.%N)
        grep -E "runs in|target met on|^TARGET" "$logs/ray-${way%%:*}.log" | tail -n 3
        "$python" -c "print(f'${way%%:*}, whole process: {$ended - $began:.1f} s')"
    done
    exit $status
fi

step "CUDA tests"
timeout 150 "$python" -m pytest -q -m cuda tests || status=1

step "python train.py --model model3 --data-dir data --device cuda (seed 1, the recipe)"
others
began=$(date +%s.%N)
timeout 100 "$python" train.py --model model3 --data-dir data --device cuda --no-download --out "$runs" \
    > "$logs/model3-cuda.log" 2>&1 || status=1
ended=$(date +%s.%N)
grep -E "^(EPOCH|Test set|TARGET)" "$logs/model3-cuda.log"
tail -n 3 "$logs/model3-cuda.log" | grep -i error
"$python" -c "print(f'whole process: {$ended - $began:.1f} s')"

step "python -m lab.bench --data-dir data --device cuda --profile"
timeout 60 "$python" -m lab.bench --data-dir data --device cuda --profile || status=1

step "python -m lab.bench --data-dir data --device cuda"
others
timeout 200 "$python" -m lab.bench --data-dir data --device cuda || status=1

exit $status
