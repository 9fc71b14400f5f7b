"""Shared fixtures: the installed console script, one thread per process, and a tiny trained model (seconds on a CPU)."""
import os, sys
from pathlib import Path
import pytest

# One thread per process: the suite starts many short processes on a small shared CPU, where OpenMP threads that spin-wait
# for each other cost far more than they give; it also keeps CPU results bit-for-bit reproducible between processes.
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')

N2N_EXE = str(Path(sys.executable).parent / 'n2n')   # the console script installed beside this Python


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory):
    """A residual U-Net (features 8, depth 2) trained for 200 steps on embedded images with Gaussian σ ∈ [0, 50] noise
    (Noise2Noise), saved with `n2n.checkpoint.save_checkpoint`; returns the checkpoint path."""
    import torch
    from n2n.core import seed_everything
    from n2n.data import NoisyPairs, embedded_images
    from n2n.noise import Gaussian
    from n2n.unet import UNet
    from n2n.engine import FitConfig, fit
    from n2n.checkpoint import save_checkpoint
    torch.set_num_threads(1)
    seed_everything(0)
    ds = NoisyPairs(list(embedded_images(['astronaut', 'coffee', 'rocket']).values()), Gaussian(sigma=(0, 50)), crop=32, length=1000, seed=0)
    model = UNet(3, features=8, depth=2, residual=True)
    cfg = FitConfig(steps=200, batch_size=8, lr=3e-3, device='cpu')
    hist = fit(model, ds, cfg=cfg, progress=False)
    path = tmp_path_factory.mktemp('model') / 'tiny.pt'
    save_checkpoint(path, model, noise=ds.noise, train=cfg, history=hist)
    return path
