"""DistributedDataParallel on CPU: 2 gloo processes under torchrun reproduce the single-process run with the same global batch."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

ARGS = ['--images', 'embedded', '--n-images', '2', '--recipe', 'gaussian', '--mode', 'n2n', '--steps', '8', '--batch-size', '4',
        '--crop', '32', '--features', '8', '--depth', '2', '--log-every', '1', '--seed', '3', '--device', 'cpu', '--quiet']

def train(tmp: Path, nproc: int) -> dict:
    "Run `python -m n2n.distributed` as one plain process (nproc=1) or under torchrun with `nproc` gloo processes; returns its history."
    hist, ckpt = tmp / f'hist{nproc}.json', tmp / f'model{nproc}.pt'
    launcher = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(nproc)] if nproc > 1 else [sys.executable]
    r = subprocess.run(launcher + ['-m', 'n2n.distributed', *ARGS, '--history', str(hist), '--out', str(ckpt)],
                       capture_output=True, text=True, timeout=150, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return json.loads(hist.read_text()) | {'ckpt': ckpt}

def test_two_gloo_processes_match_one(tmp_path):
    one, two = train(tmp_path, 1), train(tmp_path, 2)
    assert (one['world_size'], two['world_size']) == (1, 2)
    assert one['step'] == two['step'] == list(range(1, 9))
    loss1, loss2 = np.array(one['loss']), np.array(two['loss'])
    assert np.ptp(loss1) > 1e-3                                        # the model trained: the curve is not flat
    np.testing.assert_allclose(loss2, loss1, rtol=1e-5, atol=1e-7)     # same loss curve within float tolerance
    np.testing.assert_allclose(two['weights_rss'], one['weights_rss'], rtol=1e-5)
    # the checkpoints rank 0 wrote hold (nearly) the same weights
    from n2n.checkpoint import load_model
    m1, m2 = load_model(one['ckpt']), load_model(two['ckpt'])
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)

def test_batch_must_split_evenly(tmp_path):
    "A global batch that does not divide by the number of processes is refused with a clear message."
    from n2n.recipes import RecipeConfig, train_recipe, training_images
    from n2n.unet import UNet
    with pytest.raises(ValueError, match='divisible'):
        train_recipe(UNet(3, features=4, depth=1), training_images('embedded', n=1), 'gaussian', 'n2n',
                     RecipeConfig(steps=1, batch_size=3, crop=16, device='cpu'), shard=(0, 2))
