#!/usr/bin/env bash
# Everything issue 15 asks of a lent GPU machine, in one call (see BENCHMARKS.md, "GPU"):
#   1. training: emoshift, SKADA and a bare PyTorch loop on the GPU, then the same on the
#      machine's CPU (one torch thread), warmed-up processes;
#   2. the 1M-rows-per-domain DANN epoch on the GPU;
#   3. the GPU path: tests/test_cuda_path.py (every neural method on CUDA, Adam's CUDA
#      path) and the tests that keep device "auto" (= CUDA there: sequences, SSL, bundles);
#   4. eGeMAPS extraction with 1 and 2 processes on an otherwise idle many-core machine.
# Results go to $OUT (default /tmp/emoshift-gpu). Wheels in .whl/ (the bench extra and the
# audio packages the device image lacks) are installed first when present.
set -u
OUT=${OUT:-/tmp/emoshift-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    echo "cpus: $(nproc)"
    python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())"
    uptime
} 2>&1 | tee "$OUT/machine.txt"
B=benchmarks
timeout 200 python3 $B/bench_training.py --device cuda --warm --repeats 3 --epochs 30 \
    --json "$OUT/training_cuda.jsonl" 2>&1 | tee "$OUT/training_cuda.txt"
timeout 90 python3 $B/bench_scaling.py --device cuda --rows 1000000 --minutes 2>&1 \
    | tee "$OUT/scaling_cuda.txt"
timeout 90 python3 -m pytest -q -p no:cacheprovider -rf tests/test_method_contract.py \
    tests/test_dann.py tests/test_coral.py tests/test_mrd.py tests/test_optim.py \
    tests/test_cada.py tests/test_fada.py tests/test_max_entropy.py tests/test_fine_tune.py \
    tests/test_sequence_encoder.py tests/test_ensemble.py tests/test_methods_base.py \
    tests/test_selection_scorers.py tests/test_selection_selector.py \
    tests/test_bundle_roundtrip.py tests/test_features_ssl.py tests/test_cuda_path.py 2>&1 \
    | tail -40 | tee "$OUT/tests_cuda.txt"
timeout 80 python3 $B/bench_training.py --device cpu --warm --repeats 2 --epochs 30 \
    --methods dann --json "$OUT/training_cpu.jsonl" 2>&1 | tee "$OUT/training_cpu.txt"
timeout 80 python3 $B/bench_features.py --files 96 --seconds 4 --jobs 2 --repeats 2 \
    --sets egemaps 2>&1 | tee "$OUT/features.txt"
uptime | tee -a "$OUT/machine.txt"
