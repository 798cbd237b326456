#!/usr/bin/env bash
# Set up (scripts/setup.sh), then the everyday job on a shipped spec: validate,
# compile to Keras and PyTorch, and render the network, all into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
spec=${1:-resnet50}
mkdir -p out
resdsl validate "$spec"
resdsl compile "$spec" --backend keras -o "out/${spec}_keras.py" --force
resdsl compile "$spec" --backend torch -o "out/${spec}_torch.py" --force
resdsl render "$spec" -o "out/${spec}.svg" --force
echo "outputs in out/: $(ls out | tr '\n' ' ')"
