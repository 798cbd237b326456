#!/usr/bin/env bash
# Set up everything resdsl needs on a fresh Debian machine: Graphviz, a virtual
# environment in .venv, PyTorch + torchvision, TensorFlow + Keras 3, and resdsl
# itself (editable) with its training extras (tqdm, matplotlib, h5py, Pillow) and
# test tools. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dot >/dev/null 2>&1; then
  echo "== installing Graphviz (Debian package 'graphviz')"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
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
if ! python -c "import torch, torchvision, keras, tensorflow" >/dev/null 2>&1; then
  echo "== installing PyTorch, torchvision, TensorFlow and Keras (a few minutes)"
  python -m pip install -q "torch==2.14.1" "torchvision==0.29.1" "tensorflow-cpu==2.21.0" "keras==3.15.1"
fi
echo "== installing resdsl and its test tools"
python -m pip install -q -e ".[all,export,test]"
