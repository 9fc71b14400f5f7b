#!/usr/bin/env bash
# Full-scale n2n benchmark on a CUDA machine: ready to run, NOT yet measured (written on a machine without a GPU).
# Run from the repository root:   bash docs/gpu_benchmark.sh            (one GPU; the DDP part uses every visible GPU)
# Needs the benchmark sets in $N2N_DATA (Kodak24, CBSD68, BSD68, Set12, CBSD432, Train400; see data/registry.json).
# Writes docs/bench_gpu/ (results.csv, per_image.csv, models.csv, results.md, results.png, models/, throughput.txt, ddp_*.json).
# Every step is resumable: rerunning skips what is already in docs/bench_gpu/results.csv and reuses docs/bench_gpu/models/.
set -euo pipefail
export N2N_DATA="${N2N_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/datasets}"
OUT="${OUT:-docs/bench_gpu}"
BUDGET="${BUDGET:-1800}"          # seconds of training per U-Net (the target: Kodak24 N2N >= 32.50 dB in <= 30 min on one H100)
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"

echo "== 1. throughput of the paper's U-Net (bf16 autocast, channels_last; eager and torch.compile)"
python - <<'EOF' | tee "$OUT/throughput.txt"
import torch
from n2n.unet import UNet
from n2n.bench import throughput
print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
for c in (3, 1):
    for batch, size in ((32, 128), (16, 256)):
        for comp in (False, True):
            r = throughput(UNet(c, features=48, depth=5), channels=c, size=size, batch=batch, device='cuda', compile=comp, steps=50, warmup=10)
            print(f"U-Net {c}ch batch {batch}x{size}^2 compile={comp}: train {r['train_mpix_s']:.0f} MPix/s, "
                  f"inference {r['infer_mpix_s']:.0f} MPix/s, peak {r['peak_mem_gib']:.2f} GiB", flush=True)
EOF

echo "== 2. the table: Gaussian sigma=25, whole test images, paper U-Net trained ${BUDGET}s per model"
COMMON=(--n-images 0 --crop 0 --train-steps 100000000 --train-seconds "$BUDGET" --batch-size 32 --train-crop 128
        --features 48 --depth 5 --paper-unet --vae-seconds "$BUDGET" --vae-full --device cuda --compile --out "$OUT")
n2n bench --datasets Kodak24,CBSD68,BSD68,Set12 --noises gaussian:25 "${COMMON[@]}"

echo "== 3. Poisson lambda=30 on Kodak24 (paper: N2N 31.50 dB)"
n2n bench --datasets Kodak24 --noises poisson:30 --methods noisy,bm3d,n2n,n2c,vae "${COMMON[@]}"

echo "== 4. DistributedDataParallel on every visible GPU vs one GPU (same global batch: same loss curve, N x the throughput)"
NGPU="$(nvidia-smi -L | wc -l)"
DDP=(--images CBSD432 --recipe gaussian --mode n2n --steps 2000 --batch-size 64 --crop 128 --log-every 50 --compile --quiet)
python -m n2n.distributed "${DDP[@]}" --history "$OUT/ddp_1gpu.json"
if [ "$NGPU" -gt 1 ]; then
  torchrun --standalone --nproc_per_node "$NGPU" -m n2n.distributed "${DDP[@]}" --history "$OUT/ddp_${NGPU}gpu.json"
fi
python - "$OUT" <<'EOF'
import json, sys, glob
for f in sorted(glob.glob(f"{sys.argv[1]}/ddp_*gpu.json")):
    h = json.load(open(f))
    print(f"{f}: world {h['world_size']}, {h['steps']} steps, final loss {h['loss'][-1]:.6f}, {h['mpix_per_s']:.0f} MPix/s trained")
EOF
echo "done: $OUT/results.md"
