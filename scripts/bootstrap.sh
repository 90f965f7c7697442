#!/usr/bin/env bash
# Create the virtualenv and install what the project needs; a no-op when nothing changed.
#   scripts/bootstrap.sh        what the running system needs (requirements.txt, the chart library)
#   scripts/bootstrap.sh dev    that, plus what tests, lint and benches need (requirements-dev.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi

pip_install() {
  # (grep drops the noise of index locations this machine's pip config may name but lack)
  .venv/bin/python -m pip install --quiet "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }
}

# One stamp per set: each holds the hash of the files it was installed from, so editing either
# requirements file (or package.json) reinstalls exactly what depends on it.
run_stamp=.venv/.requirements.sha
dev_stamp=.venv/.requirements-dev.sha
run_want=$(cat requirements.txt package.json 2>/dev/null | sha256sum | cut -d' ' -f1)
dev_want=$(cat requirements.txt requirements-dev.txt package.json 2>/dev/null | sha256sum | cut -d' ' -f1)

if [ "$(cat "$run_stamp" 2>/dev/null)" != "$run_want" ]; then
  echo "==> installing Python requirements"
  pip_install --upgrade pip
  pip_install -r requirements.txt
  if [ -f package.json ] && command -v npm >/dev/null 2>&1; then
    echo "==> installing front-end packages"
    npm install --silent --no-audit --no-fund >/dev/null
    mkdir -p static/vendor
    cp node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js static/vendor/
  elif [ ! -f static/vendor/lightweight-charts.standalone.production.js ]; then
    echo "==> npm not found: the pages show their numbers without charts (install Node.js with npm, then make setup)"
  fi
  echo "$run_want" > "$run_stamp"
fi

if [ "${1:-}" = "dev" ] && [ "$(cat "$dev_stamp" 2>/dev/null)" != "$dev_want" ]; then
  echo "==> installing development requirements"
  pip_install -r requirements-dev.txt
  echo "$dev_want" > "$dev_stamp"
fi
mkdir -p var
