#!/usr/bin/env bash
# Digits runs side by side on one lent GPU, each decoding its evaluations with the bundled
# vocoder. Two plans:
#   PLAN=recipes (default): recipes/digits-gpu.yaml at train.seed 0, 1 and 2 and, beside them
#     for the same minutes, digits.yaml (the CPU recipe) at seed 0; each best.pt is exported
#     (generator only, float16) for scoring elsewhere with `ganaudio evaluate --n 1000`.
#   PLAN=ablation: digits-gpu.yaml against it with one thing changed, each at seeds 0, 1, 2:
#     the CPU recipe's width (128/384) and the CPU recipe's EMA (0.995). Nine runs at once.
#     Scored on the machine itself (SCORE=1 is implied): held-out figures, 1,000 clips x latent
#     seeds 0 1 2, for each run's best.pt and for its checkpoint at the newest step all runs
#     reached (equal steps), plus the bundled model as the reference row; the small
#     generators' best.pt come back exported.
#
#   bash benchmarks/digits_gpu.sh DATA RUNS OUT [MINUTES]                # from the repository root
#   RESUME=1 bash benchmarks/digits_gpu.sh DATA RUNS OUT MINUTES # MINUTES more of the same runs
#
# DATA: FSDD recordings/; RUNS: where the run folders go; OUT: where the exported generators,
# the logs, the runs' metrics and the scores go; MINUTES: training wall time per run (default 6).
# Written for a lent GPU machine with a short lease: everything in one call, nothing waits on
# the network; EXTRA adds "--set key=value" words to every run and SCORE_N sets the scored clips
# (1000), for a quick trial on a CPU. OUT gets at most 8 files (a lease returns no more). The feature cache and the
# evaluation classifier are built once, before the runs start, so the runs do not each build them
# at the same time.
set -euo pipefail
data=$1 runs=$2 out=$3 minutes=${4:-6}
plan=${PLAN:-recipes}
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

# One line per run: name recipe seed [--set key=value ...]
case $plan in
recipes) runs_plan="gpu-seed0 digits-gpu 0
gpu-seed1 digits-gpu 1
gpu-seed2 digits-gpu 2
cpu-recipe-seed0 digits 0" ;;
ablation) runs_plan=""
    for seed in 0 1 2; do runs_plan+="gpu-recipe-seed$seed digits-gpu $seed
cpu-width-seed$seed digits-gpu $seed --set model.width=128 --set model.max_width=384
cpu-ema-seed$seed digits-gpu $seed --set train.ema_decay=0.995
"; done ;;
*) echo "PLAN must be recipes or ablation, not $plan" >&2; exit 2 ;;
esac
threads=$(( $(nproc) / $(grep -c . <<<"$runs_plan") )); (( threads >= 1 )) || threads=1

nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv -l 20 > "$runs/logs/gpu-use$suffix.csv" 2>&1 &
monitor=$!
pids=() names=()
while read -r name recipe seed overrides; do
    [[ -n $name ]] || continue
    # shellcheck disable=SC2086  # overrides are "--set key=value" words
    python3 -m ganaudio train "recipes/$recipe.yaml" --data "$data" --out "$runs/$name" \
        --vocoder ganaudio/pretrained/digits-vocoder.pt \
        --set "train.seed=$seed" --set "train.max_minutes=$minutes" --set "train.device=${DEVICE:-cuda}" \
        --set "train.threads=$threads" --set train.keep_checkpoints=50 $overrides ${EXTRA:-} "${resume[@]}" \
        > "$runs/logs/$name$suffix.log" 2>&1 &
    pids+=($!) names+=("$name")
done <<<"$runs_plan"
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
kill "$monitor" 2>/dev/null || true
echo "training: $(( $(date +%s) - start )) s, status $status"
for name in "${names[@]}"; do tail -n 1 "$runs/$name/metrics.jsonl" || true; done

if [[ $plan == recipes ]]; then
    for name in "${names[@]}"; do python3 -m ganaudio export "$runs/$name" --out "$out/$name.pt" || status=1; done
else
    # Equal steps: the newest checkpoint every run has (none if a run has none: then best.pt only).
    common=$(for name in "${names[@]}"; do ls "$runs/$name"/checkpoint-*.pt 2>/dev/null || true; done \
             | sed 's/.*checkpoint-0*//; s/\.pt//' | sort -n | uniq -c \
             | awk -v n=${#names[@]} '$1 == n {step = $2} END {print step}')
    echo "equal-steps checkpoint: step ${common:-none}"
    mkdir -p "$runs/scores"
    jobs=()  # the bundled model's reference rows last: they matter least if time runs out
    for seed in 0 1 2; do
        for name in "${names[@]}"; do
            jobs+=("$name-best-$seed $runs/$name/best.pt $seed")
            [[ -z $common ]] || jobs+=("$name-step$common-$seed $runs/$name/$(printf 'checkpoint-%07d.pt' "$common") $seed")
        done
    done
    for seed in 0 1 2; do jobs+=("bundled-$seed - $seed"); done
    # SCORE_BY: seconds after the start by which scoring stops, so a lease's limit leaves time to
    # send back what was scored (--foreground: the deadline reaches the evaluations too).
    left=$(( ${SCORE_BY:-100000} - ($(date +%s) - start) )); (( left > 10 )) || left=10
    export data runs SCORE_N=${SCORE_N:-1000}
    printf '%s\n' "${jobs[@]}" | timeout "$left" xargs -P "$(nproc)" -L 1 bash -c '
        ckpt=(); [[ $1 == - ]] || ckpt=(--checkpoint "$1")
        OMP_NUM_THREADS=1 timeout --foreground 300 python3 -m ganaudio evaluate "${ckpt[@]}" --data "$data" \
            --vocoder ganaudio/pretrained/digits-vocoder.pt --n "$SCORE_N" --seed "$2" \
            --json "$runs/scores/$0.json" > "$runs/scores/$0.log" 2>&1 || echo "scoring $0 failed"' || status=1
    echo "scoring: $(( $(date +%s) - start )) s"
    for name in "${names[@]}"; do
        [[ $name == cpu-width-* ]] && { python3 -m ganaudio export "$runs/$name" --out "$out/$name.pt" || status=1; }
    done
fi
cd "$runs" && shopt -s nullglob && { tar -czf "$out/runs$suffix.tgz" logs */metrics.jsonl */recipe.yaml */evaluation.png \
    */losses.png score[s] || status=1; }
exit $status
