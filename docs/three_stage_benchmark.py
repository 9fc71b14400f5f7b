"""Three-stage VAE (after each stage) vs the Noise2Noise U-Net vs the noisy input, same wall-clock budget, on the embedded images.

Train: astronaut, coffee, rocket, hubble_deep_field, ihc, retina (motorcycle_right is left out: stereo twin of motorcycle_left).
Test: chelsea, motorcycle_left (whole images), Gaussian sigma = 25 (8-bit units), one fixed noise draw per image.
Both models train on Gaussian sigma = 25 noise pairs (stage 2 needs a known noise level), on the same engine (n2n.engine),
with the same precision (bf16 where the CPU has it) and the same number of threads.
Scores with n2n.metrics.evaluate: outputs clipped and rounded to 8 bits for PSNR/SSIM; NLDR on the float output.

Usage:  python docs/three_stage_benchmark.py --seconds 240 [--variants article,skip,...] [--out docs/three_stage_results.md]
Prints a markdown table; with --out also writes it (with the command, machine and date) to that file.
"""
from __future__ import annotations
import argparse, copy, datetime, json, os, platform, sys, time
import torch
from n2n.core import image_to_tensor, seed_everything, resolve_precision
from n2n.noise import Gaussian
from n2n.data import NoisyPairs, embedded_images, noisy_copies
from n2n.unet import UNet
from n2n.engine import FitConfig, learner
from n2n.inference import denoise
from n2n.metrics import evaluate
from n2n.article import small_config, make_model, fit_article

TRAIN = ('astronaut', 'coffee', 'rocket', 'hubble_deep_field', 'ihc', 'retina')
TEST = ('chelsea', 'motorcycle_left')
SIGMA = 25
SKIP = dict(channels=(32, 64, 128), latent_channels=64, skip=True)
# VAE variants: name -> (small_config overrides, description)
VARIANTS = {
    'article': (dict(), "article model (no skips, sigmoid, latent 64 at 1/8 resolution), article loss G+L, KL weight 0.01"),
    'skip': (dict(model=SKIP), "design change: skip connections through every level (else as 'article')"),
    'skip_l2': (dict(model=dict(SKIP, output='linear'), recon='l2', kl_weight=0.001),
                "design change: skips + linear output + L2 loss + KL weight 0.001"),
    'wide_lowkl': (dict(model=dict(channels=(32, 64, 128), latent_channels=256), kl_weight=0.001),
                   "design change: no skips, latent 256 channels, KL weight 0.001"),
    'skip_nobn': (dict(model=dict(SKIP, batchnorm=False)), "design change: skips, no BatchNorm (the N2N paper's choice)"),
    'skip_wide': (dict(model=dict(SKIP, batchnorm=False, head=48)),
                  "design change: skips, no BatchNorm, 48 features at full resolution (the U-Net's width there)"),
    'skip_nearest': (dict(model=dict(SKIP, batchnorm=False, head=48, upsample='nearest')),
                     "design change: skips, no BatchNorm, 48 full-resolution features, 3×3 convolutions after nearest upsampling"),
    'skip_all_l2': (dict(model=dict(SKIP, batchnorm=False, head=48, upsample='nearest', output='linear'), recon='l2', kl_weight=0.001),
                    "design change: all three, plus linear output, L2 loss, KL weight 0.001"),
}
STAGE_SPLIT = (0.7, 0.15, 0.15)   # fractions of the budget for stages 1, 2, 3

