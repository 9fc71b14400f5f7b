"""Issue 12, failure hardening: every error the kit can meet ends in one clear line, and nothing is silently lost.

One matrix per class of the issue (downloads, class 8, are in `tests/test_download.py`). Every failing case asserts
the exit code, exactly one line on stderr (`n2n CMD: error: ...` or `n2n CMD: interrupted ...`) that says what is
wrong, no traceback, and nothing left behind (no output folder, no new file anywhere in the inputs' folder). Most cases
run in this process through `n2n.cli.main`, the function the console script calls; a sample also runs through the
console script itself.
Then a fuzz test: random bytes, truncations and byte flips of every supported image format and of a checkpoint, through
`n2n denoise`, never give a traceback or a bug exit code.
"""
import contextlib, io, json, os, re, signal, socket, struct, subprocess, sys, time, urllib.request, zlib
from pathlib import Path
import numpy as np
import pytest
import torch

from n2n.core import write_image, read_image
from n2n.data import embedded_image

N2N = str(Path(sys.executable).parent / 'n2n')
ROOT = str(Path(__file__).resolve().parent.parent)
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))   # subprocesses import this n2n


def in_process(argv, env=None):
    "`n2n.cli.main(argv)` here, `env` set for the call: (exit code, stdout, stderr). What it raises fails the test."
    from n2n.cli import main
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    o, e = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e): rc = main([str(a) for a in argv])
    finally:
        for k, v in old.items():
            if v is None: os.environ.pop(k, None)
            else: os.environ[k] = v
    return rc, o.getvalue(), e.getvalue()


def script(argv, env=None, timeout=300):
    "The installed console script, as a user runs it: (exit code, stdout, stderr)."
    r = subprocess.run([N2N, *map(str, argv)], capture_output=True, text=True, timeout=timeout,
                       env={**ENV, **(env or {})})
    return r.returncode, r.stdout, r.stderr


def one_line(err: str, start: str) -> str:
    "The single stderr line, checked: one non-empty line, starting with `start`, no traceback."
    lines = [l for l in err.splitlines() if l.strip()]
    assert 'Traceback' not in err, err
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert lines[0].startswith(start), lines[0]
    return lines[0]


def matches(msg: str, line: str) -> bool:
    "`msg` is in `line`, as text or as a regular expression."
    if msg in line: return True
    try: return re.search(msg, line) is not None
    except re.error: return False


def snapshot(root: Path) -> set:
    return {p.relative_to(root) for p in root.rglob('*')}


def chunk(t: bytes, b: bytes) -> bytes:
    return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)


# --------------------------------------------------------------------------------------------------------------- inputs
@pytest.fixture(scope='module')
def f(tmp_path_factory, tiny_model):
    "Every input of the matrices, in one folder (`root`); outputs go to `root/outputs/CASE`."
    from PIL import Image
    import tifffile
    from n2n.checkpoint import atomic_save, load_checkpoint, save_checkpoint
    from n2n.unet import UNet
    d = tmp_path_factory.mktemp('hardening')
    rng = np.random.default_rng(0)
    cat = embedded_image('chelsea')
    x = dict(root=d, model=tiny_model)
    (d / 'clean').mkdir(); x['img'] = write_image(d / 'clean' / 'cat.png', cat[:64, 100:164]); x['folder'] = d / 'clean'
    (d / 'big').mkdir(); x['img512'] = write_image(d / 'big' / 'big.png', cat[:256, :256].repeat(2, 0).repeat(2, 1))
    # class 3: orientation and several frames
    ex = Image.Exif(); ex[274] = 6                                     # "rotate 90° clockwise to display"
    x['exif'] = d / 'exif' / 'sideways.png'; x['exif'].parent.mkdir()
    Image.fromarray(cat[:40, 100:164]).save(x['exif'], exif=ex)      # stored 40×64, shown 64×40
    frames = [Image.fromarray(rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)) for _ in range(3)]
    x['webp'] = d / 'anim.webp'; frames[0].save(x['webp'], save_all=True, append_images=frames[1:], lossless=True)
    x['apng'] = d / 'anim.png'; frames[0].save(x['apng'], save_all=True, append_images=frames[1:])
    x['pages'] = d / 'pagesdir' / 'pages.tif'; x['pages'].parent.mkdir()
    with tifffile.TiffWriter(x['pages']) as w:
        for _ in range(2): w.write(rng.integers(0, 256, size=(16, 16), dtype=np.uint8))
    write_image(d / 'pagesdir' / 'fine.png', cat[:16, :16])            # a good image beside it: nothing may be written
    x['bomb'] = d / 'bomb.png'                                     # a 300-byte file whose header claims 10000×10000 RGB
    x['bomb'].write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 10_000, 10_000, 8, 2, 0, 0, 0))
                          + chunk(b'IDAT', zlib.compress(b'\x00' * 1000)) + chunk(b'IEND', b''))
    # class 4: checkpoints that load but must not be used
    ck = load_checkpoint(tiny_model)
    sd = {k: v.clone() for k, v in ck['state_dict'].items()}
    first = next(iter(sd))
    nan, inf = ({**sd, first: sd[first].clone().fill_(float(v))} for v in ('nan', 'inf'))
    for name, c in [('nan', {**ck, 'state_dict': nan}), ('inf', {**ck, 'state_dict': inf}),
                    ('text', {**ck, 'state_dict': {**sd, first: 'not a tensor'}}),
                    ('giant', {**ck, 'config': {**ck['config'], 'features': 10**6}}),
                    ('badcfg', {**ck, 'config': {**ck['config'], 'depth': 'deep'}}),
                    ('sdlist', {**ck, 'state_dict': [1, 2, 3]}), ('fat', {**ck, 'meta': {'pad': torch.zeros(2**20)}})]:
        x[name] = d / 'ck' / f'{name}.pt'; atomic_save(c, x[name])
    x['four'] = save_checkpoint(d / 'ck' / 'four.pt', UNet(4, features=8, depth=2))
    # class 2: config files with wrong types
    for name, text in [('ten.yaml', 'steps: ten\n'), ('fast.toml', 'lr = "fast"\n'), ('crop.json', '{"crop": -3}'),
                       ('pairs.yaml', 'pairs: 3\n')]:
        x[name] = d / 'cfg' / name; x[name].parent.mkdir(exist_ok=True); x[name].write_text(text)
    return x


