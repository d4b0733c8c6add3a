#!/usr/bin/env bash
# The GPU recipe on a GPU: recipes/digits-gpu.yaml at train.seed 0, 1 and 2 and, beside them
# on the same GPU for the same minutes, digits.yaml (the CPU recipe) at seed 0, all four at
# once, each decoding its evaluations with the bundled vocoder. Each run's best.pt is exported
# (generator only, float16) for scoring elsewhere with `ganaudio evaluate --n 1000`.
#
#   bash benchmarks/digits_gpu.sh DATA RUNS OUT [MINUTES]                  # from the repository root
#   RESUME=1 bash benchmarks/digits_gpu.sh DATA RUNS OUT MINUTES   # MINUTES more of the same runs
#
# DATA: FSDD recordings/; RUNS: where the run folders go; OUT: where the exported generators,
# the logs and the runs' metrics go; MINUTES: training wall time per run (default 6).
# Written for a lent GPU machine with a short lease: everything in one call, nothing waits on
# the network; OUT gets at most 8 files (the four generators and one archive of the
# logs, metrics and curves). The feature cache and the evaluation classifier are built once, before the
# runs start, so the four do not each build them at the same time.
set -euo pipefail
data=$1 runs=$2 out=$3 minutes=${4:-6}
mkdir -p "$runs/logs" "$out"
out=$(cd "$out" && pwd)  # the archive is written from inside $runs
resume=() suffix=""
if [[ ${RESUME:-0} == 1 ]]; then resume=(--resume) suffix=-resumed; fi
export OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1
python3 -c "import torch, torchaudio; print('torch', torch.__version__, 'torchaudio', torchaudio.__version__,
 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
nvidia-smi -L || true

start=$(date +%s)
python3 -m ganaudio features recipes/digits-gpu.yaml --data "$data"
python3 - "$data" <<'EOF'
import sys
from ganaudio.config import load_recipe
from ganaudio.evaluate import Reference
Reference.for_recipe(load_recipe("recipes/digits-gpu.yaml", data_root=sys.argv[1]))
EOF
echo "features and classifier: $(( $(date +%s) - start )) s"

nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv -l 20 > "$runs/logs/gpu-use$suffix.csv" 2>&1 &
monitor=$!
pids=()
launch() {  # name recipe seed
    python3 -m ganaudio train "recipes/$2.yaml" --data "$data" --out "$runs/$1" \
        --vocoder ganaudio/pretrained/digits-vocoder.pt \
        --set "train.seed=$3" --set "train.max_minutes=$minutes" --set "train.device=${DEVICE:-cuda}" \
        --set train.threads=4 "${resume[@]}" > "$runs/logs/$1$suffix.log" 2>&1 &
    pids+=($!)
}
launch gpu-seed0 digits-gpu 0
launch gpu-seed1 digits-gpu 1
launch gpu-seed2 digits-gpu 2
launch cpu-recipe-seed0 digits 0
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
kill "$monitor" 2>/dev/null || true
echo "training: $(( $(date +%s) - start )) s, status $status"

for run in gpu-seed0 gpu-seed1 gpu-seed2 cpu-recipe-seed0; do
    python3 -m ganaudio export "$runs/$run" --out "$out/$run.pt" || status=1
    tail -n 1 "$runs/$run/metrics.jsonl" || true
done
cd "$runs" && shopt -s nullglob && tar -czf "$out/runs$suffix.tgz" logs */metrics.jsonl */recipe.yaml */evaluation.png */losses.png
exit $status
