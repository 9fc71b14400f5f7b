"""The model zoo's one script: train, export and evaluate the models listed in n2n/weights/zoo.json, and write their cards.

    N2N_DATA=DATA python zoo/zoo.py train NAME [--resume]     # `n2n train` with the table's arguments, into zoo/runs/NAME
    python zoo/zoo.py export NAME                             # half-precision weights into n2n/weights, SHA-256 into the table
    N2N_DATA=DATA python zoo/zoo.py evaluate NAME [--sets Kodak24,CBSD68] [--noises gaussian:15,gaussian:25,gaussian:50]
    python zoo/zoo.py curve NAME --snapshots DIR              # PSNR on a fixed validation set for each saved checkpoint
    N2N_DATA=DATA python zoo/zoo.py finetune NAME [--noise poisson:30] [--steps 300]   # fine-tune vs scratch vs as shipped
    python zoo/zoo.py page                                    # docs/models.md and docs/models_curve.png from the table

Evaluation follows `n2n bench` (and docs/replication.md): whole test images, noise drawn by `n2n.bench.noisy_inputs` with
seed 0, not clipped, outputs rounded to 8 bits, PSNR per image averaged; BM3D (CBM3D for colour) is given the true σ.
Every score is cached in zoo/results.csv (one row per model or method, set and noise), so a card is never recomputed.
"""
import argparse, csv, json, os, platform, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / 'n2n' / 'weights' / 'zoo.json'
RUNS = ROOT / 'zoo' / 'runs'
RESULTS = ROOT / 'zoo' / 'results.csv'
FIELDS = ('method', 'dataset', 'noise', 'images', 'psnr', 'ssim', 'seconds', 'date')
VALIDATION = dict(color=('astronaut', 'coffee', 'chelsea', 'rocket'), gray=('camera', 'moon', 'page', 'coins'))


def read_table() -> dict:
    return json.loads(TABLE.read_text(encoding='utf-8'))


def write_table(table: dict) -> None:
    from n2n.files import write_text
    write_text(TABLE, json.dumps(table, indent=1, ensure_ascii=False) + '\n')


def entry(table: dict, name: str) -> dict:
    for m in table['models']:
        if m['name'] == name: return m
    sys.exit(f"zoo.py: no model {name!r} in {TABLE}; the table has {', '.join(m['name'] for m in table['models'])}")


def machine() -> str:
    "The CPU model and the bf16 features that decide its speed (the kit's numbers are per machine)."
    name = platform.processor() or platform.machine()
    try:
        info = Path('/proc/cpuinfo').read_text()
        name = next(l.split(':', 1)[1].strip() for l in info.splitlines() if l.startswith('model name'))
        flags = next(l for l in info.splitlines() if l.startswith('flags')).split()
        name += ' (' + ', '.join(f for f in ('amx_bf16', 'avx512_bf16', 'avx512f') if f in flags) + ')'
    except (OSError, StopIteration): pass
    return f"{name}, {os.cpu_count()} CPUs"


def train(name: str, resume: bool) -> int:
    "Run the table's `n2n train` command for `name` (its `prepare` step first, e.g. noisy copies for noisy-only objectives)."
    from n2n.cli import main
    from n2n.data import dataset_dir
    e = entry(read_table(), name)
    fill = lambda a: a.format(work=RUNS, **{k: dataset_dir(k) for k in ('CBSD432', 'Train400') if '{' + k + '}' in a})
    if e.get('prepare') and not resume:
        target = Path(fill(e['prepare'][2]))
        if not target.exists() and main([fill(a) for a in e['prepare']]) != 0: return 1
    args = ['train', *[fill(a) for a in e['train']], '--out', str(RUNS / name)] + (['--resume'] if resume else [])
    print('n2n ' + ' '.join(args), flush=True)
    return main(args)


def check_value(model, channels: int) -> dict:
    "PSNR of `model` on a fixed 128² crop of an embedded image at σ = 25 (fp32): the regression test's reference."
    from n2n.data import embedded_images
    from n2n.core import image_to_tensor, make_generator, quantize
    from n2n.inference import denoise
    from n2n.metrics import psnr
    from n2n.noise import Gaussian
    image = 'chelsea' if channels == 3 else 'camera'
    clean = image_to_tensor(embedded_images([image])[image])[:, 100:228, 100:228]
    noisy = Gaussian(25).sample(clean, generator=make_generator(0))
    out = quantize(denoise(model, noisy, precision='fp32'))
    return dict(image=image, box=[100, 228, 100, 228], sigma=25, seed=0, precision='fp32', psnr=round(float(psnr(out, clean)), 4))


