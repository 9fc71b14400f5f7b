"""Time every explorer's updates at 256×256 and print a markdown table (the numbers in docs/widgets.md).

    python docs/widget_timing.py [--size 256] [--repeats 5] [--threads 2]

Each row: an explorer, the control that was changed, and the median and worst time of `repeats` updates in milliseconds
(`Explorer.last_update_s`: recompute + redraw, not the browser round trip). 'noise → NAME' is the single switch to that model.
"""
import argparse, os, platform, time
import torch
from n2n.widgets import widget_timings, timings_markdown, demo_vae

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('--size', type=int, default=256)
ap.add_argument('--repeats', type=int, default=5)
ap.add_argument('--threads', type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
t0 = time.time(); vae = demo_vae(); t_vae = time.time() - t0
rows = widget_timings(a.size, a.repeats, vae=vae)
print(f"# widget update times, {a.size}×{a.size}, torch threads {a.threads}, {platform.processor() or platform.machine()}, "
      f"{os.cpu_count()} CPUs, torch {torch.__version__}; demo VAE trained in {t_vae:.0f} s\n")
print(timings_markdown(rows))
slow = [r for r in rows if r[2] > 500]
print(f"\n{len(rows)} rows; median over rows {sorted(r[2] for r in rows)[len(rows) // 2]:.0f} ms; "
      f"worst median {max(r[2] for r in rows):.0f} ms ({max(rows, key=lambda r: r[2])[1]}); rows with median > 500 ms: {len(slow)}")
