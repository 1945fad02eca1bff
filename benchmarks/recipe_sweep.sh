#!/bin/bash
# Trains several filler-only recipe variants at once and collects their validation
# evaluations: one line per variant in VARIANTS_FILE, "name --config.flag=value ...".
# Meant for a machine with an accelerator and spare cores (the variants share it);
# each run is `python main.py --config=configs/default.py` with the hole predictor
# off (the filler trains on the true mask, so it learns the same without it).
#
#   bash benchmarks/recipe_sweep.sh benchmarks/recipe_sweep_1300.txt runs/sweep \
#     --config.loss.adversarial=0.1 --config.loss.feature_matching=1.0
#
# FLAGS after RUNS_DIR go to every variant, before the variant's own (the last
# value of a flag wins). Writes RUNS_DIR/<name>/ (each run) and RUNS_DIR/<name>.json
# (its evaluation). With PROBE_DIR set (a folder of images in no split, e.g. a
# colour wheel), each trained run is also evaluated on it, on PROBE_FAMILIES
# (default box, medium, thick), into RUNS_DIR/<name>_probe.json (and the run's
# eval/step_<N>_validation_<probe folder>).
set -u
usage="usage: recipe_sweep.sh VARIANTS_FILE RUNS_DIR [FLAGS...]"
variants_file=${1:?$usage}
runs_dir=${2:?$usage}
shift 2
shared_flags=("$@")
python=${PYTHON:-python3}
# The variants share one accelerator: JAX must not take 75% of its memory per process.
export XLA_PYTHON_CLIENT_PREALLOCATE=${XLA_PYTHON_CLIENT_PREALLOCATE:-false}
mkdir -p "$runs_dir"
common=(--config=configs/default.py --config.train.hole_predictor_end_step=0
        --config.train.eval_every_steps=100000 --config.train.checkpoint_every_steps=100000
        "--config.eval.lpips_nets=('alexnet',)" "${shared_flags[@]}")

run_variant() {
  local name=$1; shift
  "$python" main.py "${common[@]}" --workdir="$runs_dir/$name" "$@" \
    > "$runs_dir/$name.log" 2>&1 || { echo "$name failed: see $runs_dir/$name.log"; return 1; }
  cp "$runs_dir/$name"/eval/step_*_validation/metrics.json "$runs_dir/$name.json"
  [ -z "${PROBE_DIR:-}" ] && return 0
  # The probe folder stands in for the validation photos (the training folder is
  # only read by the config check, so it serves as that too); on other images
  # than the run's own, the evaluation goes to eval/step_<N>_validation_<folder>.
  "$python" main.py "${common[@]}" --workdir="$runs_dir/$name" "$@" --mode=eval \
    --config.data.source=folder --config.data.train_dir="$PROBE_DIR" \
    --config.data.validation_dir="$PROBE_DIR" \
    "--config.eval.families=${PROBE_FAMILIES:-('box','medium','thick')}" \
    > "$runs_dir/${name}_probe.log" 2>&1 \
    || { echo "$name probe failed: see $runs_dir/${name}_probe.log"; return 1; }
  cp "$runs_dir/$name"/eval/step_*_validation_"$(basename "$PROBE_DIR")"/metrics.json \
    "$runs_dir/${name}_probe.json"
}

pids=()
while read -r name args; do
  [ -z "$name" ] && continue
  # shellcheck disable=SC2086  # the flags are meant to split
  run_variant "$name" $args &
  pids+=($!)
done < "$variants_file"
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