def case(cls, cmd, argv, msg, code=2, env=None, start=None):
    return dict(cls=cls, cmd=cmd, argv=argv, msg=msg, code=code, env=env or {}, start=start or f'n2n {cmd}: error: ')


LIMIT = {'N2N_MEMORY_LIMIT': '256M'}
# small settings first (so that a regression that lets a case train is quick); the case's own flags come last and win
TRAIN = lambda f, o, *a: [f['folder'], '--out', o, '--quiet', '--device', 'cpu', '--steps', 2, '--features', 8,
                          '--depth', 2, '--crop', 24, *a]
CASES = {
    # 1. resource exhaustion: estimated before allocating, refused naming the parameter and the estimate
    'train --crop 100000': case(
        1, 'train', lambda f, o: TRAIN(f, o, '--crop', 100000),
        r'--crop 100000: Gaussian\(sigma=\(0, 50\)\) on a 100000×100000 image needs about [\d.]+ GiB of memory but'),
    'train --features 100000': case(
        1, 'train', lambda f, o: TRAIN(f, o, '--features', 100000),
        r'--features 100000 \(weights, gradients, Adam state\) needs about [\d.e+]+ GiB'),
    'train --batch_size 100000': case(
        1, 'train', lambda f, o: TRAIN(f, o, '--batch_size', 100000),
        r'--crop 24 with --batch_size 100000 and --features 8 needs about [\d.]+ GiB'),
    'train --crop 2048 (limit)': case(
        1, 'train', lambda f, o: TRAIN(f, o, '--crop', 2048, '--features', 8),
        r'--crop 2048 with --batch_size 16 and --features 8 needs about [\d.]+ GiB of memory but 0.25 GiB', env=LIMIT),
    'noise correlated length=100000': case(
        1, 'noise', lambda f, o: [f['folder'], o, '--model', 'correlated', '--params', 'length=100000'],
        r'cat.png: Correlated\(sigma=25, length=100000\) on a 64×64 image needs about [\d.]+ GiB'),
    'noise blur sigma 1e6': case(
        1, 'noise', lambda f, o: [f['folder'], o, '--model', 'blur', '--sigma', '1e6'],
        r'Blur\(sigma=1000000.0, noise_sigma=0\) on a 64×64 image needs about'),
    'noise distortion smoothness=1e6': case(
        1, 'noise', lambda f, o: [f['folder'], o, '--model', 'distortion', '--params', 'smoothness=1e6'],
        r'Distortion\(strength=2.0, smoothness=1000000.0\) on a 64×64 image needs about'),
    'denoise --tile 0 (limit)': case(
        1, 'denoise', lambda f, o: [f['model'], f['img512'], '--out', o, '--tile', 0],
        r'big.png: denoising a 512×512 image with tile=0 \(no tiling\) needs about [\d.]+ GiB of memory but 0.01 GiB',
        env={'N2N_MEMORY_LIMIT': '12M'}),
    'header claims 10000×10000 (limit)': case(
        1, 'denoise', lambda f, o: [f['model'], f['bomb'], '--out', o],
        r'bomb.png \(10000×10000×3 pixels×channels\) needs about 0.56 GiB', env=LIMIT),
    'checkpoint content over memory': case(
        1, 'denoise', lambda f, o: [f['fat'], f['img'], '--out', o],
        r'fat.pt \(its content, unpacked\) needs about 4.\d\d MiB of memory but 2.00 MiB',
        env={'N2N_MEMORY_LIMIT': '2M'}),
    'checkpoint model over memory': case(
        1, 'denoise', lambda f, o: [f['model'], f['img'], '--out', o],
        r'tiny.pt: UNet\(in_channels=3, out_channels=3, features=8, depth=2, residual=True\) needs about 0.07 MiB'
        r' of memory but 0.04 MiB',
        env={'N2N_MEMORY_LIMIT': '40K'}),
    'demo --features 100000': case(
        1, 'demo', lambda f, o: ['--out', o, '--quiet', '--features', 100000],
        r'features=100000 \(weights, gradients, Adam state\) needs about'),
    # 2. numbers and names: one rule per option, for flags and config files alike
    'train --log_every 0': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--log_every', 0), 'log_every must be an integer > 0, got 0'),
    'train --seconds nan': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--seconds', 'nan'), 'seconds must be a finite number > 0, got nan'),
    'train --lr inf': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--lr', 'inf'), 'lr must be a finite number > 0, got inf'),
    'train --lr 1e-300': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--lr', '1e-300'), 'lr must be 0 or of magnitude 1.2e-38 to 3.4e+38'),
    'train --device mps': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--device', 'mps'),
        "device 'mps' requested but MPS is not available on this machine"),
    'denoise --device gpu': case(
        2, 'denoise', lambda f, o: [f['model'], f['img'], '--out', o, '--device', 'gpu'],
        "device 'gpu' is not a device name"),
    'train --depth 9': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--depth', 9), 'depth must be an integer in [1, 8], got 9'),
    'train --channels 2': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--channels', 2), 'channels must be one of 1, 3; got 2'),
    'train --num_workers -1': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--num_workers', -1), 'num_workers must be an integer >= 0, got -1'),
    'noise poisson lam 1e-300': case(
        2, 'noise', lambda f, o: [f['folder'], o, '--model', 'poisson', '--lam', '1e-300'],
        'lam must be 0 or of magnitude'),
    'noise --sigma nan': case(
        2, 'noise', lambda f, o: [f['folder'], o, '--sigma', 'nan'], 'sigma must be a finite number >= 0, got nan'),
    'noise --seed -1': case(
        2, 'noise', lambda f, o: [f['folder'], o, '--seed', -1],
        'seed must be an integer in [0, 9223372036854775807], got -1'),
    'denoise --precision fp8': case(
        2, 'denoise', lambda f, o: [f['model'], f['img'], '--out', o, '--precision', 'fp8'],
        'precision must be one of auto, bf16, fp32'),
    'demo --steps 0': case(2, 'demo', lambda f, o: ['--out', o, '--steps', 0], 'steps must be an integer > 0, got 0'),
    'bench --n_images -1': case(
        2, 'bench', lambda f, o: ['--out', o, '--n_images', -1], 'n_images must be an integer >= 0, got -1'),
    'app --size 5': case(2, 'app', lambda f, o: ['--size', 5], 'size must be an integer in [32, 1024], got 5'),
    'config: steps ten (yaml)': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--config', f['ten.yaml']),
        r"config file .*ten.yaml: steps must be an integer, got 'ten' \(a str\)"),
    'config: lr fast (toml)': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--config', f['fast.toml']),
        r"config file .*fast.toml: lr must be a number, got 'fast' \(a str\)"),
    'config: crop -3 (json)': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--config', f['crop.json']),
        r"config file .*crop.json: crop must be an integer > 0, got -3"),
    'config: pairs 3 (yaml)': case(
        2, 'train', lambda f, o: TRAIN(f, o, '--config', f['pairs.yaml']),
        r"config file .*pairs.yaml: pairs must be true or false, got 3 \(a int\)"),
    # 3. silent loss on input: several frames are refused, not reduced to the first
    'denoise animated WebP': case(
        3, 'denoise', lambda f, o: [f['model'], f['webp'], '--out', o],
        'anim.webp: holds 3 frames (an animation or a multi-page file)'),
    'denoise animated PNG': case(
        3, 'denoise', lambda f, o: [f['model'], f['apng'], '--out', o], 'anim.png: holds 3 frames'),
    'denoise multi-page TIFF': case(
        3, 'denoise', lambda f, o: [f['model'], f['pages'], '--out', o], 'pages.tif: holds 2 pages'),
    'noise folder with a multi-page TIFF': case(
        3, 'noise', lambda f, o: [f['pages'].parent, o], 'pages.tif: holds 2 pages'),
    'train folder with a multi-page TIFF': case(
        3, 'train', lambda f, o: [f['pages'].parent, *TRAIN(f, o)[1:]], 'pages.tif: holds 2 pages'),
    # 4. bad checkpoints that load
    'checkpoint with NaN weights': case(
        4, 'denoise', lambda f, o: [f['nan'], f['img'], '--out', o],
        'nan.pt: weights hold NaN or Inf values (1 tensor, e.g. enc0.0.0.weight)'),
    'checkpoint with Inf weights': case(
        4, 'denoise', lambda f, o: [f['inf'], f['img'], '--out', o], 'inf.pt: weights hold NaN or Inf values'),
    'non-tensor state-dict entry': case(
        4, 'denoise', lambda f, o: [f['text'], f['img'], '--out', o],
        "text.pt: state_dict entry 'enc0.0.0.weight' is a str, not a tensor"),
    'state dict that is a list': case(
        4, 'denoise', lambda f, o: [f['sdlist'], f['img'], '--out', o],
        'sdlist.pt: incomplete checkpoint: missing state_dict'),
    'config of a giant model': case(
        4, 'denoise', lambda f, o: [f['giant'], f['img'], '--out', o],
        'giant.pt: weights do not fit UNet(in_channels=3, out_channels=3, features=1000000'),
    'config of the wrong type': case(
        4, 'denoise', lambda f, o: [f['badcfg'], f['img'], '--out', o], 'badcfg.pt: cannot rebuild UNet('),
    'channel mismatch names both files': case(
        4, 'denoise', lambda f, o: [f['four'], f['img'], '--out', o],
        r'cat.png: has 3 colour channels but the model .*four.pt takes 4'),
    # 6. the app's port, checked before anything starts
    'app --port 99999': case(
        6, 'app', lambda f, o: ['--port', 99999], 'port must be an integer in [0, 65535], got 99999'),
    'app --port -1': case(6, 'app', lambda f, o: ['--port', -1], 'port must be an integer in [0, 65535], got -1'),
    'app --ip not an address': case(
        6, 'app', lambda f, o: ['--ip', 'no.such.host.invalid'],
        '--ip no.such.host.invalid: not an address to listen on'),
    # 7. argparse errors: one line, not the usage block
    'unknown flag': case(
        7, 'train', lambda f, o: [*TRAIN(f, o), '--stepz', 3],
        'unrecognized arguments: --stepz 3 (n2n train --help lists the options)'),
    'missing argument': case(7, 'noise', lambda f, o: [], 'the following arguments are required: in_dir, out_dir'),
    'not an integer': case(
        7, 'denoise', lambda f, o: [f['model'], f['img'], '--tile', 'big'],
        "argument --tile: invalid int value: 'big'"),
    'not a number': case(
        7, 'demo', lambda f, o: ['--seconds', 'abc'], "argument --seconds: invalid float value: 'abc'"),
    'flag without its value': case(
        7, 'noise', lambda f, o: [f['folder'], o, '--seed'], 'argument --seed: expected one argument'),
    'unknown command': case(
        7, 'nonsense', lambda f, o: [], "unknown command 'nonsense'; the commands are noise, train, denoise",
        start='n2n: error: '),
}
SCRIPT_SAMPLE = ['train --crop 100000', 'noise correlated length=100000', 'train --seconds nan',
                 'config: steps ten (yaml)', 'denoise animated WebP', 'checkpoint with NaN weights', 'app --port 99999',
                 'unknown flag', 'unknown command']


