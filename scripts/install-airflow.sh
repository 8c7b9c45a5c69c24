#!/usr/bin/env bash
# Create .venv-airflow (a venv separate from .venv, so the core install never pulls Airflow in)
# and install the project with the `airflow` extra into it, pinned by scripts/airflow-constraints.txt.
#
#   scripts/install-airflow.sh            # idempotent: a no-op when already installed and up to date
#   scripts/install-airflow.sh --force    # reinstall
#
# Environment: PY (interpreter to create the venv with, default python3),
#   KLINK_AIRFLOW_VENV (default <repo>/.venv-airflow),
#   KLINK_AIRFLOW_CONSTRAINTS (a constraints file; "none" to resolve freely, e.g. to regenerate it).
# tests/test_airflow_dag.py runs the DAG with this venv's interpreter.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-python3}"
VENV="${KLINK_AIRFLOW_VENV:-$ROOT/.venv-airflow}"
CONSTRAINTS="${KLINK_AIRFLOW_CONSTRAINTS:-$ROOT/scripts/airflow-constraints.txt}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

constraint_args=()
stamp_inputs=("$ROOT/pyproject.toml")
if [[ "$CONSTRAINTS" != "none" ]]; then
    constraint_args=(-c "$CONSTRAINTS")
    stamp_inputs+=("$CONSTRAINTS")
fi
want="$(cat "${stamp_inputs[@]}" | sha256sum | cut -d' ' -f1)"
stamp="$VENV/.klink-install-stamp"

if [[ $FORCE == 0 && -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "install-airflow: $VENV is up to date"
    exit 0
fi

start=$SECONDS
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
rm -f "$stamp"
# no ~/airflow side effects from anything imported during the install check below
if [[ -z "${AIRFLOW_HOME:-}" ]]; then
    AIRFLOW_HOME="$(mktemp -d)"
    trap 'rm -rf "$AIRFLOW_HOME"' EXIT
    export AIRFLOW_HOME
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[airflow]" "${constraint_args[@]}"
version="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("apache-airflow"))')"
# the imports the DAG needs, so a broken install fails here and not in the middle of the tests
"$VENV/bin/python" -c 'import airflow.sdk, dlt.helpers.airflow_helper, sources, pipelines'
echo "$want" > "$stamp"
echo "install-airflow: apache-airflow $version in $VENV ($((SECONDS - start)) s)"
