# Sourced by the benches that run the ci-profile binaries against their own local stack
# (scripts/bench-access-entries.sh, scripts/bench-event-budget.sh): builds eks-sim and
# eks-iam-sync (profile ci), puts the Python venv on PATH, starts moto + eks-sim in a
# temporary directory with one cluster, stops them on exit. Sets `bin` (the eks-iam-sync
# binary) and `tmp` (the temporary directory).
#
#   . scripts/bench-stack.sh MODE CLUSTER
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/eks-iam-sync/target}
export CARGO_TERM_COLOR=never
cargo build --quiet --profile ci -p eks-sim -p eks-iam-sync
export EKS_SIM_BIN=$CARGO_TARGET_DIR/ci/eks-sim
bin=$CARGO_TARGET_DIR/ci/eks-iam-sync
PATH="$(scripts/python-env.sh):$PATH"
export PATH

tmp=$(mktemp -d)
cleanup() {
  EKS_IAM_SYNC_STACK_DIR=$tmp/stack scripts/local-stack.sh stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export EKS_IAM_SYNC_STACK_DIR=$tmp/stack
eval "$(STACK_AUTH_MODE=$1 STACK_CLUSTER=$2 scripts/local-stack.sh start)"