def export(name: str) -> None:
    "Half-precision weights of the finished run into n2n/weights/NAME.pt; SHA-256, budget and check value into the table."
    from n2n.checkpoint import load_checkpoint
    from n2n.pretrained import export_weights, load
    run = RUNS / name / 'model.pt'
    if not run.is_file(): sys.exit(f"zoo.py: {run} does not exist: the run of {name} has not finished")
    table = read_table(); e = entry(table, name)
    dest = TABLE.parent / f'{name}.pt'
    e['file'], e['sha256'] = dest.name, export_weights(run, dest)
    ck = load_checkpoint(run)
    h, cfg = ck['history'], ck['meta']['run_config']
    steps = int(h['step'][-1])
    e['budget'] = dict(steps=steps, batch=cfg['batch_size'], crop=cfg['crop'], lr=cfg['lr'],
                       pixels=steps * cfg['batch_size'] * cfg['crop'] ** 2, seconds=round(float(h['seconds'][-1])),
                       threads=1, machine=machine(), torch=ck.get('torch_version'), date=time.strftime('%Y-%m-%d'))
    write_table(table)
    e['check'] = check_value(load(name), e['channels'])
    write_table(table)
    print(f"zoo.py: {dest} ({dest.stat().st_size / 1e6:.2f} MB), sha256 {e['sha256'][:16]}…, check {e['check']['psnr']} dB")


def cached() -> dict:
    if not RESULTS.is_file(): return {}
    with open(RESULTS, newline='') as f: return {(r['method'], r['dataset'], r['noise']): r for r in csv.DictReader(f)}


def store(row: dict) -> None:
    new = not RESULTS.is_file()
    with open(RESULTS, 'a', newline='') as f:
        w = csv.DictWriter(f, FIELDS)
        if new: w.writeheader()
        w.writerow(row)


def score(method: str, fn, dataset: str, noise: str) -> dict:
    "Mean PSNR/SSIM of `fn` on whole `dataset` images under `noise` (cached in zoo/results.csv)."
    from n2n.bench import bench_images, noisy_inputs
    from n2n.metrics import evaluate
    key = (method, dataset, noise)
    if key in (c := cached()): return c[key]
    cleans = bench_images(dataset)
    noisy = noisy_inputs(cleans, noise, dataset, seed=0)
    t = time.time()
    ev = evaluate({method: fn}, cleans, noisy)['mean'][method]
    row = dict(method=method, dataset=dataset, noise=noise, images=len(cleans), psnr=f"{ev['psnr']:.4f}",
               ssim=f"{ev['ssim']:.5f}", seconds=f"{time.time() - t:.0f}", date=time.strftime('%Y-%m-%d'))
    store(row)
    print(f"zoo.py: {method:22s} {dataset:8s} {noise:12s} PSNR {ev['psnr']:.2f}  SSIM {ev['ssim']:.4f}", flush=True)
    return row


def evaluate(name: str, sets: list, noises: list, classic: bool = True) -> None:
    "Score zoo model `name` (its shipped weights) and BM3D on whole test sets; the scores go into the table."
    from n2n.bench import parse_noise, _classic_fn
    from n2n.inference import denoise
    from n2n.pretrained import load
    table = read_table(); e = entry(table, name)
    model = load(name)
    held = e.setdefault('held_out', {})
    for ds in sets:
        for nz in noises:
            recipe, level, label = parse_noise(nz)
            ours = score(name, lambda x: denoise(model, x, precision='fp32'), ds, label)
            ref = score('bm3d', _classic_fn('bm3d', recipe, level), ds, label) if classic else None
            held[f"{ds} {label}"] = dict(psnr=round(float(ours['psnr']), 2), ssim=round(float(ours['ssim']), 4),
                                         images=int(ours['images']),
                                         **(dict(bm3d=round(float(ref['psnr']), 2), bm3d_ssim=round(float(ref['ssim']), 4))
                                            if ref else {}))
            write_table(table)


