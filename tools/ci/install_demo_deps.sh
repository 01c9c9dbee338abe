#!/usr/bin/env bash
# Install what the web demo and its browser test need: Debian's chromium and
# chromium-driver (apt) and requirements/demo.txt (gradio, selenium) into a
# Python environment. Without apt (or without root), the browser part is
# skipped with a message and the script still exits 0; the browser test then
# skips too (unless CI=true and ALBEF_DEMO_TEST=1, where it fails).
#
#   bash tools/ci/install_demo_deps.sh            # pip of .venv (else pip3)
#   PIP=/path/to/pip bash tools/ci/install_demo_deps.sh
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${PIP:-}" ]; then
    if [ -x .venv/bin/pip ]; then PIP=.venv/bin/pip; else PIP=pip3; fi
fi

start=$(date +%s)
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    echo "install_demo_deps: chromium and chromedriver already installed"
elif ! command -v apt-get >/dev/null; then
    echo "install_demo_deps: no apt-get here: install chromium and" \
         "chromedriver yourself; the browser test will skip"
elif [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    echo "install_demo_deps: apt-get needs root: install chromium and" \
         "chromium-driver yourself; the browser test will skip"
else
    SUDO=""
    [ "$(id -u)" != 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    if ! { $SUDO apt-get update -qq &&
           $SUDO apt-get install -y -qq chromium chromium-driver; }; then
        echo "install_demo_deps: apt-get could not install chromium;" \
             "the browser test will skip"
    fi
fi
echo "install_demo_deps: browser step took $(( $(date +%s) - start )) s"

start=$(date +%s)
if ! "$PIP" install -r requirements/demo.txt; then
    echo "install_demo_deps: pip install -r requirements/demo.txt failed" >&2
    exit 1
fi
echo "install_demo_deps: pip step took $(( $(date +%s) - start )) s"