def _argv(c, f, name):
    out = f['root'] / 'outputs' / re.sub(r'\W+', '_', name)
    return [c['cmd'], *c['argv'](f, out)], out


@pytest.mark.parametrize('name', list(CASES))
def test_matrix(name, f):
    c = CASES[name]
    if 'mps' in name and torch.backends.mps.is_available(): pytest.skip('this machine has MPS')
    before = snapshot(f['root'])
    argv, out = _argv(c, f, name)
    rc, stdout, err = in_process(argv, c['env'])
    assert rc == c['code'], (rc, err)
    line = one_line(err, c['start'])
    assert matches(c['msg'], line), line
    assert not out.exists(), f"{out} was left behind"
    assert snapshot(f['root']) == before, sorted(map(str, snapshot(f['root']) - before))[:5]


@pytest.mark.parametrize('name', SCRIPT_SAMPLE)
def test_matrix_through_the_console_script(name, f):
    c = CASES[name]
    argv, out = _argv(c, f, name)
    rc, _, err = script(argv, c['env'])
    assert rc == c['code'], (rc, err)
    line = one_line(err, c['start'])
    assert matches(c['msg'], line), line
    assert not out.exists()


def test_matrix_covers_every_class():
    counts = {k: sum(c['cls'] == k for c in CASES.values()) for k in range(1, 8)}
    assert all(n >= 3 or k == 5 for k, n in counts.items()), counts      # class 5 lives in the tests below


