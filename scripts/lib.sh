# Shared set-up for scripts/run and scripts/test: each installs what it needs, once, on a fresh machine.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PLAYGROUND="$ROOT/tools/playground"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; return 1; fi
}

# Debian packages, installed only when missing. apt's index is refreshed at most once per run.
_apt_updated=""
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  if [ -z "$_apt_updated" ]; then as_root apt-get update -qq; _apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

python_311() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      command -v "$candidate"; return 0
    fi
  done
  apt_install python3 python3-venv python3-dev
  command -v python3.11
}

# The virtual environment, rebuilt when pyproject.toml or the lock file changes.
ensure_venv() {
  local extras="$1" stamp="$VENV/.installed-$1"
  local want; want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" 2>/dev/null | sha256sum | cut -c1-16)"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment in .venv"
    "$(python_311)" -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python packages (.[${extras}])"
    "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    # pip's own chatter about this machine's local mirrors is not news; real errors still stop us.
    "$VENV/bin/python" -m pip install -q -c "$ROOT/requirements.lock" -e "$ROOT[${extras}]" 2> >(grep -v -e "^WARNING: Location" -e "editable" >&2)
    echo "$want" > "$stamp"
  fi
}

# The Microsoft 365 Agents Playground, from the npm registry, pinned by tools/playground's lock file.
ensure_playground() {
  command -v node >/dev/null || apt_install nodejs npm
  local stamp="$PLAYGROUND/node_modules/.installed"
  local want; want="$(sha256sum "$PLAYGROUND/package-lock.json" | cut -c1-16)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing the Microsoft 365 Agents Playground (npm ci)"
    (cd "$PLAYGROUND" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" > "$stamp"
  fi
}
