"""`n2n inspect` and `n2n estimate` on noisy-only folders made with `n2n noise`: output formats, exit codes, one-line
errors, and estimates near the truth (the clean images are used only to check)."""
import contextlib, io, math, os, re, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch

from n2n.cli import main
from n2n.core import image_to_tensor, read_image, write_image
from n2n.data import embedded_image
from n2n.classic import classic_denoise

N2N = str(Path(sys.executable).parent / 'n2n')      # the console script installed beside this Python
REPO = Path(__file__).resolve().parents[1]
LAST = re.compile(r"estimated PSNR (\d+\.\d\d) dB, 95% interval \[(\d+\.\d\d), (\d+\.\d\d)\]")
CROPS = {'camera': (120, 140), 'chelsea': (40, 150), 'coffee': (100, 250)}   # mid-tone crops: little clipping at σ = 15


def n2n(*args):
    "Run `n2n ARGS` through n2n.cli.main in this process: (exit code, stdout, stderr)."
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e): rc = main([str(a) for a in args])
    return rc, o.getvalue(), e.getvalue()


def one_line_error(rc, out, err, cmd, msg):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'n2n {cmd}: error: '), err
    assert msg in lines[0], lines[0]
    assert 'Traceback' not in err


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """clean/ (8-bit PNG crops) and clean_f/ (the same as float TIFFs); n2n noise makes pairs of both at σ = 15:
    g8/{a,b} (8-bit PNGs, so clipped) and gf/{a,b} (float TIFFs, unclipped); and Poisson λ = 40 noise in p8/noisy."""
    root = tmp_path_factory.mktemp('noclean')
    for name, (y, x) in CROPS.items():
        im = embedded_image(name)[y:y + 96, x:x + 96]
        write_image(root / 'clean' / f'{name}.png', im)
        write_image(root / 'clean_f' / f'{name}.tif', im.astype(np.float32) / 255)
    for src, dst in (('clean', 'g8'), ('clean_f', 'gf')):
        rc, out, err = n2n('noise', root / src, root / dst, '--model', 'gaussian', '--sigma', '15', '--pairs',
                           '--seed', '1', '--quiet')
        assert rc == 0, err
    rc, _, err = n2n('noise', root / 'clean', root / 'p8', '--model', 'poisson', '--lam', '40', '--seed', '2',
                     '--quiet')
    assert rc == 0, err
    return root


def denoise_folder(src: Path, dst: Path, method='tv', sigma=15):
    "Classic-denoise every image of `src` into `dst` as 8-bit PNG (what a user might write with n2n.classic)."
    for p in sorted(src.iterdir()):
        a = read_image(p)
        t = image_to_tensor(a)
        write_image(dst / (p.stem + '.png'), classic_denoise(t, method, sigma))


def true_psnr(clean_dir: Path, den_dir: Path) -> float:
    load = lambda path: image_to_tensor(read_image(path)).double()
    err = [((load(den_dir / (p.stem + '.png')) - load(p)) ** 2).flatten() for p in sorted(clean_dir.iterdir())]
    return 10 * math.log10(1 / torch.cat(err).mean().item())


# ---- n2n inspect
def test_inspect_names_the_family(data, tmp_path):
    rc, out, err = n2n('inspect', data / 'gf' / 'a', '--figure', tmp_path / 'fig.png', '--quiet')
    assert rc == 0, err
    first = out.splitlines()[0]
    assert first.startswith('noise: Gaussian, σ ≈ '), first
    sigma = float(re.search(r'σ ≈ ([\d.]+)', first).group(1))
    assert abs(sigma - 15) < 2.5, first
    assert 'recommendation:' in out and 'assumptions:' in out
    assert (tmp_path / 'fig.png').stat().st_size > 10_000
    rc, out, err = n2n('inspect', data / 'p8' / 'noisy', '--quiet')
    assert rc == 0, err
    assert re.match(r'noise: (clipped )?Poisson, λ ≈ \d+', out), out.splitlines()[0]
    lam = float(re.search(r'λ ≈ (\d+)', out).group(1))
    assert 25 < lam < 60, lam


