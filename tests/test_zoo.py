"""The model zoo: every shipped weight file loads after its SHA-256 check and reproduces its card's regression value;
altered files are refused with one line; `n2n models`, `n2n denoise pretrained:NAME` and fine-tuning with `--init` run."""
import json, shutil
from pathlib import Path
import numpy as np
import pytest
import torch
from n2n.pretrained import WEIGHTS, zoo, load, weights_path, sha256_file
from n2n.checkpoint import CheckpointError, load_checkpoint

SHIPPED = [name for name, e in zoo().items() if e.get('file')]


def test_the_zoo_ships_the_headline_pair():
    assert {'n2n-color-gaussian', 'n2c-color-gaussian'} <= set(SHIPPED)


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_weights_are_small_checked_and_half_precision(name):
    e = zoo()[name]
    path = weights_path(name)
    assert path.stat().st_size <= 5 * 2**20
    assert sha256_file(path) == e['sha256']
    ck = load_checkpoint(path)
    assert all(v.dtype == torch.float16 for v in ck['state_dict'].values() if v.is_floating_point())
    assert ck['config']['in_channels'] == e['channels']


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_weights_reproduce_their_card(name):
    "Inference regression: the card's PSNR on its fixed crop, within 0.05 dB."
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'zoo'))
    from zoo import check_value
    e = zoo()[name]
    got = check_value(load(name), e['channels'])
    assert abs(got['psnr'] - e['check']['psnr']) <= 0.05, (got, e['check'])
    assert got['psnr'] > 28          # a real denoiser: the noisy crop is at about 20 dB


@pytest.mark.parametrize('how', ['flip one byte', 'truncate', 'empty'])
def test_an_altered_weight_file_is_refused(tmp_path, how):
    name = SHIPPED[0]
    bad = tmp_path / 'zoo'; shutil.copytree(WEIGHTS, bad)
    f = bad / zoo()[name]['file']
    b = bytearray(f.read_bytes())
    if how == 'flip one byte': b[len(b) // 3] ^= 0x10
    elif how == 'truncate': b = b[:len(b) // 2]
    else: b = b''
    f.write_bytes(bytes(b))
    with pytest.raises(CheckpointError, match='fails its SHA-256 check'): load(name, folder=bad)


def test_unknown_and_untrained_names(tmp_path):
    with pytest.raises(CheckpointError, match='unknown pretrained model'): load('n2n-colour-gausian')
    (tmp_path / 'zoo.json').write_text(json.dumps({'models': [dict(name='later', noise='-', objective='n2n', channels=3)]}))
    with pytest.raises(CheckpointError, match='not trained yet'): load('later', folder=tmp_path)


def _noisy_folder(d: Path, n: int = 2, size: int = 64) -> Path:
    from n2n.core import write_image, image_to_tensor, tensor_to_image, make_generator
    from n2n.data import embedded_images
    from n2n.noise import Gaussian
    d.mkdir(parents=True, exist_ok=True)
    for i, (k, im) in enumerate(embedded_images(['astronaut', 'coffee'][:n]).items()):
        x = image_to_tensor(im)[:, 100:100 + size, 100:100 + size]
        write_image(d / f'{k}.png', tensor_to_image(Gaussian(25).sample(x, generator=make_generator(i)).clamp(0, 1)))
    return d


def test_cli_models_denoise_and_fine_tune(tmp_path, capsys):
    from n2n.cli import main
    from n2n.core import read_image
    assert main(['models']) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SHIPPED) and 'BM3D' in out
    photos = _noisy_folder(tmp_path / 'photos')
    assert main(['denoise', 'pretrained:n2n-color-gaussian', str(photos), '--out', str(tmp_path / 'clean'), '--quiet']) == 0
    a, b = read_image(photos / 'coffee.png').astype(float), read_image(tmp_path / 'clean' / 'coffee.png').astype(float)
    assert a.shape == b.shape and np.abs(a - b).mean() > 5           # noise removed: the output differs from the input
    # fine-tuning from the zoo on noisy images alone: the U-Net takes the weights' shape
    rc = main(['train', str(photos), '--objective', 'nb2nb', '--init', 'pretrained:n2n-color-gaussian', '--steps', '2',
               '--batch_size', '2', '--crop', '32', '--out', str(tmp_path / 'ft'), '--quiet'])
    assert rc == 0
    ck = load_checkpoint(tmp_path / 'ft' / 'model.pt')
    assert ck['config']['features'] == 48 and ck['meta']['run_config']['init'] == 'pretrained:n2n-color-gaussian'
    capsys.readouterr()
    rc = main(['train', str(photos), '--objective', 'nb2nb', '--init', 'pretrained:n2n-color-gaussian', '--features', '16',
               '--steps', '2', '--out', str(tmp_path / 'ft2'), '--quiet'])
    err = capsys.readouterr().err
    assert rc == 2 and '--features 16 (the weights have 48)' in err and not (tmp_path / 'ft2').exists(), err


def test_a_gray_model_file_refuses_nothing_it_can_take(tmp_path):
    "The zoo's colour model on a gray image: the image is denoised as gray (replicated, then averaged back), exit 0."
    from n2n.cli import main
    from n2n.core import write_image, read_image
    g = (np.random.default_rng(0).random((40, 40)) * 255).astype(np.uint8)
    write_image(tmp_path / 'g.png', g)
    assert main(['denoise', 'pretrained:n2n-color-gaussian', str(tmp_path / 'g.png'), '--out', str(tmp_path / 'o'),
                 '--quiet']) == 0
    assert read_image(tmp_path / 'o' / 'g.png').shape == (40, 40)