# ----------------------------------------------------------------------- 1. what escapes the estimates, at the boundary
def test_escaped_allocation_is_one_line_and_leaves_nothing(f, monkeypatch):
    "An allocator error the estimates did not foresee is one line at the command-line boundary; the new folder goes."
    import n2n.inference
    def alloc_fails(*a, **k): raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 1 TB")
    monkeypatch.setattr(n2n.inference, 'denoise', alloc_fails)
    out = f['root'] / 'outputs' / 'escaped'
    rc, _, err = in_process(['denoise', f['model'], f['img'], '--out', out])
    assert rc == 2
    assert "out of memory (DefaultCPUAllocator: can't allocate memory" in one_line(err, 'n2n denoise: error: ')
    assert not out.exists()


def test_memory_error_in_training_is_one_line(f, monkeypatch):
    import n2n.engine
    def oom(self): raise MemoryError()
    monkeypatch.setattr(n2n.engine.Learner, 'fit', oom)
    out = f['root'] / 'outputs' / 'memoryerror'
    rc, _, err = in_process(['train', *TRAIN(f, out, '--features', 8, '--depth', 2, '--crop', 24)])
    assert rc == 2 and 'out of memory (MemoryError)' in one_line(err, 'n2n train: error: ')
    assert not out.exists()