def test_inspect_user_errors(data, tmp_path):
    one_line_error(*n2n('inspect', tmp_path / 'missing'), 'inspect', 'no such file or folder')
    one_line_error(*n2n('inspect', data / 'gf' / 'a', '--figure', tmp_path / 'f.jpg'), 'inspect', 'must name a .png')
    (tmp_path / 'empty').mkdir()
    one_line_error(*n2n('inspect', tmp_path / 'empty'), 'inspect', 'no image files')
    (tmp_path / 'bad').mkdir(); (tmp_path / 'bad' / 'x.png').write_bytes(b'not a png')
    one_line_error(*n2n('inspect', tmp_path / 'bad'), 'inspect', 'not a readable image')


# ---- n2n estimate
@pytest.fixture(scope='module')
def denoised(data):
    for kind in ('gf', 'g8'): denoise_folder(data / kind / 'a', data / f'{kind}_tv')
    return data


def test_estimate_second_copy_near_truth(denoised):
    d = denoised
    rc, out, err = n2n('estimate', d / 'gf' / 'a', d / 'gf_tv', '--second-noisy', d / 'gf' / 'b', '--quiet')
    assert rc == 0, err
    lines = out.strip().splitlines()
    m = LAST.fullmatch(lines[-1]); assert m, lines[-1]
    assert lines[-2] == 'best-founded estimate: second noisy copy'
    est, lo, hi = map(float, m.groups())
    truth = true_psnr(d / 'clean', d / 'gf_tv')
    assert lo <= est <= hi
    assert abs(est - truth) < 0.5 and lo - 0.2 < truth < hi + 0.2, (truth, est, lo, hi)


def test_estimate_all_three_and_sure_near_truth(denoised):
    d = denoised
    rc, out, err = n2n('estimate', d / 'gf' / 'a', d / 'gf_tv', '--second-noisy', d / 'gf' / 'b', '--denoiser', 'tv',
                       '--sigma', '15', '--quiet')
    assert rc == 0, err
    assert 'the denoiser reproduces DENOISED' in out
    for name in ('second noisy copy: PSNR', 'SURE: PSNR', 'masked (J-invariant version, stride 4): PSNR', 'NLDR'):
        assert name in out
    sure = float(re.search(r'SURE: PSNR (\d+\.\d\d)', out).group(1))
    assert abs(sure - true_psnr(d / 'clean', d / 'gf_tv')) < 0.5
    # no second copy: SURE is the best-founded
    rc, out, err = n2n('estimate', d / 'gf' / 'a', d / 'gf_tv', '--denoiser', 'tv', '--sigma', '15', '--quiet')
    assert rc == 0, err
    assert out.strip().splitlines()[-2] == 'best-founded estimate: SURE'
    rc, out, err = n2n('estimate', d / 'gf' / 'a', d / 'gf_tv', '--denoiser', 'tv:15', '--quiet')                 # no σ
    assert rc == 0, err
    assert 'SURE: not run' in out and 'estimated (wavelet MAD' in out
    assert out.strip().splitlines()[-3].startswith('best-founded estimate: masked')
    assert out.strip().splitlines()[-2].startswith('warning: only the masked estimate applies')


def test_estimate_8bit_files(denoised):
    "8-bit PNG noisy files: σ includes the rounding, and the estimate still lands near the truth on mid-tone crops."
    d = denoised
    rc, out, err = n2n('estimate', d / 'g8' / 'a', d / 'g8_tv', '--second-noisy', d / 'g8' / 'b', '--denoiser', 'tv',
                       '--sigma', '15', '--quiet')
    assert rc == 0, err
    assert 'with the rounding of 256-level NOISY files: 15.003' in out
    est = float(LAST.fullmatch(out.strip().splitlines()[-1]).group(1))
    assert abs(est - true_psnr(d / 'clean', d / 'g8_tv')) < 0.6


