"""Validate the no-clean PSNR estimates of n2n.estimate where the truth is known, and set NLDR beside them.

For every image × noise level × denoiser: draw two independent noisy copies y1, y2 of the clean crop, denoise y1, and
compare each estimator's PSNR and 95 % interval with the true PSNR (the masked estimate also with the true PSNR of the
J-invariant denoiser, which is what it estimates). Writes docs/estimate_validation.md (tables, command, machine, date).

    python docs/estimate_validation.py     # about an hour on a 2-core CPU (BM3D dominates); results are cached per case
    N2N_VALIDATION_CACHE=cache.json python docs/estimate_validation.py     # the per-case cache (default: temp dir)
"""
import datetime, json, math, os, platform, tempfile, time
from collections import defaultdict
from pathlib import Path
import numpy as np
import torch

torch.set_num_threads(int(os.environ.get('N2N_THREADS', max(1, min(2, os.cpu_count() or 1)))))
from n2n.core import image_to_tensor, make_generator, quantize, seed_everything
from n2n.data import embedded_image, embedded_images, NoisyPairs
from n2n.noise import Gaussian, gaussian_blur
from n2n.classic import classic_denoise
from n2n.metrics import mse, nldr
from n2n.estimate import estimate_psnr

SIZE = 256
IMAGES = {'camera': (60, 180), 'moon': (100, 100), 'astronaut': (30, 170), 'chelsea': (40, 150)}   # crop corners (y, x)
SIGMAS = (10, 25, 50)
TRAIN_IMAGES = ['coffee', 'rocket', 'motorcycle_left', 'hubble_deep_field', 'ihc']   # never the test images
CACHE = Path(os.environ.get('N2N_VALIDATION_CACHE', Path(tempfile.gettempdir()) / 'n2n_estimate_validation.json'))


_UNET = []

def unet(steps=600):
    "A small Noise2Noise U-Net (features 24, depth 3), Gaussian σ ∈ [0, 55], trained with n2n.engine.fit on first use."
    if _UNET: return _UNET[0]
    from n2n.unet import UNet
    from n2n.engine import FitConfig, fit
    seed_everything(0)
    ims = list(embedded_images(TRAIN_IMAGES).values())
    ds = NoisyPairs(ims, Gaussian(sigma=(0, 55)), crop=64, length=10_000, seed=0)
    model = UNet(3, features=24, depth=3, residual=True)
    t = time.time()
    fit(model, ds, cfg=FitConfig(steps=steps, batch_size=8, lr=2e-3, device='cpu'), progress=False)
    print(f"U-Net trained: {steps} steps in {time.time() - t:.0f} s", flush=True)
    _UNET.append(model.eval())
    return _UNET[0]


def denoisers(sigma):
    "{name: function (C,H,W) → (C,H,W)}; the order fixes the seeds."
    from n2n.inference import denoise
    cl = lambda m, s: (lambda t: classic_denoise(t, m, s))
    return {'nlmeans': cl('nlmeans', sigma), 'tv': cl('tv', sigma), 'wavelet': cl('wavelet', sigma),
            'bilateral': cl('bilateral', sigma), 'blur 1.5 px': lambda t: gaussian_blur(t.float(), 1.5),
            'U-Net (N2N, 600 steps)': lambda t: denoise(unet(), t.float(), precision='fp32'),
            'bm3d σ': cl('bm3d', sigma), 'bm3d σ/2': cl('bm3d', sigma / 2), 'bm3d 2σ': cl('bm3d', 2 * sigma)}


