#!/usr/bin/env bash
# Create the virtualenv and install what the project needs; a no-op when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt package.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing Python requirements"
  # (grep drops the noise of index locations this machine's pip config may name but lack)
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
  .venv/bin/python -m pip install --quiet -r requirements.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
  if [ -f package.json ] && command -v npm >/dev/null 2>&1; then
    echo "==> installing front-end packages"
    npm install --silent --no-audit --no-fund >/dev/null
    mkdir -p static/vendor
    cp node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js static/vendor/
  fi
  echo "$want" > "$stamp"
fi
mkdir -p var