def test_estimate_user_errors(denoised, tmp_path):
    d = denoised
    a, den, b = d / 'gf' / 'a', d / 'gf_tv', d / 'gf' / 'b'
    one_line_error(*n2n('estimate', tmp_path / 'missing', den, '--second-noisy', b), 'estimate', 'no such file')
    one_line_error(*n2n('estimate', a, den), 'estimate', 'no estimator applies')
    one_line_error(*n2n('estimate', a, den, '--sigma', '15'), 'estimate', 'no estimator applies')  # SURE, no --denoiser
    one_line_error(*n2n('estimate', a, den, '--denoiser', 'tv'), 'estimate', 'needs the σ it was run')  # no --sigma
    one_line_error(*n2n('estimate', a, den, '--denoiser', 'median', '--sigma', '15'), 'estimate', 'neither a classic')
    one_line_error(*n2n('estimate', a, den, '--denoiser', 'nlmeans', '--sigma', '15', '--quiet'), 'estimate',
                   'does not reproduce DENOISED')
    one_line_error(*n2n('estimate', a, den, '--denoiser', 'tv', '--sigma', '30', '--quiet'), 'estimate',
                   'does not reproduce')
    one_line_error(*n2n('estimate', a, den, '--sigma', '-3', '--second-noisy', b), 'estimate', '--sigma must be a number in (0, 255]')
    odd = tmp_path / 'odd'; odd.mkdir()
    for p in sorted(den.iterdir()): (odd / (p.stem.upper() + p.suffix)).write_bytes(p.read_bytes())
    one_line_error(*n2n('estimate', a, odd, '--second-noisy', b), 'estimate', 'DENOISED has no file for camera')
    short = tmp_path / 'short'; short.mkdir()
    for p in sorted(b.iterdir())[:2]: (short / p.name).write_bytes(p.read_bytes())
    one_line_error(*n2n('estimate', a, den, '--second-noisy', short), 'estimate', '--second-noisy has no file for')


def test_estimate_checkpoint_through_console_script(denoised, tiny_model, tmp_path):
    "`n2n denoise` with a trained model, then `n2n estimate --denoiser model.pt`, as a user runs them (console script)."
    d = denoised
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    run = lambda *a, timeout=600: subprocess.run([N2N, *map(str, a)], capture_output=True, text=True, env=env,
                                                 timeout=timeout)
    r = run('denoise', tiny_model, d / 'gf' / 'a', '--out', tmp_path / 'den', '--quiet')
    assert r.returncode == 0, r.stderr
    for p in (tmp_path / 'den').iterdir(): assert p.suffix == '.tif'
    r = run('estimate', d / 'gf' / 'a', tmp_path / 'den', '--second-noisy', d / 'gf' / 'b', '--denoiser', tiny_model,
            '--sigma', '15', '--quiet')
    assert r.returncode == 0, r.stderr
    assert 'the denoiser reproduces DENOISED' in r.stdout
    assert LAST.fullmatch(r.stdout.strip().splitlines()[-1]), r.stdout
    r = subprocess.run([sys.executable, '-c', 'import n2n; print(n2n.__file__)'], capture_output=True, text=True,
                       env=env)
    assert Path(r.stdout.strip()).parent == REPO / 'n2n'
    r = run('estimate', d / 'gf' / 'a', d / 'gf_tv', '--denoiser', tiny_model, '--quiet')
    assert r.returncode == 2 and 'does not reproduce DENOISED' in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ---- the whole noisy-only workflow, each command as a user types it
@pytest.mark.parametrize('objective,lr', [('n2v', 3e-3), ('nb2nb', 3e-3), ('r2r', 3e-3), ('sure', 1e-3), ('bsn', 3e-3)])
def test_train_noisy_only_then_denoise_and_estimate(data, tmp_path, objective, lr):
    """`n2n train NOISY --objective X` on the σ = 15 noisy PNGs alone (σ estimated for r2r/sure), `n2n denoise`
    with the model, then `n2n estimate` of the result against the second noisy copy: every step exits 0, the model
    lowers the error against the clean crops, and the estimate lies near the truth. (SURE at lr 3e-3 fits the noise of
    these three tiny crops within 300 steps: its loss goes below 0 and the train command warns; hence its lower lr.)"""
    a, b = data / 'g8' / 'a', data / 'g8' / 'b'
    rc, out, err = n2n('train', a, '--objective', objective, '--out', tmp_path / 'run', '--steps', 300, '--batch-size', 4,
                       '--crop', 32, '--features', 16, '--depth', 2, '--lr', lr, '--quiet')
    assert rc == 0, err
    if objective in ('r2r', 'sure'): assert 'estimated from the images' in out, out
    assert 'went below 0' not in out, out
    rc, out, err = n2n('denoise', tmp_path / 'run' / 'model.pt', a, '--out', tmp_path / 'den', '--quiet')
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / 'den').iterdir()) == sorted(p.name for p in a.iterdir())
    truth, noisy = true_psnr(data / 'clean', tmp_path / 'den'), true_psnr(data / 'clean', a)
    assert truth > noisy + 1, (objective, truth, noisy)
    rc, out, err = n2n('estimate', a, tmp_path / 'den', '--second-noisy', b, '--quiet')
    assert rc == 0, err
    est = float(LAST.fullmatch(out.strip().splitlines()[-1]).group(1))
    assert abs(est - truth) < 1.0, (est, truth)