def run_case(clean, sigma, fn, seed, eight_bit=False):
    g = make_generator(seed)
    y1, y2 = Gaussian(sigma).sample(clean, g), Gaussian(sigma).sample(clean, g)
    s = sigma
    if eight_bit: y1, y2, s = quantize(y1), quantize(y2), math.sqrt(sigma ** 2 + 1 / 12)   # as `n2n estimate` does
    t = time.time()
    raw = fn(y1).double()
    d = quantize(raw) if eight_bit else raw
    res = estimate_psnr(y1, d, sigma=s, second=y2, denoiser=fn, outputs=[raw], keep=True)
    fj = res['masked'].extra['outputs'][0]
    p = lambda m: 10 * math.log10(1 / m)
    row = dict(true=p(mse(d, clean).item()), true_j=p(mse(fj, clean).item()),
               nldr=nldr(y1.clamp(0, 1), d.clamp(0, 1)).item(), seconds=time.time() - t)
    for k, key in (('second noisy copy', 'copy'), ('SURE', 'sure'), ('masked', 'masked')):
        e = res[k]; lo, hi = e.interval
        row[key] = dict(psnr=e.psnr, lo=lo, hi=hi)
    return row


def main(out=Path(__file__).parent / 'estimate_validation.md'):
    t0 = time.time()
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    cleans = {n: image_to_tensor(embedded_image(n))[:, y:y + SIZE, x:x + SIZE] for n, (y, x) in IMAGES.items()}
    plan = []
    for ii, (iname, clean) in enumerate(cleans.items()):
        for sigma in SIGMAS:
            fns = denoisers(sigma)
            for di, (dname, fn) in enumerate(fns.items()):
                if dname.startswith('bm3d') and iname != 'camera': continue     # BM3D: on camera only (CPU time: ~3 min a case)
                plan.append(('float', iname, sigma, dname, fn, 1000 * ii + 10 * sigma + di))
            if sigma in (25, 50):
                for dname in ('nlmeans', 'U-Net (N2N, 600 steps)', 'blur 1.5 px'):
                    plan.append(('8-bit', iname, sigma, dname, fns[dname], 1000 * ii + 10 * sigma + 7))
    rows = []
    for group, iname, sigma, dname, fn, seed in plan:
        key = f"{group}|{iname}|{sigma}|{dname}|{seed}"
        if key not in cache:
            cache[key] = run_case(cleans[iname], sigma, fn, seed, eight_bit=group == '8-bit')
            CACHE.write_text(json.dumps(cache))
        r = dict(cache[key], group=group, image=iname, sigma=sigma, denoiser=dname)
        rows.append(r)
        print(f"{group:5s} {iname:9s} σ={sigma:2d} {dname:24s} true {r['true']:6.2f}  copy {r['copy']['psnr']:6.2f}  "
              f"SURE {r['sure']['psnr']:6.2f}  masked {r['masked']['psnr']:6.2f} (f_J {r['true_j']:6.2f})  "
              f"NLDR {r['nldr']:6.2f}  {r['seconds']:.1f}s", flush=True)
    write_report(rows, out, time.time() - t0)


def _stats(rows, key, truth='true'):
    if not rows: return dict(n=0, mae=math.nan, bias=math.nan, worst=math.nan, cover=math.nan, half=math.nan)
    err = [r[key]['psnr'] - r[truth] for r in rows]
    cov = [r[key]['lo'] <= r[truth] <= r[key]['hi'] for r in rows]
    half = [(r[key]['hi'] - r[key]['lo']) / 2 for r in rows if math.isfinite(r[key]['hi'])]
    return dict(n=len(rows), mae=float(np.mean(np.abs(err))), bias=float(np.mean(err)),
                worst=float(np.max(np.abs(err))), cover=float(np.mean(cov)), half=float(np.mean(half)))