def curve(name: str, snapshots: Path) -> None:
    "PSNR on a fixed validation set (4 embedded images not in any training set, 192² centre crops, σ = 25) per checkpoint."
    from n2n.checkpoint import load_checkpoint, build_model
    from n2n.core import image_to_tensor, make_generator
    from n2n.data import embedded_images
    from n2n.inference import denoise
    from n2n.metrics import evaluate as score_all
    from n2n.noise import Gaussian
    table = read_table(); e = entry(table, name)
    ims = embedded_images(list(VALIDATION['color' if e['channels'] == 3 else 'gray']))
    cleans = {}
    for k, v in ims.items():
        t = image_to_tensor(v)
        t = t if t.shape[0] == e['channels'] else t[:1].repeat(e['channels'], 1, 1)
        h, w = t.shape[-2:]; cleans[k] = t[:, (h - 192) // 2:(h - 192) // 2 + 192, (w - 192) // 2:(w - 192) // 2 + 192]
    noisy = {k: Gaussian(25).sample(c, generator=make_generator(i)) for i, (k, c) in enumerate(cleans.items())}
    points, seen = [], set()
    for f in sorted(Path(snapshots).glob('*.pt')):
        ck = load_checkpoint(f)
        step = int((ck.get('resume') or {}).get('step') or ck['history']['step'][-1])
        if step in seen: continue                                      # a stop and its resume save the same step
        seen.add(step)
        cfg = ck['meta']['run_config']
        model = build_model(ck, path=f).eval()
        p = score_all({'m': lambda x: denoise(model, x, precision='fp32')}, cleans, noisy)['mean']['m']['psnr']
        points.append([step, step * cfg['batch_size'] * cfg['crop'] ** 2, round(float(p), 3)])
        print(f"zoo.py: {name} step {step}: {p:.2f} dB", flush=True)
    e['curve'] = dict(validation=f"{', '.join(cleans)}: 192² centre crops, gaussian σ = 25 (seeds 0-3), fp32",
                      points=sorted(points))
    write_table(table)


def finetune(name: str, noise: str, steps: int, objective: str = 'nb2nb', train_set: str = 'CBSD68',
             test_set: str = 'Kodak24', n_test: int = 8, lr: float = 1e-4) -> None:
    """Fine-tune zoo model `name` with a noisy-only objective on one noisy copy (8-bit PNGs) of each `train_set` image under
    `noise`, for `steps` steps; the same training from scratch (lr 1e-3, the default); score both and the shipped model on
    `n_test` held-out `test_set` images under the same noise (the bench protocol). Runs through `n2n.run.train`."""
    from n2n.bench import bench_images, noisy_inputs, parse_noise
    from n2n.checkpoint import load_model
    from n2n.core import tensor_to_image, write_image
    from n2n.data import noisy_copies
    from n2n.inference import denoise
    from n2n.metrics import evaluate as score_all
    from n2n.pretrained import load
    from n2n.run import train as run_train
    table = read_table(); e = entry(table, name)
    recipe, level, label = parse_noise(noise)
    work = RUNS / f"finetune-{name}-{label.replace(':', '')}-{steps}"
    photos = work / 'photos'
    if not photos.exists():
        cleans = bench_images(train_set)
        noisy = noisy_copies(cleans, recipe.test_noise(level), seed=0, key=f"finetune|{train_set}|{label}")
        photos.mkdir(parents=True)
        for k, x in noisy.items(): write_image(photos / f'{k}.png', tensor_to_image(x.clamp(0, 1)))
    common = dict(data=str(photos), objective=objective, steps=steps, crop=128, batch_size=4, seed=0, checkpoint_every=50)
    runs = {'fine-tuned': dict(common, init=f'pretrained:{name}', lr=lr), 'from scratch': dict(common)}
    for k, flags in runs.items():
        out = work / k.replace(' ', '-')
        if not (out / 'model.pt').exists(): run_train(flags, out=out, resume=(out / 'checkpoint.pt').exists(), progress=False)
    cleans = bench_images(test_set, n_test)
    noisy = noisy_inputs(cleans, label, test_set, seed=0)
    models = {'as shipped': load(name), **{k: load_model(work / k.replace(' ', '-') / 'model.pt') for k in runs}}
    ev = score_all({k: (lambda x, m=m: denoise(m, x, precision='fp32')) for k, m in models.items()}, cleans, noisy)['mean']
    ev['noisy input'] = score_all({'noisy input': lambda x: x}, cleans, noisy)['mean']['noisy input']
    e.setdefault('finetune', {})[label] = dict(
        objective=objective, steps=steps, batch=4, crop=128, lr_finetune=lr, lr_scratch=1e-3, train_set=train_set,
        test=f"{len(cleans)} {test_set} images (evenly spaced), whole", date=time.strftime('%Y-%m-%d'),
        psnr={k: round(float(v['psnr']), 2) for k, v in ev.items()}, ssim={k: round(float(v['ssim']), 4) for k, v in ev.items()})
    write_table(table)
    for k, v in ev.items(): print(f"zoo.py: {name} {label}: {k:12s} PSNR {v['psnr']:.2f}  SSIM {v['ssim']:.4f}")


def curve_figure(table: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for m in table['models']:
        if not m.get('curve'): continue
        pts = m['curve']['points']
        ax.plot([p[1] / 1e6 for p in pts], [p[2] for p in pts], marker='.', label=f"{m['name']} ({dict(n2n='noisy', n2c='clean').get(m['objective'], m['objective'])} targets)")
    ax.set_xlabel('training pixels seen (millions)'); ax.set_ylabel('validation PSNR (dB), σ = 25')
    ax.set_title('Validation PSNR while training: noisy vs clean targets'); ax.grid(alpha=0.3); ax.legend(fontsize=8)
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


def page() -> None:
    "docs/models.md from the table (and the learning-curve figure)."
    table = read_table()
    L = ['# Model zoo: the kit\'s own weights', '',
         'Written by `python zoo/zoo.py page` from `n2n/weights/zoo.json`; each model trained by the kit\'s own `n2n train` '
         'command below (`python zoo/zoo.py train NAME` runs it), exported by `zoo/zoo.py export` (float16 weights, SHA-256 in '
         'the table) and scored by `zoo/zoo.py evaluate`: whole test images, noise not clipped, seed 0 (`n2n.bench.noisy_inputs`), '
         'outputs rounded to 8 bits, PSNR per image averaged; BM3D (CBM3D for colour) is given the true σ, our models are blind. '
         'Use one with `n2n denoise pretrained:NAME IMAGES` or `n2n.pretrained.load(NAME)`; `n2n models` lists them.', '',
         '| model | objective | noise | budget | held-out PSNR / SSIM (ours vs BM3D) |', '|---|---|---|---|---|']
    for m in table['models']:
        b = m.get('budget')
        budget = (f"{b['steps']:,} steps × {b['batch']} crops of {b['crop']}² = {b['pixels'] / 1e6:.0f} Mpix, "
                  f"{b['seconds'] / 3600:.2f} h on 1 thread" if b else 'not trained yet')
        scores = '<br>'.join(f"{k}: **{v['psnr']:.2f}** / {v['ssim']:.4f} vs {v['bm3d']:.2f} / {v['bm3d_ssim']:.4f} "
                             f"({v['psnr'] - v['bm3d']:+.2f} dB)" if 'bm3d' in v else f"{k}: {v['psnr']:.2f}"
                             for k, v in (m.get('held_out') or {}).items()) or '—'
        L.append(f"| `{m['name']}` | {m['objective']} | {m['noise']} | {budget} | {scores} |")
    L += ['', '## Cards', '']
    for m in table['models']:
        L += [f"### `{m['name']}`", '', f"- Command: `n2n train {' '.join(m['train'])} --out zoo/runs/{m['name']}`"
              + (f" (after `n2n {' '.join(m['prepare'])}`)" if m.get('prepare') else '')]
        L.append(f"- Data: {m['dataset']} (a training set; the test sets are never trained on); {m['channels']} channel(s).")
        if m.get('budget'):
            b = m['budget']
            L.append(f"- Budget: {b['steps']:,} steps of {b['batch']} crops of {b['crop']}² (lr {b['lr']}, cosine ramp-down), "
                     f"{b['pixels'] / 1e6:.0f} million pixels seen, {b['seconds'] / 3600:.2f} h on 1 thread of {b['machine']} "
                     f"(two runs side by side), torch {b['torch']}, {b['date']}. The paper's budget: 300k steps × 4 × 256² = "
                     f"78.6 billion pixels, so this is {100 * b['pixels'] / 78.6e9:.2f} % of it.")
            L.append(f"- File: `n2n/weights/{m['file']}`, SHA-256 `{m['sha256']}`; regression check: {m['check']['image']} "
                     f"crop {m['check']['box']}, σ = 25, seed 0 → {m['check']['psnr']:.2f} dB (fp32).")
        else: L.append('- Not trained yet.')
        for k, v in (m.get('held_out') or {}).items():
            ref = f"; BM3D {v['bm3d']:.2f} dB / {v['bm3d_ssim']:.4f} ({v['psnr'] - v['bm3d']:+.2f} dB)" if 'bm3d' in v else ''
            L.append(f"- {k} ({v['images']} whole images): {v['psnr']:.2f} dB / SSIM {v['ssim']:.4f}{ref}.")
        if m.get('note'): L.append(f"- Note: {m['note']}")
        for lab, f in (m.get('finetune') or {}).items():
            p = f['psnr']
            L.append(f"- Fine-tuning from noisy images alone ({lab}, `zoo/zoo.py finetune {m['name']} --noise {lab} --steps "
                     f"{f['steps']}`): {f['objective']} on one noisy copy of each {f['train_set']} image, {f['steps']} steps "
                     f"(batch {f['batch']} of {f['crop']}², lr {f['lr_finetune']:g} from the zoo weights, {f['lr_scratch']:g} "
                     f"from scratch); PSNR on {f['test']}: noisy {p['noisy input']:.2f}, as shipped {p['as shipped']:.2f}, "
                     f"fine-tuned **{p['fine-tuned']:.2f}**, from scratch {p['from scratch']:.2f} dB.")
        if m.get('curve'): L.append(f"- Learning curve: {len(m['curve']['points'])} checkpoints, {m['curve']['validation']}.")
        L.append('')
    if any(m.get('curve') for m in table['models']):
        curve_figure(table, ROOT / 'docs' / 'models_curve.png')
        L += ['## Learning curve', '', 'Validation PSNR against training pixels seen, for the models whose checkpoints were kept '
              'during training (the paper\'s claim: noisy targets converge like clean ones; here, at 0.5 % of its budget, N2N trails N2C by 0.2 dB with a noisier curve).', '', '![learning curve](models_curve.png)', '']
    (ROOT / 'docs' / 'models.md').write_text('\n'.join(L), encoding='utf-8')
    print(f"zoo.py: wrote {ROOT / 'docs' / 'models.md'}")


def cli(argv=None) -> int:
    p = argparse.ArgumentParser(prog='zoo.py', description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    t = sub.add_parser('train'); t.add_argument('name'); t.add_argument('--resume', action='store_true')
    sub.add_parser('export').add_argument('name')
    ev = sub.add_parser('evaluate'); ev.add_argument('name'); ev.add_argument('--sets', default='Kodak24')
    ev.add_argument('--noises', default='gaussian:25'); ev.add_argument('--no-classic', action='store_true')
    c = sub.add_parser('curve'); c.add_argument('name'); c.add_argument('--snapshots', required=True)
    ft = sub.add_parser('finetune'); ft.add_argument('name'); ft.add_argument('--noise', default='poisson:30')
    ft.add_argument('--steps', type=int, default=300); ft.add_argument('--objective', default='nb2nb')
    sub.add_parser('page')
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if a.cmd == 'train': return train(a.name, a.resume)
    if a.cmd == 'export': export(a.name)
    if a.cmd == 'evaluate': evaluate(a.name, a.sets.split(','), a.noises.split(','), not a.no_classic)
    if a.cmd == 'curve': curve(a.name, Path(a.snapshots))
    if a.cmd == 'finetune': finetune(a.name, a.noise, a.steps, a.objective)
    if a.cmd == 'page': page()
    return 0


if __name__ == '__main__':
    sys.exit(cli())