@pytest.mark.parametrize('method,extra', [('zs-n2n', ('--steps', 150)), ('bm3d', ('--sigma', 15)), ('nlmeans', ())])
def test_denoise_by_method_name(data, tmp_path, method, extra):
    "`n2n denoise METHOD NOISY` needs no model file; it lowers the error against the clean crops; inspect says Gaussian."
    a = data / 'g8' / 'a'
    rc, out, err = n2n('denoise', method, a, '--out', tmp_path / 'den', '--quiet', *extra)
    assert rc == 0, err
    assert true_psnr(data / 'clean', tmp_path / 'den') > true_psnr(data / 'clean', a) + 2
    rc, out, err = n2n('inspect', a)
    assert rc == 0 and out.startswith('noise: ') and 'gaussian' in out.splitlines()[0].lower(), out


def test_sure_warns_when_it_fits_the_noise(data, tmp_path):
    "Trained too long at a high lr on three tiny crops, SURE's estimated MSE drops below 0: the command says so."
    rc, out, err = n2n('train', data / 'g8' / 'a', '--objective', 'sure', '--out', tmp_path / 'run', '--steps', 300,
                       '--batch-size', 4, '--crop', 32, '--features', 16, '--depth', 2, '--lr', 3e-3, '--quiet')
    assert rc == 0, err
    assert 'the SURE loss (an estimate of the MSE) went below 0' in out, out
    assert (tmp_path / 'run' / 'loss.png').stat().st_size > 0


# ---- cases a hostile pass found: each is one line and exit 2 (or a quiet success), nothing left behind
@pytest.fixture(scope='module')
def odd(tmp_path_factory):
    "thin/ (a 1×40 noisy strip), small/ (6×6), flat/ (two constant 32×32 images)."
    root = tmp_path_factory.mktemp('odd')
    rng = np.random.default_rng(0)
    write_image(root / 'thin' / 'a.png', rng.integers(0, 256, (1, 40), dtype=np.uint8))
    write_image(root / 'small' / 'a.png', rng.integers(0, 256, (6, 6), dtype=np.uint8))
    for v in (0, 128): write_image(root / 'flat' / f'{v}.png', np.full((32, 32), v, np.uint8))
    return root


