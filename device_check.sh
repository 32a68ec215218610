#!/usr/bin/env bash
# The GPU check, in one call on a machine with a CUDA device:
#   1. the tests that run on CUDA (same seed twice, resume, --eval, the torchsummary table);
#   2. one full default model3 run on CUDA, timed as a whole process;
#   3. where an epoch's time goes (bench.py --profile), then bench.py on CUDA;
#   4. with --sweeps: model3's and model4's confirmation seeds on CUDA (1001-1010, 3001-3010),
#      four runs at a time, then each sweep's own command, which reuses them and prints its summary;
#   5. bench.py on that machine's CPU, for a ratio.
#
# It needs MNIST in ./data (MNIST/raw/*-ubyte) and, where torchsummary is not installed, its
# wheel in ./wheels; both paths are git-ignored. Prepare them here, then run it there:
#   mkdir -p data && cp -r ../shared/data/MNIST data/
#   pip download torchsummary==1.5.1 --no-deps -d wheels
#   bash device_check.sh [--sweeps]      # logs go to $OUT (or ./runs/device-check)
set -uo pipefail
cd "$(dirname "$0")"
logs="${OUT:-runs/device-check}"
runs=runs/device-check
mkdir -p "$logs" "$runs"
python=$(command -v python || command -v python3)  # some images have only python3
status=0

step() { echo; echo "== $*"; }

step "machine"
"$python" -c "import torchsummary" 2>/dev/null || "$python" -m pip install --quiet --no-index wheels/*.whl
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$python" -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '|', torch.cuda.get_device_name())"

step "CUDA tests"
timeout 150 "$python" -m pytest -q -k cuda tests || status=1

step "python train.py --model model3 --data-dir data --device cuda (seed 1, the recipe)"
began=$(date +%s.%N)
timeout 150 "$python" train.py --model model3 --data-dir data --device cuda --no-download --out "$runs" \
    > "$logs/model3-cuda.log" 2>&1 || status=1
ended=$(date +%s.%N)
grep -E "^(EPOCH|Test set|TARGET)" "$logs/model3-cuda.log"
tail -n 3 "$logs/model3-cuda.log" | grep -i error
"$python" -c "print(f'whole process: {$ended - $began:.1f} s')"

step "python bench.py --data-dir data --device cuda --profile"
timeout 90 "$python" bench.py --data-dir data --device cuda --profile || status=1

step "python bench.py --data-dir data --device cuda"
timeout 150 "$python" bench.py --data-dir data --device cuda || status=1

if [[ "${1:-}" == "--sweeps" ]]; then
    step "seed sweeps on CUDA: model3 1001-1010, model4 3001-3010 (four runs at a time)"
    sweep=(train.py --data-dir data --device cuda --no-download --out "$runs/sweeps")
    for part in "model3 1001-1005" "model3 1006-1010" "model4 3001-3005" "model4 3006-3010"; do
        set -- $part
        timeout 300 "$python" "${sweep[@]}" --model "$1" --seeds "$2" > "$runs/sweep-$1-$2.log" 2>&1 &
    done
    wait
    for part in "model3 1001-1010" "model4 3001-3010"; do
        set -- $part
        step "python train.py --model $1 --seeds $2 --device cuda (the runs above, reused)"
        timeout 120 "$python" "${sweep[@]}" --model "$1" --seeds "$2" > "$runs/sweep-$1.log" 2>&1 || status=1
        grep -E "^(== seed|TARGET)" "$runs/sweep-$1.log"
        sed -n "/^$1: /,\$p" "$runs/sweep-$1.log"
    done
    tar -czf "$logs/sweeps.tar.gz" "$runs"/sweep-*.log "$runs"/sweeps/*-summary.json "$runs"/sweeps/*/metrics.json
fi

step "python bench.py --data-dir data --device cpu --skip-whole"
timeout 100 "$python" bench.py --data-dir data --device cpu --skip-whole || status=1

exit $status