# ----------------------------------------------------------------------------------- 3. orientation and frames, working
def test_exif_orientation_is_applied(f, tmp_path):
    "A phone photo stored sideways with an orientation tag: the outputs are upright, as every viewer shows the input."
    from PIL import Image, ImageOps
    with Image.open(f['exif']) as im: shown = np.asarray(ImageOps.exif_transpose(im))
    assert shown.shape == (64, 40, 3)
    rc, _, err = in_process(['denoise', f['model'], f['exif'], '--out', tmp_path / 'den', '--quiet'])
    assert rc == 0, err
    out = read_image(tmp_path / 'den' / 'sideways.png')
    assert out.shape == shown.shape
    corr = np.corrcoef(out.astype(float).ravel(), shown.astype(float).ravel())[0, 1]
    assert corr > 0.9, corr                                            # the same picture, not a rotated one
    rc, _, err = in_process(['noise', f['exif'].parent, tmp_path / 'nz', '--clean', '--quiet'])
    assert rc == 0, err
    assert np.array_equal(read_image(tmp_path / 'nz' / 'clean' / 'sideways.png'), shown)
    assert read_image(tmp_path / 'nz' / 'noisy' / 'sideways.png').shape == shown.shape


def test_gray_alpha_tiff_round_trip(f, tmp_path):
    "Gray+alpha TIFFs go through `n2n denoise` as one page each way (tifffile used to split them: a page per row)."
    rng = np.random.default_rng(3)
    la = np.stack([embedded_image('camera')[:48, :48], rng.integers(0, 256, (48, 48), dtype=np.uint8)], -1)
    write_image(tmp_path / 'la.tif', la)
    rc, _, err = in_process(['denoise', f['model'], tmp_path / 'la.tif', '--out', tmp_path / 'o', '--quiet'])
    assert rc == 0, err
    out = read_image(tmp_path / 'o' / 'la.tif')
    assert out.shape == la.shape and np.array_equal(out[..., 1], la[..., 1])


# -------------------------------------------------------------------------- 5. leftovers and messages that must be true
def test_stale_temps_are_cleaned_on_the_next_run(f, tmp_path):
    "A temporary file that a killed write left in an output folder is removed by the next command writing there."
    for cmd, argv in [('denoise', lambda o: [f['model'], f['img'], '--out', o, '--quiet']),
                      ('noise', lambda o: [f['folder'], o, '--quiet'])]:
        out = tmp_path / cmd; (out / 'noisy').mkdir(parents=True)
        dead = [out / '.cat.png.999999999.abcdefgh.tmp', out / 'noisy' / '.cat.png.999999999.k1ll3d00.tmp']
        for p in dead: p.write_bytes(b'half a file')
        (out / '.my notes.tmp').write_text('not ours')
        rc, _, err = in_process([cmd, *argv(out)])
        assert rc == 0, err
        assert not any(p.exists() for p in dead) and (out / '.my notes.tmp').exists()