TINY = ('--steps', 2, '--features', 8, '--depth', 2, '--crop', 16, '--batch-size', 2, '--quiet')
HOSTILE = [
    ('nlmeans on a 1-pixel strip', lambda d, o, t: ('denoise', 'nlmeans', o / 'thin', '--out', t / 'x'), 'at least 2×2 pixels'),
    ('bm3d on 6×6', lambda d, o, t: ('denoise', 'bm3d', o / 'small', '--out', t / 'x'), 'bm3d needs images of at least 8×8'),
    ('σ beyond 255', lambda d, o, t: ('denoise', 'bm3d', d / 'g8' / 'a', '--sigma', '1e30', '--out', t / 'x'), 'sigma must be in (0, 255]'),
    ('zs-n2n with --sigma', lambda d, o, t: ('denoise', 'zs-n2n', d / 'g8' / 'a', '--sigma', 25, '--out', t / 'x'),
     'zs-n2n takes no --sigma'),
    ('a classic method with --steps', lambda d, o, t: ('denoise', 'tv', d / 'g8' / 'a', '--steps', 5, '--out', t / 'x'),
     'tv takes no --steps'),
    ('an empty --out', lambda d, o, t: ('denoise', 'tv', d / 'g8' / 'a', '--out', ''), '--out must name a folder'),
    ('r2r with σ = inf', lambda d, o, t: ('train', d / 'g8' / 'a', '--objective', 'r2r', '--sigma', 'inf', '--out', t / 'x', *TINY),
     'sigma'),
    ('sure with σ = 1e30', lambda d, o, t: ('train', d / 'g8' / 'a', '--objective', 'sure', '--sigma', '1e30', '--out', t / 'x',
                                            *TINY), 'one number in (0, 255]'),
    ('sure on constant images', lambda d, o, t: ('train', o / 'flat', '--objective', 'sure', '--out', t / 'x', *TINY),
     'constant images hold no noise'),
    ('nb2nb on constant images', lambda d, o, t: ('train', o / 'flat', '--objective', 'nb2nb', '--out', t / 'x', *TINY),
     'every image is constant'),
    ('n2v on a 1-pixel strip', lambda d, o, t: ('train', o / 'thin', '--objective', 'n2v', '--out', t / 'x', *TINY),
     'the largest image is 1×40 pixels'),
    ('--pd far beyond the images', lambda d, o, t: ('train', d / 'g8' / 'a', '--objective', 'n2v', '--pd', 100, '--out', t / 'x',
                                                    *TINY), '--pd 100 with --crop 16 needs 1600-pixel crops'),
    ('estimate with σ = inf', lambda d, o, t: ('estimate', d / 'g8' / 'a', d / 'g8' / 'a', '--denoiser', 'tv', '--sigma', 'inf'),
     '--sigma'),
    ('a second copy that is NOISY itself', lambda d, o, t: ('estimate', d / 'g8' / 'a', d / 'g8' / 'b', '--second-noisy',
                                                           d / 'g8' / 'a'), 'must be independent draws'),
]


@pytest.mark.parametrize('label,args,msg', HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_case_is_one_line(data, odd, tmp_path, label, args, msg):
    a = args(data, odd, tmp_path)
    rc, out, err = n2n(*a)
    one_line_error(rc, out, err, a[0], msg)
    assert not (tmp_path / 'x').exists()


def test_train_out_inside_data_is_refused(data, tmp_path):
    d = tmp_path / 'photos'
    d.mkdir()
    for p in (data / 'g8' / 'a').iterdir(): (d / p.name).write_bytes(p.read_bytes())
    for o in (d, d / 'run'):
        one_line_error(*n2n('train', d, '--objective', 'nb2nb', '--out', o, *TINY), 'train', 'is inside DATA')
    assert sorted(p.name for p in d.iterdir()) == sorted(p.name for p in (data / 'g8' / 'a').iterdir())


def test_inspect_checks_the_figure_path_before_the_analysis(data, tmp_path):
    (tmp_path / 'afile').write_text('x')
    rc, out, err = n2n('inspect', data / 'g8' / 'a', '--figure', tmp_path / 'afile' / 'fig.png')
    one_line_error(rc, out, err, 'inspect', 'is a file, not a folder')
    assert out == ''
    (tmp_path / 'dir.png').mkdir()
    one_line_error(*n2n('inspect', data / 'g8' / 'a', '--figure', tmp_path / 'dir.png'), 'inspect', 'is a folder')


def test_constant_images_denoise_quietly(odd, tmp_path):
    "σ estimated on a constant image is 0, not NaN: every classic method returns it unchanged, with no warning line."
    for m in ('bm3d', 'tv', 'wavelet', 'nlmeans', 'bilateral'):
        rc, out, err = n2n('denoise', m, odd / 'flat', '--out', tmp_path / m, '--quiet')
        assert rc == 0 and err == '', (m, err)
        for v in (0, 128):
            assert np.abs(read_image(tmp_path / m / f'{v}.png').astype(int) - v).max() <= 1, m


def test_estimate_warns_when_sigma_contradicts_the_images(denoised):
    "σ = 100 given for σ = 15 noise: the command says so before its estimates."
    d = denoised
    rc, out, err = n2n('estimate', d / 'gf' / 'a', d / 'gf_tv', '--denoiser', 'tv:15', '--sigma', 100, '--quiet')
    assert 'is far from the σ the images show' in out, out