def load_loadavg():
    try: return os.getloadavg()[0]
    except OSError: return float('nan')

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seconds', type=float, default=180, help='training budget per model (the VAE splits it 70/15/15 over its stages)')
    ap.add_argument('--variants', default='article,skip', help=f"comma-separated VAE variants from {sorted(VARIANTS)}")
    ap.add_argument('--skip-unet', action='store_true', help='do not train the U-Net (e.g. when measuring more VAE variants)')
    ap.add_argument('--out', default=None, help='write the markdown report here')
    ap.add_argument('--json', default=None, help='write raw scores here')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    ap.add_argument('--precision', default='auto', help='auto (bf16 where the CPU has it), bf16 or fp32, for every model')
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, a.threads))
    variants = [v for v in a.variants.split(',') if v]
    for v in variants:
        if v not in VARIANTS: ap.error(f"unknown variant {v!r}; choose from {sorted(VARIANTS)}")
    noise = Gaussian(SIGMA)
    train = list(embedded_images(list(TRAIN)).values())
    cleans = {k: image_to_tensor(v) for k, v in embedded_images(list(TEST)).items()}
    noisy = noisy_copies(cleans, noise, seed=a.seed + 1000, key='three-stage')
    methods, info = {'noisy input': lambda x: x}, {}

    if not a.skip_unet:
        seed_everything(a.seed)
        unet = UNet(3, features=48, depth=5, residual=True)
        ds = NoisyPairs(train, noise, mode='n2n', crop=64, channels=3, length=1_000_000, seed=a.seed)
        l0 = load_loadavg(); t = time.time(); c0 = time.process_time()
        lrn = learner(unet, ds, cfg=FitConfig(steps=1_000_000, batch_size=8, lr=1e-3, max_seconds=a.seconds, seed=a.seed,
                                              precision=a.precision), progress=False)
        lrn.fit()
        info['N2N U-Net'] = dict(steps=lrn.step, seconds=time.time() - t, cpu=time.process_time() - c0, load=(l0 + load_loadavg()) / 2,
                                 desc='UNet(features=48, depth=5, residual=True), L2, batch 8 of 64² crops, Adam lr 1e-3, cosine ramp-down')
        print(f"U-Net: {info['N2N U-Net']['steps']} steps in {info['N2N U-Net']['seconds']:.0f} s", file=sys.stderr, flush=True)
        methods['N2N U-Net'] = (lambda m: lambda x: denoise(m, x, precision=a.precision))(unet)

    for v in variants:
        over, desc = VARIANTS[v]
        cfg = small_config(epochs=100_000, adjust_epochs=100_000, entropy_epochs=100_000, seed=a.seed, precision=a.precision,
                           seconds=tuple(f * a.seconds for f in STAGE_SPLIT), **over)
        model = make_model(cfg)
        for s in (1, 2, 3):
            l0 = load_loadavg(); t = time.time(); c0 = time.process_time()
            r = fit_article(model, train, cfg, stages=(s,), progress=False)
            name = f'VAE {v}, after stage {s}'
            info[name] = dict(steps=r['history'][s]['step'][-1], seconds=time.time() - t, cpu=time.process_time() - c0,
                              load=(l0 + load_loadavg()) / 2, desc=desc if s == 1 else f'+ stage {s}')
            print(f"{name}: {info[name]['steps']} steps in {info[name]['seconds']:.0f} s", file=sys.stderr, flush=True)
            methods[name] = (lambda m: lambda x: denoise(m, x, precision=a.precision))(copy.deepcopy(model).eval())

    ev = evaluate(methods, cleans, noisy)
    means = ev['mean']
    ref = means.get('N2N U-Net', {}).get('psnr')
    rows = ["| method | PSNR (dB) | SSIM | NLDR (dB) | Δ PSNR vs U-Net | training steps | wall s | CPU s | load avg |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m, s in means.items():
        i = info.get(m, {})
        d = f"{s['psnr'] - ref:+.2f}" if ref is not None and m != 'N2N U-Net' else ''
        rows.append(f"| {m} | {s['psnr']:.2f} | {s['ssim']:.4f} | {s['nldr']:.2f} | {d} | {i.get('steps', '')} | "
                    f"{i['seconds']:.0f} | {i['cpu']:.0f} | {i['load']:.1f} |" if i else
                    f"| {m} | {s['psnr']:.2f} | {s['ssim']:.4f} | {s['nldr']:.2f} | {d} | | | | |")
    per_image = ["| method | " + " | ".join(cleans) + " |", "|---|" + "---:|" * len(cleans)]
    per_image += [f"| {m} | " + " | ".join(f"{ev['per_image'][m][k]['psnr']:.2f}" for k in cleans) + " |" for m in methods]
    table = '\n'.join(rows)
    print(table)
    cmd = 'python docs/three_stage_benchmark.py ' + ' '.join(sys.argv[1:] if argv is None else argv)
    models = '\n'.join(f"- **{k}**: {v['desc']}" for k, v in info.items() if not k.endswith(('stage 2', 'stage 3')))
    report = f"""{table}

PSNR per image (dB):

{chr(10).join(per_image)}

- Command: `{cmd}` (from the repository root).
- Machine: {platform.machine()}, {os.cpu_count()} CPU cores (1-minute load average during each run in the table; 'CPU s' is the CPU time this process got), torch {torch.__version__}, {torch.get_num_threads()} thread(s), precision {resolve_precision(a.precision, 'cpu')}, no GPU; {datetime.date.today().isoformat()}.
- Stage rows: steps and seconds of that stage alone; the VAE's three stages together use the same budget as the U-Net.
- Budget: {a.seconds:.0f} s of training per model; the VAE splits it {'/'.join(str(int(f * 100)) for f in STAGE_SPLIT)} % over stages 1/2/3.
- Data: train {', '.join(TRAIN)}; test {', '.join(TEST)} (whole images); Gaussian σ = {SIGMA} for training pairs and test (one fixed draw per test image, `noisy_copies` seed {a.seed + 1000}).
{models}
"""
    if a.out:
        with open(a.out, 'w') as f: f.write(report)
    if a.json:
        with open(a.json, 'w') as f: json.dump(dict(means=means, scores=ev['per_image'], info=info, args=vars(a)), f, indent=1)
    return means

if __name__ == '__main__':
    main()
