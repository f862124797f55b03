#!/usr/bin/env bash
# Opt-in mutation testing with cargo-mutants (docs/RELIABILITY.md, "Mutation testing").
# Not run by .ci/run: a full pass takes hours on two shared cores.
#
#   .ci/mutants.sh four     # invitation.rs, expiry.rs, role.rs, token.rs (the issue's four)
#   .ci/mutants.sh core     # every file of invite-core/src but testing/
#   .ci/mutants.sh store    # the database-free half of invite-store-sqlx's TableMapping
#   .ci/mutants.sh core -f invite-core/src/ids.rs   # extra arguments go to cargo-mutants
#
# Results land in $MUTANTS_OUT (default target/mutants/<set>)/mutants.out: caught.txt,
# missed.txt, unviable.txt, timeout.txt, outcomes.json.
set -euo pipefail
cd "$(dirname "$0")/.."

set_name="${1:-four}"
shift || true

if ! command -v cargo-mutants >/dev/null 2>&1; then
  cargo install --locked cargo-mutants
fi

out="${MUTANTS_OUT:-target/mutants/$set_name}"
mkdir -p "$out"
# One job: the machine has two cores. No debug info: links faster, same outcomes.
export CARGO_PROFILE_DEV_DEBUG=0
common=(-j 1 --minimum-test-timeout 120 -o "$out")

case "$set_name" in
  four)
    # invite-core's own suites (unit, integration, the contract suite over the memory
    # store); doctests skipped (--tests): they cost a build each and catch nothing here.
    cargo mutants -p invite-core --all-features --cargo-test-arg=--tests "${common[@]}" \
      -f invite-core/src/invitation.rs -f invite-core/src/expiry.rs \
      -f invite-core/src/role.rs -f invite-core/src/token.rs "$@"
    ;;
  core)
    cargo mutants -p invite-core --all-features --cargo-test-arg=--tests "${common[@]}" \
      -e 'invite-core/src/testing/**' "$@"
    ;;
  store)
    # Unit tests only (no database): so only the functions that need none are mutated.
    cargo mutants -p invite-store-sqlx --cargo-test-arg=--lib "${common[@]}" \
      -f invite-store-sqlx/src/mapping.rs \
      -F 'ident|TableMappingBuilder::|TableMapping::(builder|library_role|host_role|enterprise_key|user_key)|key_kinds' \
      "$@"
    ;;
  *)
    echo "usage: $0 four|core|store [cargo-mutants arguments]" >&2
    exit 2
    ;;
esac
