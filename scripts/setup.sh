#!/usr/bin/env bash
# Set up everything resdsl needs on a fresh Debian machine: Graphviz, a virtual
# environment in .venv, PyTorch + torchvision, TensorFlow + Keras 3, and resdsl
# itself (editable) with its training extras (tqdm, matplotlib, h5py, Pillow) and
# test tools. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dot >/dev/null 2>&1; then
  echo "== installing Graphviz (Debian package 'graphviz')"
  # As root (a minimal container often has no sudo) apt-get runs directly;
  # otherwise through sudo, where there is one.
  if [ "$(id -u)" = 0 ]; then SUDO=""
  elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"
  else
    echo "setup.sh: Graphviz's 'dot' is missing and there is no sudo to install it with." >&2
    echo "  Install the Debian package 'graphviz' as root (apt-get install graphviz), then run this again." >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup.sh: Graphviz's 'dot' is missing and this is not a Debian system (no apt-get)." >&2
    echo "  Install Graphviz with your system's package manager, then run this again." >&2
    exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq graphviz >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null

# Pinned frameworks: the versions the parity tests were written against.
if ! python -c "import torch, torchvision, keras, tensorflow, timm" >/dev/null 2>&1; then
  echo "== installing PyTorch, torchvision, TensorFlow and Keras (a few minutes)"
  python -m pip install -q "torch==2.14.1" "torchvision==0.29.1" "tensorflow-cpu==2.21.0" "keras==3.15.1" "timm==1.0.31"
fi
echo "== installing resdsl and its test tools"
python -m pip install -q -e ".[all,export,test]"
