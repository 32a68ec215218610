#!/usr/bin/env bash
# The GPU check, in one call of at most 8 minutes on a machine with a CUDA device:
#   1. the tests that run on CUDA (same seed twice, resume, --eval, the torchsummary table);
#   2. one full default model3 run on CUDA, timed as a whole process;
#   3. bench.py on CUDA, then bench.py on that machine's CPU for a ratio.
#
# It needs MNIST in ./data (MNIST/raw/*-ubyte) and, where torchsummary is not installed, its
# wheel in ./wheels; both paths are git-ignored. Prepare them here, then run it there:
#   cp -r ../shared/data/MNIST data/
#   pip download torchsummary==1.5.1 --no-deps -d wheels
#   bash device_check.sh                 # logs also go to $OUT (or ./runs/device-check)
set -uo pipefail
cd "$(dirname "$0")"
logs="${OUT:-runs/device-check}"
mkdir -p "$logs"
status=0

step() { echo; echo "== $*"; }

step "machine"
python -c "import torchsummary" 2>/dev/null || python -m pip install --quiet --no-index wheels/*.whl
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '|', torch.cuda.get_device_name())"

step "CUDA tests"
timeout 150 python -m pytest -q -k cuda tests || status=1

step "python train.py --model model3 --data-dir data --device cuda (seed 1, the recipe)"
began=$(date +%s.%N)
timeout 150 python train.py --model model3 --data-dir data --device cuda --no-download --out "$logs/runs" \
    > "$logs/model3-cuda.log" 2>&1 || status=1
ended=$(date +%s.%N)
grep -E "^(EPOCH|Test set|TARGET)" "$logs/model3-cuda.log"
tail -n 3 "$logs/model3-cuda.log" | grep -i error
python -c "print(f'whole process: {$ended - $began:.1f} s')"

step "python bench.py --data-dir data --device cuda"
timeout 150 python bench.py --data-dir data --device cuda || status=1

step "python bench.py --data-dir data --device cpu --skip-whole"
timeout 100 python bench.py --data-dir data --device cpu --skip-whole || status=1

exit $status