def write_report(rows, out, secs):
    fl = [r for r in rows if r['group'] == 'float']
    eb = [r for r in rows if r['group'] == '8-bit']
    f2 = lambda e: f"{e['psnr']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}]"
    L = ["# PSNR without a clean image: validation", "",
         f"`python docs/estimate_validation.py` — {datetime.date.today().isoformat()}, {platform.machine()} "
         f"({os.cpu_count()} CPUs, shared), torch {torch.__version__}; "
         f"{sum(r['seconds'] for r in rows) / 60:.0f} min of estimation over all cases "
         f"({secs / 60:.0f} min this run; cases are cached between runs).", "",
         f"Cases: {SIZE}×{SIZE} crops of {', '.join(IMAGES)} (two gray, two colour) × Gaussian σ ∈ "
         f"{{{', '.join(map(str, SIGMAS))}}} × denoisers: NL-means, TV, wavelet, bilateral (σ-matched, "
         "`n2n.classic`), a 1.5-px Gaussian blur, a small Noise2Noise U-Net (features 24, depth 3, 600 steps on "
         f"{', '.join(TRAIN_IMAGES)}, σ ∈ [0, 55]) and, on camera, BM3D with the true σ, σ/2 and 2σ. One draw "
         "of the pair (y1, y2) per case. Noisy images are float and unclipped, outputs float (the *8-bit* group rounds "
         f"and clips both). {len(fl)} float cases, {len(eb)} 8-bit cases. Estimators as the command runs them: second "
         "copy; SURE with the true σ and 2 probes; masked loss with stride 4 and the true σ. Every interval is 95 %.",
         "",
         "## Against the goals (float cases)", "",
         "| estimator | measures | cases | mean abs error (dB) | bias (dB) | worst (dB) | interval covers the truth | "
         "mean half-width (dB) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for key, name, truth, what in (('copy', 'second noisy copy', 'true', 'PSNR of f'),
                                   ('sure', 'SURE', 'true', 'PSNR of f'),
                                   ('masked', 'masked (J-invariant)', 'true_j', 'PSNR of f_J'),
                                   ('masked', 'masked, read as PSNR of f', 'true', 'PSNR of f')):
        st = _stats(fl, key, truth)
        L.append(f"| {name} | {what} | {st['n']} | {st['mae']:.3f} | {st['bias']:+.3f} | {st['worst']:.2f} | "
                 f"{st['cover']:.0%} | {st['half']:.2f} |")
    L += ["", "Goals: mean abs error ≤ 0.3 dB, coverage ≥ 90 %. The masked estimate is validated against its own "
          "estimand, the J-invariant denoiser f_J; read as an estimate of f itself it is off by the gap between f and "
          "f_J (last row), in either direction: f_J is worse than a good denoiser, but the J-invariant version of a "
          "weak one (a near-identity) interpolates the hidden pixels and can be better.", "",
          "## By noise level, denoiser and image (float cases): mean abs error (dB) / coverage", "",
          "| | cases | second copy | SURE | masked (vs f_J) |", "|---|---:|---:|---:|---:|"]
    def cell(sel, key, truth='true'):
        st = _stats(sel, key, truth); return f"{st['mae']:.2f} / {st['cover']:.0%}"
    groups = [(f"σ = {sg}", [r for r in fl if r['sigma'] == sg]) for sg in SIGMAS]
    groups += [(d, [r for r in fl if r['denoiser'] == d]) for d in dict.fromkeys(r['denoiser'] for r in fl)]
    groups += [(i, [r for r in fl if r['image'] == i]) for i in IMAGES]
    for name, sel in groups:
        if not sel: continue
        L.append(f"| {name} | {len(sel)} | {cell(sel, 'copy')} | {cell(sel, 'sure')} | "
                 f"{cell(sel, 'masked', 'true_j')} |")
    L += ["", "## 8-bit, clipped files", "",
          "The same on noisy images rounded to 8 bits and clipped to [0, 1], as PNGs from `n2n noise` are, with "
          "outputs rounded to 8 bits (σ passed as √(σ² + 1/12), as the command does for 8-bit files). Clipping makes "
          "the noise non-zero-mean near 0 and 1, and not Gaussian: there every estimator measures the error against "
          "E[noisy], not the clean image.", "",
          "| estimator | cases | mean abs error (dB) | bias (dB) | coverage |", "|---|---:|---:|---:|---:|"]
    for key, name, truth in (('copy', 'second noisy copy', 'true'), ('sure', 'SURE', 'true'),
                             ('masked', 'masked (vs f_J)', 'true_j')):
        st = _stats(eb, key, truth)
        L.append(f"| {name} | {st['n']} | {st['mae']:.3f} | {st['bias']:+.3f} | {st['cover']:.0%} |")
    L += ["", "| image | σ | denoiser | true | second copy | SURE | masked (true f_J) |",
          "|---|---:|---|---:|---:|---:|---:|"]
    for r in eb:
        L.append(f"| {r['image']} | {r['sigma']} | {r['denoiser']} | {r['true']:.2f} | {r['copy']['psnr']:.2f} | "
                 f"{r['sure']['psnr']:.2f} | {r['masked']['psnr']:.2f} ({r['true_j']:.2f}) |")
    by = defaultdict(list)
    for r in fl: by[(r['image'], r['sigma'])].append(r)
    picks = {'NLDR': lambda r: r['nldr'], 'second copy': lambda r: r['copy']['psnr'],
             'SURE': lambda r: r['sure']['psnr'], 'masked': lambda r: r['masked']['psnr']}
    agree = {k: sum(max(g, key=f)['denoiser'] == max(g, key=lambda r: r['true'])['denoiser'] for g in by.values())
             for k, f in picks.items()}
    rank = lambda xs: np.argsort(np.argsort(xs))
    rho = lambda u, v: float(np.corrcoef(rank(u), rank(v))[0, 1])
    corr = {k: np.mean([rho([f(r) for r in g], [r['true'] for r in g]) for g in by.values()]) for k, f in picks.items()}
    L += ["", "## NLDR against PSNR", "",
          "NLDR (`n2n.metrics.nldr`) = 20·log10(σ̂(noisy)/σ̂(denoised)) with the wavelet σ̂: how much of the "
          "finest-scale, noise-like energy left the image. It needs no clean image either, but it measures removal, "
          "not fidelity: an over-smoothing denoiser removes detail with the noise and scores high.", "",
          f"Over the {len(by)} (image, σ) groups of the float cases, picking the denoiser with the highest score:", "",
          "| score | picks the truly best denoiser | mean rank correlation with the true PSNR |", "|---|---:|---:|"]
    for k in picks: L.append(f"| {k} | {agree[k]}/{len(by)} | {corr[k]:+.2f} |")
    L += ["", "Where NLDR and the truth disagree: in each group, NLDR's favourite against the truly best denoiser.", "",
          "| image | σ | NLDR's pick | its NLDR | its true PSNR | truly best | its NLDR | its true PSNR | lost (dB) |",
          "|---|---:|---|---:|---:|---|---:|---:|---:|"]
    for (im, sg), grp in by.items():
        b, n_ = max(grp, key=lambda r: r['true']), max(grp, key=lambda r: r['nldr'])
        L.append(f"| {im} | {sg} | {n_['denoiser']} | {n_['nldr']:.1f} | {n_['true']:.2f} | {b['denoiser']} | "
                 f"{b['nldr']:.1f} | {b['true']:.2f} | {b['true'] - n_['true']:.2f} |")
    L += ["", "The camera crop, every denoiser, best true PSNR first:", "",
          "| σ | denoiser | true PSNR | second copy | SURE | NLDR |", "|---:|---|---:|---:|---:|---:|"]
    for sg in SIGMAS:
        for r in sorted(by[('camera', sg)], key=lambda r: -r['true']):
            L.append(f"| {sg} | {r['denoiser']} | {r['true']:.2f} | {r['copy']['psnr']:.2f} | "
                     f"{r['sure']['psnr']:.2f} | {r['nldr']:.2f} |")
    L += ["", "## All float cases", "",
          "| image | σ | denoiser | true | copy [95 %] | SURE [95 %] | masked [95 %] (true f_J) | NLDR | s |",
          "|---|---:|---|---:|---|---|---|---:|---:|"]
    for r in fl:
        L.append(f"| {r['image']} | {r['sigma']} | {r['denoiser']} | {r['true']:.2f} | {f2(r['copy'])} | "
                 f"{f2(r['sure'])} | {f2(r['masked'])} ({r['true_j']:.2f}) | {r['nldr']:.2f} | {r['seconds']:.0f} |")
    out.write_text('\n'.join(L) + '\n', encoding='utf-8')
    print(f"wrote {out}")


if __name__ == '__main__':
    main()