def test_failed_write_removes_the_new_folder(f, monkeypatch):
    "A disk that fills up halfway (the second image's write fails): one line, and the folder the command made is gone."
    import n2n.cli
    calls, real = [], n2n.cli.write_image
    def full_disk(path, img):
        calls.append(path)
        if len(calls) > 1: raise OSError(28, 'No space left on device')
        return real(path, img)
    monkeypatch.setattr(n2n.cli, 'write_image', full_disk)
    out = f['root'] / 'outputs' / 'diskfull' / 'deep'
    rc, _, err = in_process(['noise', f['folder'], out, '--pairs', '--quiet'])
    assert rc == 2 and 'No space left on device' in one_line(err, 'n2n noise: error: ')
    assert len(calls) == 2 and not out.parent.exists()


def test_failure_before_training_leaves_no_config(f, monkeypatch):
    "A run that fails before its first step leaves no folder (no config.json, no checkpoint); Ctrl-C there says so."
    import n2n.engine
    nan = FloatingPointError('loss became nan at step 0; lower the learning rate')
    for exc, code, start, msg in [(nan, 2, 'n2n train: error: ', 'loss became nan at step 0'),
                                  (KeyboardInterrupt(), 130, 'n2n train: interrupted',
                                   'interrupted; nothing was saved and the new folder')]:
        def fails(self, exc=exc): raise exc
        monkeypatch.setattr(n2n.engine.Learner, 'fit', fails)
        out = f['root'] / 'outputs' / f'before_{code}'
        rc, _, err = in_process(['train', *TRAIN(f, out, '--features', 8, '--depth', 2, '--crop', 24)])
        assert rc == code
        line = one_line(err, start)
        assert msg in line and 'is kept' not in line, line
        assert not out.exists()


def test_diverging_run_keeps_nothing_without_a_checkpoint(f, tmp_path):
    "A real run that diverges at once (lr 1e30) before its first checkpoint: one line, no folder with a config.json."
    out = tmp_path / 'diverged'
    rc, _, err = in_process(['train', *TRAIN(f, out, '--batch_size', 2, '--steps', 50, '--lr', 1e30)])
    assert rc == 2 and 'lower the learning rate' in one_line(err, 'n2n train: error: loss became')
    assert not out.exists()


def _popen_train(f, out, *extra):
    cmd = [N2N, 'train', str(f['folder']), '--out', str(out), '--features', '8', '--depth', '2', '--crop', '24',
           '--batch-size', '4', '--device', 'cpu', '--quiet', *map(str, extra)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


@pytest.mark.skipif(os.name != 'posix', reason='signals')
def test_ctrl_c_while_pytorch_loads(f, tmp_path):
    "Ctrl-C in the first second, while Python imports PyTorch: one line and exit code 130, not an import traceback."
    p = _popen_train(f, tmp_path / 'early')
    time.sleep(0.4); p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, err)
    one_line(err, 'n2n: interrupted')
    assert not (tmp_path / 'early').exists()


@pytest.mark.skipif(os.name != 'posix', reason='signals')
def test_ctrl_c_before_the_first_checkpoint_says_nothing_was_kept(f, tmp_path):
    "Ctrl-C as soon as the run announces itself, long before its first checkpoint: the line is true about what is kept."
    from n2n.checkpoint import load_checkpoint
    out = tmp_path / 'soon'
    p = _popen_train(f, out, '--steps', 3000, '--checkpoint-every', 2000)
    assert 'n2n train: training' in p.stdout.readline()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    line = one_line(err, 'n2n train: interrupted')
    if 'is kept' in line:                                      # the engine had started: its Ctrl-C checkpoint exists
        step = int(re.search(r'of step (\d+) is kept', line).group(1))
        assert step > 0 and load_checkpoint(out / 'checkpoint.pt')['resume']['step'] == step
    else:
        assert 'nothing was saved and the new folder' in line, line
        assert not out.exists()


