"""bf16 vs float32, same seed and steps: the demo's U-Net trained and evaluated twice on the demo's held-out images.
Usage: python docs/precision_check.py [--steps N] [--out docs/precision_check.md]"""
import argparse, json, os, platform, tempfile, time
import torch
from n2n.demo import DemoConfig, run_demo, N2N

p = argparse.ArgumentParser()
p.add_argument('--steps', type=int, default=1000)
p.add_argument('--out', default='docs/precision_check.md')
a = p.parse_args()
rows, runs = [], {}
for prec in ('bf16', 'fp32'):
    cfg = DemoConfig(steps=a.steps, seconds=None, precision=prec, classic=(), ensemble=False, pretrained=None)
    t = time.time()
    with tempfile.TemporaryDirectory() as d: res = run_demo(d, cfg, progress=False)
    runs[prec] = dict(psnr={k: v['psnr'] for k, v in ((k, res['scores'][N2N][k]) for k in cfg.test_images)},
                      mean=res['means'][N2N]['psnr'], loss=res['history']['loss'][-1], seconds=time.time() - t)
    print(prec, json.dumps(runs[prec]), flush=True)
cfg = DemoConfig(steps=a.steps)
gap = runs['bf16']['mean'] - runs['fp32']['mean']
lines = [f"# bf16 vs float32: quality at the same seed and steps\n",
         f"`python docs/precision_check.py --steps {a.steps}` on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} CPUs, "
         f"torch {torch.__version__}. The demo's U-Net (features {cfg.features}, depth {cfg.depth}), {a.steps} steps of {cfg.batch_size} crops of "
         f"{cfg.crop}², seed {cfg.seed}, trained and evaluated (PSNR of outputs rounded to 8 bits, σ = {cfg.test_sigma}) in each precision.\n",
         '| precision | ' + ' | '.join(cfg.test_images) + ' | mean PSNR (dB) | final loss | seconds |', '|---|' + '---:|' * (len(cfg.test_images) + 3)]
for prec, r in runs.items():
    lines.append(f"| {prec} | " + ' | '.join(f"{r['psnr'][k]:.2f}" for k in cfg.test_images) + f" | {r['mean']:.2f} | {r['loss']:.5f} | {r['seconds']:.0f} |")
lines.append(f"\nbf16 − fp32: **{gap:+.2f} dB** (goal: within ±0.1 dB: {'met' if abs(gap) <= 0.1 else 'NOT met'}). "
             "The seconds are wall-clock on a shared machine; use `n2n bench --throughput` for speed.")
open(a.out, 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
