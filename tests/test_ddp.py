"""DistributedDataParallel on CPU: 2 gloo processes under torchrun reproduce the single-process run with the same global batch,
for an L2 recipe and for the annealed-L0 one (the engine's `Distributed` callback)."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

ARGS = ['--images', 'embedded', '--n-images', '2', '--mode', 'n2n', '--steps', '8', '--batch-size', '4',
        '--crop', '32', '--features', '8', '--depth', '2', '--log-every', '1', '--seed', '3', '--device', 'cpu',
        '--precision', 'fp32', '--quiet']


def train(tmp: Path, nproc: int, recipe: str) -> dict:
    "Run `python -m n2n.distributed` as one plain process (nproc=1) or under torchrun with `nproc` gloo processes; returns its history."
    hist, ckpt = tmp / f'hist{nproc}{recipe}.json', tmp / f'model{nproc}{recipe}.pt'
    launcher = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(nproc)] if nproc > 1 else [sys.executable]
    r = subprocess.run(launcher + ['-m', 'n2n.distributed', *ARGS, '--recipe', recipe, '--history', str(hist), '--out', str(ckpt)],
                       capture_output=True, text=True, timeout=150, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return json.loads(hist.read_text()) | {'ckpt': ckpt}


@pytest.mark.parametrize('recipe', ['gaussian', 'impulse'])
def test_two_gloo_processes_match_one(tmp_path, recipe):
    one, two = train(tmp_path, 1, recipe), train(tmp_path, 2, recipe)
    assert (one['world_size'], two['world_size']) == (1, 2)
    assert one['step'] == two['step'] == list(range(1, 9))
    loss1, loss2 = np.array(one['loss']), np.array(two['loss'])
    assert np.ptp(loss1) > 1e-3                                        # the model trained: the curve is not flat
    np.testing.assert_allclose(loss2, loss1, rtol=1e-5, atol=1e-7)     # same loss curve within float tolerance
    np.testing.assert_allclose(two['weights_rss'], one['weights_rss'], rtol=1e-5)
    if recipe == 'impulse':                                            # the L0 exponent was annealed the same way in both runs
        assert one['gamma'] == two['gamma'] and one['gamma'][0] > 1.7 and one['gamma'][-1] < 0.3
    # the checkpoints rank 0 wrote hold (nearly) the same weights
    from n2n.checkpoint import load_model
    m1, m2 = load_model(one['ckpt']), load_model(two['ckpt'])
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)


def test_batch_must_split_evenly(tmp_path):
    "A global batch that does not divide by the number of processes is refused with a clear message, before training starts."
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '-m', 'n2n.distributed',
                        *ARGS, '--recipe', 'gaussian', '--batch-size', '3'],
                       capture_output=True, text=True, timeout=150, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode != 0 and 'batch_size 3 must be divisible by the number of processes 2' in r.stdout + r.stderr