@pytest.mark.skipif(os.name != 'posix', reason='signals')
def test_sigterm_is_handled_as_ctrl_c(f, tmp_path):
    "`kill` (SIGTERM, what `timeout` and schedulers send) during a denoise into a new folder: one line, the folder removed."
    out = tmp_path / 'termed'
    p = subprocess.Popen([N2N, 'denoise', 'zs-n2n', str(f['folder']), '--steps', '100000', '--out', str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 120
    while not out.exists() and time.time() < deadline and p.poll() is None: time.sleep(0.05)
    assert out.exists(), 'the output folder was never made'
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    one_line(err, 'n2n denoise: interrupted')
    assert not out.exists()


@pytest.mark.skipif(os.name != 'posix', reason='signals')
def test_ctrl_c_after_a_checkpoint_keeps_it_and_resume_finishes(f, tmp_path):
    from n2n.checkpoint import load_checkpoint
    out = tmp_path / 'later'
    p = _popen_train(f, out, '--steps', 400, '--checkpoint-every', 5)
    deadline = time.time() + 120
    while not (out / 'checkpoint.pt').exists() and time.time() < deadline and p.poll() is None: time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    line = one_line(err, 'n2n train: interrupted at step ')
    m = re.search(r'checkpoint checkpoint.pt of step (\d+) is kept: continue with n2n train --resume --out ', line)
    step = int(m.group(1))
    assert load_checkpoint(out / 'checkpoint.pt')['resume']['step'] == step > 0
    assert not (out / 'config.json').exists() and not (out / 'model.pt').exists()
    rc, _, err = in_process(['train', '--resume', '--out', out, '--quiet'])
    assert rc == 0, err
    assert json.loads((out / 'history.json').read_text())['step'][-1] == 400 and (out / 'model.pt').exists()


@pytest.mark.skipif(os.name != 'posix', reason='signals')
def test_app_dies_with_its_parent_and_announces_the_served_port(tmp_path):
    "`n2n app --port 0`: the URL printed answers; after SIGKILL of `n2n app`, Voilà and its kernels stop too."
    p = subprocess.Popen([N2N, 'app', '--port', '0', '--size', '64'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=ENV, start_new_session=True)
    try:
        line = p.stdout.readline()
        m = re.match(r'n2n app: serving on (http://127\.0\.0\.1:(\d+)/)', line)
        assert m, (line, p.stderr.read() if p.poll() is not None else '')
        url, port = m.group(1), int(m.group(2))
        assert port != 0 and 'voila' in urllib.request.urlopen(url, timeout=120).read().decode().lower()
        kids = Path(f'/proc/{p.pid}/task/{p.pid}/children').read_text().split() if sys.platform == 'linux' else []
        p.send_signal(signal.SIGKILL); p.wait(10)
        deadline = time.time() + 30
        def serving():
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=0.5): return True
            except OSError: return False
        while serving() and time.time() < deadline: time.sleep(0.2)
        assert not serving(), 'Voilà still serves after its parent was killed'
        alive = lambda k: Path(f'/proc/{k}').exists() and Path(f'/proc/{k}/stat').read_text().split()[2] != 'Z'
        while any(alive(k) for k in kids) and time.time() < deadline: time.sleep(0.2)
        assert not any(alive(k) for k in kids), kids
    finally:
        with contextlib.suppress(ProcessLookupError): os.killpg(p.pid, signal.SIGKILL)


def test_app_busy_port_is_refused_not_moved():
    "A busy port: one line, exit code 2, and no URL announced (Voilà would have picked another port)."
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0)); busy.listen()
        port = busy.getsockname()[1]
        rc, out, err = in_process(['app', '--port', port])
    assert rc == 2 and out == ''
    assert f'port {port} on 127.0.0.1 is already in use' in one_line(err, 'n2n app: error: ')
    from n2n.app import voila_command
    assert '--Voila.port_retries=0' in voila_command('app.ipynb', port)   # Voilà itself would move to another port


# ----------------------------------------------------------------------------------------------------- 7. still helpful
def test_help_still_prints_the_usage():
    rc, out, err = in_process(['train', '--help'])
    assert rc == 0 and 'usage: n2n train' in out and '--batch_size' in out and err == ''
    rc, out, err = in_process([])
    assert rc == 2 and 'usage: n2n' in out and err == 'n2n: error: no command given (n2n --help lists them)\n'


def test_broken_pipe_ends_quietly():
    r = subprocess.run(f'{N2N} --help | head -1', shell=True, capture_output=True, text=True, env=ENV, timeout=120)
    assert r.stdout.startswith('usage: n2n') and 'Traceback' not in r.stderr and r.stderr == '', r.stderr


# ----------------------------------------------------------------------------------------------------------------- fuzz
FORMATS = ('png', 'jpg', 'tif', 'bmp', 'webp')


def _mutants(data: bytes, rng, n_cut=20, n_flip=30, n_random=5) -> list:
    "Truncations at random points, copies with 1-16 random bytes overwritten (the header included), and random files."
    out = [data[:int(k)] for k in sorted(rng.integers(1, len(data), n_cut))]
    for _ in range(n_flip):
        b = bytearray(data)
        span = 64 if rng.random() < 0.5 else len(b)                          # half of them in the header
        for i in rng.integers(0, min(len(b), span), rng.integers(1, 17)): b[i] = int(rng.integers(256))
        out.append(bytes(b))
    return out + [rng.integers(0, 256, int(rng.integers(1, 4096)), dtype=np.uint8).tobytes() for _ in range(n_random)]


