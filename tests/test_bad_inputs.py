"""The bad-input matrix of issue 5, run through the installed `n2n` console script as a user would.

Failing cases: exit code 2, exactly one line on stderr (`n2n CMD: error: ...`) that says what is wrong, no traceback, and no
output left behind. Working cases (1×1, tiny, large, 16-bit, RGBA, gray+alpha, palette, JPEG, float TIFF): the output exists
with the input's shape, channels, alpha and dtype, and PSNR against the clean image improves on the noisy input."""
import concurrent.futures as cf, io, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch

from n2n.core import image_to_tensor, make_generator, read_image, tensor_to_image, write_image
from n2n.data import embedded_image
from n2n.metrics import psnr
from n2n.noise import Gaussian

N2N = str(Path(sys.executable).parent / 'n2n')   # the console script installed beside this Python
# runs a command and reports its peak memory (ru_maxrss of the child, KiB on Linux) on the last stderr line
RSS_WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
               "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)")


def run(*args, timeout=180):
    return subprocess.run([N2N, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def run_measured(*args, timeout=300):
    "Run `n2n ARGS`; returns (CompletedProcess with the MAXRSS line removed from stderr, peak RSS in MB)."
    r = subprocess.run([sys.executable, '-c', RSS_WRAPPER, N2N, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    lines = r.stderr.splitlines()
    rss = int(lines[-1].split()[1]) / 1024
    r.stderr = '\n'.join(lines[:-1])
    return r, rss


def noisy_version(clean: np.ndarray, seed: int, sigma: float = 25) -> np.ndarray:
    "`clean` (uint8/uint16/float HxW[xC]) plus Gaussian noise σ (8-bit units), clipped and stored in the same dtype."
    t = Gaussian(sigma, clip=True).sample(image_to_tensor(clean), generator=make_generator(seed))
    if np.issubdtype(clean.dtype, np.integer): return tensor_to_image(t, clean.dtype)
    a = t.numpy().transpose(1, 2, 0)
    return a[..., 0] if a.shape[-1] == 1 else a


def gain(clean, noisy, out) -> float:
    "PSNR improvement in dB of `out` over `noisy`, both against `clean` (colour channels only)."
    c, n, o = (image_to_tensor(a) for a in (clean, noisy, out))
    return (psnr(o, c) - psnr(n, c)).item()


# ---------------------------------------------------------------------------------------------------------------- inputs
@pytest.fixture(scope='module')
def files(tmp_path_factory, tiny_model):
    "Every input of the matrix, in one folder; checkpoints derived from the tiny model."
    d = tmp_path_factory.mktemp('matrix')
    cat = embedded_image('chelsea')                                    # held out from the tiny model's training images
    f = dict(root=d, model=tiny_model)
    (d / 'clean').mkdir()
    write_image(d / 'clean' / 'cat.png', cat[:64, 100:164])
    good_png = (d / 'clean' / 'cat.png').read_bytes()
    f['notimage'] = d / 'notimage.png'; f['notimage'].write_text('this is a text file, not a PNG\n')
    f['truncated'] = d / 'truncated.png'; f['truncated'].write_bytes(good_png[:len(good_png) // 2])
    f['empty'] = d / 'empty.png'; f['empty'].write_bytes(b'')
    f['noimages'] = d / 'noimages'; f['noimages'].mkdir(); (f['noimages'] / 'readme.txt').write_text('no images here')
    import tifffile
    nan = np.random.default_rng(0).random((16, 16)).astype(np.float32); nan[3, 4] = np.nan
    f['nan'] = d / 'nan.tif'; tifffile.imwrite(f['nan'], nan)
    inf = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32); inf[5, 6, 1] = np.inf
    f['inf'] = d / 'inf.tif'; tifffile.imwrite(f['inf'], inf)
    f['img'] = d / 'clean' / 'cat.png'
    # a 16-bit RGB PNG (Pillow would read it as 8-bit): written by hand, unfiltered rows
    import struct, zlib
    a16 = (np.random.default_rng(2).random((4, 5, 3)) * 65535).astype('>u2')
    raw = b''.join(b'\x00' + row.tobytes() for row in a16)
    chunk = lambda t, b: struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
    f['png16rgb'] = d / 'rgb16.png'
    f['png16rgb'].write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 5, 4, 16, 2, 0, 0, 0))
                              + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
    # checkpoints: crafted pickle payload, truncated, from a future n2n, other architecture, weights of another shape, bare state_dict
    from n2n.checkpoint import atomic_save, load_checkpoint, FORMAT_VERSION
    ck = load_checkpoint(tiny_model)
    f['marker'] = d / 'payload-ran'

    class Payload:
        def __reduce__(self): return (os.system, (f'touch {f["marker"]}',))
    f['evil'] = d / 'evil.pt'; torch.save({**ck, 'state_dict': Payload()}, f['evil'])
    data = Path(tiny_model).read_bytes()
    f['cut'] = d / 'cut.pt'; f['cut'].write_bytes(data[:len(data) * 2 // 3])
    f['future'] = d / 'future.pt'; atomic_save({**ck, 'format_version': FORMAT_VERSION + 1, 'n2n_version': '9.0.0'}, f['future'])
    f['otherarch'] = d / 'otherarch.pt'; atomic_save({**ck, 'arch': 'ResNet'}, f['otherarch'])
    f['othershape'] = d / 'othershape.pt'; atomic_save({**ck, 'config': {**ck['config'], 'features': 12}}, f['othershape'])
    f['bare'] = d / 'bare.pt'; torch.save(ck['state_dict'], f['bare'])
    # a folder that cannot be written: permission bits for ordinary users; sysfs for root (root ignores permission bits)
    if os.geteuid() != 0:
        ro = d / 'readonly'; ro.mkdir(); ro.chmod(0o555); f['unwritable'] = ro / 'out'
    else: f['unwritable'] = Path('/sys/n2n-test-output')
    try:
        f['unwritable'].mkdir(); f['unwritable'].rmdir(); f['unwritable'] = None       # writable after all: the case is skipped
    except OSError: pass
    (d / 'pairs' / 'a').mkdir(parents=True); write_image(d / 'pairs' / 'a' / 'cat.png', cat[:64, :64])
    f['mixed'] = d / 'mixed'; f['mixed'].mkdir()                         # one good image, then a bad one: nothing may be written
    (f['mixed'] / 'a_good.png').write_bytes(good_png); (f['mixed'] / 'b_bad.png').write_text('not an image')
    f['truncdir'] = d / 'truncdir'; f['truncdir'].mkdir(); (f['truncdir'] / 'x.png').write_bytes(good_png[:len(good_png) // 2])
    f['badconfig'] = d / 'bad.yaml'; f['badconfig'].write_text('stepz: 10\n')
    return f


# The matrix, one console-script run per case: (command, argv after the command given the inputs `f` and a fresh
# output path `o`, expected message fragment).
ERROR_CASES = {
    'non-image file with .png extension':  ('denoise', lambda f, o: [f['model'], f['notimage'], '--out', o], 'not a readable image'),
    'truncated PNG':                       ('denoise', lambda f, o: [f['model'], f['truncated'], '--out', o], 'image file is truncated'),
    'empty file':                          ('denoise', lambda f, o: [f['model'], f['empty'], '--out', o], 'empty file'),
    'directory with no images':            ('denoise', lambda f, o: [f['model'], f['noimages'], '--out', o], 'no image files'),
    'NaN in a float TIFF':                 ('denoise', lambda f, o: [f['model'], f['nan'], '--out', o], 'NaN or Inf'),
    'Inf in a float TIFF (noise)':         ('noise', lambda f, o: [f['inf'], o], 'NaN or Inf'),
    'unknown noise model':                 ('noise', lambda f, o: [f['img'].parent, o, '--model', 'pink'], "unknown noise model 'pink'"),
    'negative sigma':                      ('noise', lambda f, o: [f['img'].parent, o, '--sigma', '-5'], 'sigma must be >= 0'),
    'p > 1 (train)':                       ('train', lambda f, o: [f['img'].parent, '--noise', 'impulse', '--p', '2', '--out', o], 'p must be in [0, 1]'),
    'missing model file':                  ('denoise', lambda f, o: [f['root'] / 'missing.pt', f['img'], '--out', o], 'no such checkpoint file'),
    'output directory not writable':       ('denoise', lambda f, o: [f['model'], f['img'], '--out', f['unwritable']], 'cannot write to output folder'),
    'same input and output path':          ('denoise', lambda f, o: [f['model'], f['img'], '--out', f['img'].parent], 'would overwrite input'),
    'checkpoint with a pickled payload':   ('denoise', lambda f, o: [f['evil'], f['img'], '--out', o], 'refused to load'),
    'truncated checkpoint':                ('denoise', lambda f, o: [f['cut'], f['img'], '--out', o], 'truncated, corrupt'),
    'checkpoint from a newer n2n':         ('denoise', lambda f, o: [f['future'], f['img'], '--out', o], 'is newer than this n2n'),
    'checkpoint of another architecture':  ('denoise', lambda f, o: [f['otherarch'], f['img'], '--out', o], "unknown architecture 'ResNet'"),
}
# The same kinds of input through the other commands, and more edge cases: run in this process through `n2n.cli.main`
# (the function the console script calls), which saves a PyTorch start-up per case.
MORE_ERROR_CASES = {
    'non-image file in a folder (noise)':  ('noise', lambda f, o: [f['mixed'], o], 'b_bad.png: not a readable image'),
    'non-image file in a folder (denoise)': ('denoise', lambda f, o: [f['model'], f['mixed'], '--out', o], 'b_bad.png: not a readable image'),
    'truncated PNG (train)':               ('train', lambda f, o: [f['truncdir'], '--out', o], 'image file is truncated'),
    'empty file (noise)':                  ('noise', lambda f, o: [f['empty'], o], 'empty file'),
    'directory with no images (noise)':    ('noise', lambda f, o: [f['noimages'], o], 'no image files'),
    'directory with no images (train)':    ('train', lambda f, o: [f['noimages'], '--out', o], 'no image files'),
    '16-bit colour PNG':                   ('denoise', lambda f, o: [f['model'], f['png16rgb'], '--out', o], '16-bit colour PNG'),
    'unknown noise model (train)':         ('train', lambda f, o: [f['img'].parent, '--noise', 'pink', '--out', o], "unknown noise model 'pink'"),
    'negative sigma (train)':              ('train', lambda f, o: [f['img'].parent, '--sigma', '-5', '--out', o], 'sigma must be >= 0'),
    'p > 1 (noise)':                       ('noise', lambda f, o: [f['img'].parent, o, '--model', 'bernoulli', '--p', '1.5'], 'p must be in [0, 1]'),
    'noise parameter the model lacks':     ('noise', lambda f, o: [f['img'].parent, o, '--p', '0.1'], "has no parameter p"),
    'missing input file':                  ('denoise', lambda f, o: [f['model'], f['root'] / 'missing.png', '--out', o], 'no such file or folder'),
    'checkpoint weights of another shape': ('denoise', lambda f, o: [f['othershape'], f['img'], '--out', o], 'weights do not fit UNet('),
    'bare state_dict as model':            ('denoise', lambda f, o: [f['bare'], f['img'], '--out', o], 'bare state_dict'),
    'output directory not writable (noise)': ('noise', lambda f, o: [f['img'].parent, f['unwritable']], 'cannot write to output folder'),
    'same input and output folder (noise)': ('noise', lambda f, o: [f['img'].parent, f['img'].parent], 'is IN_DIR'),
    'negative tile size':                  ('denoise', lambda f, o: [f['model'], f['img'], '--out', o, '--tile', '-1'], 'tile must be an integer >= 0'),
    'resume without a checkpoint':         ('train', lambda f, o: ['--resume', '--out', o], 'nothing to resume'),
    'pairs folder without b/':             ('train', lambda f, o: [f['root'] / 'pairs', '--pairs', '--out', o], 'must hold subfolders a/'),
    'unknown config setting':              ('train', lambda f, o: ['--config', f['badconfig'], '--out', o], 'unknown setting stepz'),
}


def _snapshot(root: Path) -> set:
    return {p.relative_to(root) for p in root.rglob('*')}


def _main_in_process(argv):
    "Run `n2n.cli.main(argv)` here; a CompletedProcess-like result (exceptions other than user errors propagate and fail the test)."
    import contextlib
    from types import SimpleNamespace
    from n2n.cli import main
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e): rc = main([str(a) for a in argv])
    return SimpleNamespace(returncode=rc, stdout=o.getvalue(), stderr=e.getvalue())


@pytest.fixture(scope='module')
def error_runs(files):
    "Run every failing case (console-script runs two at a time: most of each is Python and PyTorch starting); {case: (result, out path)}."
    before = _snapshot(files['root'])
    def one(case, in_process=False):
        cmd, argv, _ = {**ERROR_CASES, **MORE_ERROR_CASES}[case]
        if 'not writable' in case and files['unwritable'] is None: return case, None, None
        out = files['root'] / 'outputs' / case.replace(' ', '_').replace('/', '_')
        return case, (_main_in_process if in_process else lambda a: run(*a))([cmd, *argv(files, out)]), out
    with cf.ThreadPoolExecutor(2) as ex: res = {c: (r, o) for c, r, o in ex.map(one, ERROR_CASES)}
    res.update({c: (r, o) for c, r, o in (one(c, in_process=True) for c in MORE_ERROR_CASES)})
    res['_new_files'] = _snapshot(files['root']) - before
    return res


@pytest.mark.parametrize('case', list(ERROR_CASES) + list(MORE_ERROR_CASES))
def test_bad_input_fails_cleanly(case, error_runs, files):
    r, out = error_runs[case]
    if r is None: pytest.skip('no unwritable folder available on this machine')
    cmd, _, msg = {**ERROR_CASES, **MORE_ERROR_CASES}[case]
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert 'Traceback' not in r.stderr, r.stderr
    assert len(lines) == 1, f"expected one error line, got:\n{r.stderr}"
    assert lines[0].startswith(f'n2n {cmd}: error: '), lines[0]
    assert msg in lines[0], lines[0]
    assert not out.exists(), f"{out} was created"
    if 'not writable' in case: assert not files['unwritable'].exists()


def test_failing_cases_leave_no_files(error_runs, files):
    "Nothing at all was written by the failing commands (no output folders, no temporary files), and no payload ran."
    assert error_runs['_new_files'] == set(), sorted(map(str, error_runs['_new_files']))[:10]
    assert not files['marker'].exists()


# ------------------------------------------------------------------------------------------------------------ working cases
def _good_inputs(d: Path) -> dict:
    "{file name: (clean, noisy)} of every image kind that must work; noisy files are written to `d`."
    rng = np.random.default_rng(0)
    cat = embedded_image('chelsea')                                      # uint8 (300, 451, 3)
    gray = (cat @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)
    c16 = (cat[:96, 200:296].astype(np.uint16) * 257)
    g16 = (gray[100:196, 100:196].astype(np.uint16) * 257)
    cases = {
        'one_pixel.png': (cat[150:151, 200:201], None),                  # 1×1 RGB: padded by the U-Net
        'tiny_3x5.png': (gray[10:13, 10:15], None),                      # smaller than the U-Net's pooling grid
        'gray16.png': (g16, None),
        'rgb16.tif': (c16, None),
        'rgba.png': (np.dstack([cat[120:216, 150:246], rng.integers(0, 256, (96, 96), dtype=np.uint8)]), None),
        'palette.png': (cat[:80, :80], None),
        'photo.jpg': (gray[150:246, 250:346], None),
        'float.tif': ((cat[180:276, 300:396] / 255).astype(np.float32), None),
        'gray_alpha.png': (np.dstack([gray[50:146, 50:146], np.full((96, 96), 200, np.uint8)]), None),
    }
    out = {}
    for i, (name, (clean, _)) in enumerate(cases.items()):
        noisy = noisy_version(clean if clean.ndim == 2 or clean.shape[-1] in (1, 3) else clean[..., :-1], seed=i)
        if clean.ndim == 3 and clean.shape[-1] in (2, 4):                 # keep the clean alpha
            noisy = np.concatenate([noisy.reshape(*noisy.shape[:2], -1), clean[..., -1:]], -1)
        if name == 'palette.png':
            from PIL import Image
            Image.fromarray(noisy).convert('P', palette=Image.Palette.ADAPTIVE, colors=256).save(d / name)
            noisy = np.asarray(Image.open(d / name).convert('RGB'))
        elif name == 'photo.jpg':
            from PIL import Image
            Image.fromarray(noisy).save(d / name, quality=95)
            noisy = np.asarray(Image.open(d / name))
        else: write_image(d / name, noisy)
        out[name] = (clean, noisy)
    return out


@pytest.fixture(scope='module')
def good_run(tmp_path_factory, tiny_model):
    d = tmp_path_factory.mktemp('good')
    (d / 'in').mkdir()
    cases = _good_inputs(d / 'in')
    r, rss = run_measured('denoise', tiny_model, d / 'in', '--out', d / 'out')
    return dict(r=r, rss=rss, cases=cases, out=d / 'out')


EXPECT = {  # input name → (output name, output shape suffix check, dtype, alpha kept, PSNR gain required)
    'one_pixel.png': ('one_pixel.png', (1, 1, 3), np.uint8, False, False),
    'tiny_3x5.png': ('tiny_3x5.png', (3, 5), np.uint8, False, False),
    'gray16.png': ('gray16.png', (96, 96), np.uint16, False, True),
    'rgb16.tif': ('rgb16.tif', (96, 96, 3), np.uint16, False, True),
    'rgba.png': ('rgba.png', (96, 96, 4), np.uint8, True, True),
    'gray_alpha.png': ('gray_alpha.png', (96, 96, 2), np.uint8, True, True),
    'palette.png': ('palette.png', (80, 80, 3), np.uint8, False, True),
    'photo.jpg': ('photo.png', (96, 96), np.uint8, False, True),
    'float.tif': ('float.tif', (96, 96, 3), np.float32, False, True),
}


def test_good_run_succeeds(good_run):
    r = good_run['r']
    assert r.returncode == 0, r.stderr
    assert 'Traceback' not in r.stderr
    assert f"{len(EXPECT)} images" in r.stdout
    assert sorted(p.name for p in good_run['out'].iterdir()) == sorted(v[0] for v in EXPECT.values())   # no temporary files


@pytest.mark.parametrize('name', list(EXPECT))
def test_image_kinds_work(name, good_run):
    out_name, shape, dtype, alpha, must_gain = EXPECT[name]
    clean, noisy = good_run['cases'][name]
    out = read_image(good_run['out'] / out_name)
    assert out.shape == shape and out.dtype == dtype, (out.shape, out.dtype)
    assert np.isfinite(out.astype(np.float64)).all()
    if alpha: np.testing.assert_array_equal(out[..., -1], noisy[..., -1])              # alpha passes through untouched
    colour = lambda a: a[..., :-1] if alpha else a
    if must_gain:
        g = gain(colour(clean), colour(noisy), colour(out))
        assert g > 1.0, f"PSNR gain {g:.2f} dB"
    else:                                                                               # too small to score: close to the input
        diff = np.abs(image_to_tensor(out) - image_to_tensor(noisy)).max().item()
        assert diff < 0.25, diff


# --------------------------------------------------------------------------------------------------------------- large image
def test_large_image_is_tiled_with_bounded_memory(tmp_path, tiny_model, good_run):
    "A 1600×1400 image goes through in tiles: it works, improves PSNR, and peaks at little more memory than a tiny image."
    gray = (embedded_image('chelsea') @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)
    clean = np.pad(gray, ((0, 1400 - 300), (0, 1600 - 451)), mode='symmetric')   # mirrored tiles of the cat, 2.24 megapixels
    noisy = noisy_version(clean, seed=9)
    (tmp_path / 'in').mkdir(); write_image(tmp_path / 'in' / 'large.png', noisy)
    r, rss = run_measured('denoise', tiny_model, tmp_path / 'in' / 'large.png', '--out', tmp_path / 'out', '--quiet')
    assert r.returncode == 0, r.stderr
    out = read_image(tmp_path / 'out' / 'large.png')
    assert out.shape == clean.shape and out.dtype == np.uint8
    g = gain(clean, noisy, out)
    assert g > 1.0, f"PSNR gain {g:.2f} dB"
    # untiled, this model needs about 700 MB more than for a tiny image (measured); tiled, the extra is the image arrays
    assert rss < good_run['rss'] + 300, f"peak memory {rss:.0f} MB vs {good_run['rss']:.0f} MB for small images"
    assert 'tiles' not in r.stdout


def test_tiled_equals_untiled(tiny_model):
    "Where both fit, tiles with the default overlap (the receptive radius) reproduce the untiled result within 1e-4."
    from n2n.checkpoint import load_model
    from n2n.inference import denoise
    model = load_model(tiny_model)
    img = image_to_tensor(embedded_image('chelsea')[:250, :330])
    whole = denoise(model, img, tile=0)
    for tile in (64, 100):
        assert (denoise(model, img, tile=tile) - whole).abs().max() < 1e-4
    assert (denoise(model, img, tile=64, overlap=0) - whole).abs().max() > 1e-3    # without context, tiles show seams
