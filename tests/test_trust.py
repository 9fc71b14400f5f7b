"""Classes of silent loss and misleading errors, fixed at their root, each through several cases: a gray model on colour
images, entries that are not files, file names that are not UTF-8, resource storms, the library API's own checks."""
import io, contextlib, os
from pathlib import Path
import numpy as np
import pytest
import torch
from n2n.core import write_image, read_image


def run(*args):
    "`n2n ARGS` in this process through `n2n.cli.main`: (exit code, stdout, stderr)."
    from n2n.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out): rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def colour(tmp_path):
    d = tmp_path / 'in'; d.mkdir()
    rng = np.random.default_rng(0)
    img = np.zeros((32, 32, 3), np.uint8); img[..., 0] = 200; img[..., 2] = 40            # a red-dominant picture
    write_image(d / 'red.png', np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8))
    write_image(d / 'rgba.png', np.dstack([img, np.full((32, 32), 128, np.uint8)]))
    return d


@pytest.mark.parametrize('features', [4, 8])
def test_a_gray_model_keeps_the_colour_of_colour_images(colour, tmp_path, features):
    from n2n.unet import UNet
    from n2n.checkpoint import save_checkpoint
    save_checkpoint(tmp_path / 'gray.pt', UNet(1, features=features, depth=2, residual=True))
    rc, _, err = run('denoise', tmp_path / 'gray.pt', colour, '--out', tmp_path / 'o', '--quiet')
    assert rc == 0, err
    out = read_image(tmp_path / 'o' / 'red.png').astype(float)
    assert out.shape == (32, 32, 3) and out[..., 0].mean() - out[..., 2].mean() > 100     # red stays red
    assert read_image(tmp_path / 'o' / 'rgba.png').shape == (32, 32, 4)


@pytest.mark.skipif(not hasattr(os, 'mkfifo'), reason='FIFOs')
def test_entries_that_are_not_files_are_named(colour, tmp_path):
    os.mkfifo(colour / 'pipe.png'); (colour / 'folder.png').mkdir()
    rc, _, err = run('denoise', 'tv', colour / 'pipe.png', '--out', tmp_path / 'o')
    assert rc == 2 and 'is a FIFO, not an image file' in err and not (tmp_path / 'o').exists(), err
    rc, _, err = run('denoise', 'tv', colour, '--out', tmp_path / 'o2', '--quiet')
    assert rc == 0 and 'warning:' in err and 'pipe.png (a FIFO)' in err and 'folder.png (a folder)' in err, err
    assert sorted(p.name for p in (tmp_path / 'o2').iterdir()) == ['red.png', 'rgba.png']
    rc, _, err = run('noise', colour / 'pipe.png', tmp_path / 'o3')
    assert rc == 2 and 'FIFO' in err


@pytest.mark.parametrize('raw', [b'caf\xe9.png', b'\xff\xfe.png'])
def test_file_names_that_are_not_utf8(tmp_path, raw):
    d = tmp_path / 'in'; d.mkdir()
    odd = d / os.fsdecode(raw)
    try: write_image(odd, np.full((12, 12), 100, np.uint8))
    except (OSError, UnicodeError): pytest.skip('this file system takes only UTF-8 names')
    write_image(d / 'plain.png', np.full((12, 12), 100, np.uint8))
    rc, out, err = run('noise', d, tmp_path / 'o', '--quiet')
    assert rc == 0, err
    assert (tmp_path / 'o' / 'noisy' / odd.name).is_file() and (tmp_path / 'o' / 'noisy' / 'plain.png').is_file()
    assert '\\x' in (tmp_path / 'o' / 'noise.json').read_text(encoding='utf-8')          # named, escaped
    assert run('denoise', 'tv', d, '--out', tmp_path / 'o2', '--quiet')[0] == 0


@pytest.mark.parametrize('n', [100000, (os.cpu_count() or 1) + 1])
def test_worker_counts_are_bounded_by_the_machine(colour, tmp_path, n):
    rc, _, err = run('train', colour, '--num_workers', n, '--out', tmp_path / 'o', '--steps', 2)
    assert rc == 2 and f"num_workers {n} is more than this machine's" in err and not (tmp_path / 'o').exists(), err


def test_the_library_checks_like_the_command_line():
    from n2n.inference import denoise
    from n2n.unet import UNet
    net = UNet(3, features=4, depth=2)
    cases = [((torch.rand(3, 8, 8) * 255).to(torch.uint8), {}, 'expected a float tensor'),
             (np.random.default_rng(0).random((8, 8, 3)) * 255, {}, 'divide by 255'),
             (torch.full((3, 8, 8), float('nan')), {}, 'NaN'),
             (torch.full((3, 8, 8), float('inf')), {}, 'NaN or Inf'),
             (torch.rand(3, 8, 8), {'batch_size': 0}, 'batch_size must be an integer >= 1'),
             (torch.rand(3, 8, 8), {'batch_size': 2.5}, 'batch_size must be an integer >= 1')]
    for x, kw, msg in cases:
        with pytest.raises((TypeError, ValueError), match=msg.replace('(', r'\(')): denoise(net, x, **kw)
    assert denoise(net, torch.rand(3, 8, 8) * 1.3 - 0.15).shape == (3, 8, 8)             # noisy values stray a little