@pytest.fixture(scope='module')
def fuzz_inputs(tmp_path_factory, tiny_model):
    "{(kind, i): path}: mutants of a small valid file of every image format and of the tiny model's checkpoint."
    d = tmp_path_factory.mktemp('fuzz')
    rng = np.random.default_rng(12)
    im = embedded_image('chelsea')[100:124, 200:232]
    files = {}
    for ext in FORMATS:
        good = write_image(d / f'good.{ext}', im).read_bytes()
        for i, b in enumerate(_mutants(good, rng)):
            (d / ext).mkdir(exist_ok=True); files[(ext, i)] = d / ext / f'm{i}.{ext}'; files[(ext, i)].write_bytes(b)
    for i, b in enumerate(_mutants(Path(tiny_model).read_bytes(), rng)):
        (d / 'ck').mkdir(exist_ok=True); files[('ckpt', i)] = d / 'ck' / f'm{i}.pt'; files[('ckpt', i)].write_bytes(b)
    return dict(root=d, files=files, img=write_image(d / 'input.png', im))


def _fuzz_one(kind, path, fz, tiny_model, via_script=False):
    out = fz['root'] / 'out' / f'{kind}_{path.stem}'
    model, image = (path, fz['img']) if kind == 'ckpt' else (tiny_model, path)
    argv, env = ['denoise', model, image, '--out', out, '--quiet'], {'N2N_MEMORY_LIMIT': '1G'}
    rc, _, err = script(argv, env) if via_script else in_process(argv, env)
    assert 'Traceback' not in err, (kind, path, err)
    assert rc in (0, 2), (kind, path, rc, err)                         # never 1 (a bug) and never a crash
    if rc == 2:
        one_line(err, 'n2n denoise: error: ')
        assert not out.exists()
    else:
        assert all(l.startswith('n2n denoise: warning: ') for l in err.splitlines() if l.strip()), err
        assert next(out.iterdir()).stat().st_size > 0
    return rc


def test_fuzz_denoise_never_gives_a_traceback(fuzz_inputs, tiny_model):
    t = time.time()
    codes = {k: _fuzz_one(k[0], p, fuzz_inputs, tiny_model) for k, p in fuzz_inputs['files'].items()}
    n = len(codes)
    print(f"fuzz: {n} inputs in {time.time() - t:.1f} s; exit 2: {sum(c == 2 for c in codes.values())}, "
          f"exit 0: {sum(c == 0 for c in codes.values())}")
    assert n == 6 * 55 and sum(c == 2 for c in codes.values()) > n // 2    # most mutants are refused, all cleanly


def test_fuzz_sample_through_the_console_script(fuzz_inputs, tiny_model):
    "One mutant of every kind through the installed console script: the real entry point behaves the same."
    for kind in (*FORMATS, 'ckpt'):
        _fuzz_one(kind, fuzz_inputs['files'][(kind, 3)], fuzz_inputs, tiny_model, via_script=True)


def _ignore_sigint():
    "What a shell script does to its background jobs (`cmd &`): SIGINT ignored."
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.skipif(os.name != 'posix', reason='signals')
def test_sigterm_stops_a_background_denoise_that_ignores_sigint(f, tmp_path):
    "A script's background job ignores SIGINT: `kill` (SIGTERM) still stops it within 5 s, one line, the new folder removed."
    out = tmp_path / 'bg'
    p = subprocess.Popen([N2N, 'denoise', 'zs-n2n', str(f['folder']), '--steps', '100000', '--out', str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, preexec_fn=_ignore_sigint)
    deadline = time.time() + 120
    while not out.exists() and time.time() < deadline and p.poll() is None: time.sleep(0.05)
    assert out.exists(), 'the output folder was never made'
    t = time.time(); p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and time.time() - t < 5, (p.returncode, time.time() - t, err)
    one_line(err, 'n2n denoise: interrupted')
    assert not out.exists()


@pytest.mark.skipif(os.name != 'posix', reason='signals')
def test_sigterm_stops_background_training_keeping_its_checkpoint(f, tmp_path):
    "SIGTERM to a training run started as a background job: it stops after the current step (< 5 s), the checkpoint kept."
    from n2n.checkpoint import load_checkpoint
    out = tmp_path / 'bgtrain'
    cmd = [N2N, 'train', str(f['folder']), '--out', str(out), '--features', '8', '--depth', '2', '--crop', '24',
           '--batch-size', '4', '--device', 'cpu', '--quiet', '--steps', '100000', '--checkpoint-every', '5']
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, preexec_fn=_ignore_sigint)
    deadline = time.time() + 120
    while not (out / 'checkpoint.pt').exists() and time.time() < deadline and p.poll() is None: time.sleep(0.05)
    t = time.time(); p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and time.time() - t < 5, (p.returncode, time.time() - t, err)
    step = int(re.search(r'of step (\d+) is kept', one_line(err, 'n2n train: interrupted at step ')).group(1))
    assert load_checkpoint(out / 'checkpoint.pt')['resume']['step'] == step > 0
