"""Crash-safe training: `n2n train` killed with SIGKILL mid-run leaves a loadable checkpoint, and `--resume` continues
exactly (on the CPU, step-based, num_workers=0): the loss at every step and the final weights equal an uninterrupted run's.
Checked for the Noise2Noise U-Net (L2), the annealed-L0 objective and the article's three-stage VAE, all on the one engine."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
import torch

from n2n.core import write_image
from n2n.data import embedded_image
from n2n.checkpoint import load_checkpoint

N2N = str(Path(sys.executable).parent / 'n2n')
STEPS = 150
VAE_CONFIG = """vae:
  model: {channels: [8, 16], latent_channels: 8}
  crops_per_image: 8
  epochs: 12
  adjust_epochs: 10
  entropy_epochs: 4
  log_every: 1
crop: 24
batch_size: 4
checkpoint_every: 5
sigma: 25
seed: 3
device: cpu
"""

def unet_args(data, out, *extra):
    return [N2N, 'train', str(data), '--out', str(out), '--steps', str(STEPS), '--features', '8', '--depth', '2', '--crop', '24',
            '--batch-size', '4', '--log-every', '1', '--checkpoint-every', '10', '--seed', '3', '--sigma', '0,50',
            '--device', 'cpu', '--num-workers', '0', '--quiet', *extra]

def vae_args(data, out, config):
    return [N2N, 'train', str(data), '--arch', 'vae', '--config', str(config), '--out', str(out), '--quiet']


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('resume') / 'images'
    d.mkdir()
    write_image(d / 'a.png', embedded_image('astronaut')[:96, 100:196])
    write_image(d / 'b.png', embedded_image('coffee')[50:130, 200:300])
    return d


def kill_when(cmd, ck_path: Path, min_step: int):
    "Start `cmd`, SIGKILL it as soon as `ck_path` holds a training state at step >= `min_step`; returns that checkpoint."
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    try:
        while time.time() < deadline and p.poll() is None:
            if ck_path.exists() and load_checkpoint(ck_path)['resume']['step'] >= min_step: break   # atomic writes: always complete
            time.sleep(0.02)
        assert p.poll() is None, f"training ended before it could be killed: {p.stderr.read().decode()}"
        p.send_signal(signal.SIGKILL)
    finally:
        p.kill(); p.wait()
    assert p.returncode == -signal.SIGKILL
    return load_checkpoint(ck_path)                                     # the latest checkpoint survived the kill


def assert_same_run(killed: Path, full: Path):
    h_res, h_full = (json.loads((d / 'history.json').read_text()) for d in (killed, full))
    assert h_res['step'] == h_full['step'] and len(h_full['step']) > 10
    assert h_res['loss'] == h_full['loss']                              # every step's loss, bit for bit
    w_res, w_full = (load_checkpoint(d / 'model.pt')['state_dict'] for d in (killed, full))
    assert all(torch.equal(w_res[k], w_full[k]) for k in w_full)
    return h_res, h_full


@pytest.mark.skipif(not hasattr(signal, 'SIGKILL'), reason='needs SIGKILL (POSIX)')
@pytest.mark.parametrize('extra', [[], ['--loss', 'l0']], ids=['n2n-l2', 'n2n-l0'])
def test_sigkill_then_resume_equals_uninterrupted(data, tmp_path, extra):
    # 1. a run killed with SIGKILL once it has written a checkpoint at step >= 20 (of 150)
    killed = tmp_path / 'killed'
    ck = kill_when(unet_args(data, killed, *extra), killed / 'checkpoint.pt', 20)
    assert 20 <= ck['resume']['step'] < STEPS and not ck['resume']['finished']
    assert not (killed / 'model.pt').exists()                           # the run really was cut short

    # 2. resume it (settings come from the checkpoint); a stale temporary file from the kill would be cleaned up
    (killed / '.checkpoint.pt.abc123.tmp').write_bytes(b'partial write left by a kill')
    r = subprocess.run([N2N, 'train', '--resume', '--out', str(killed), '--quiet'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'resuming' in r.stdout
    assert not list(killed.glob('.*.tmp'))

    # 3. the same run without interruption
    full = tmp_path / 'full'
    r = subprocess.run(unet_args(data, full, *extra), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    h_res, h_full = assert_same_run(killed, full)
    assert h_full['step'] == list(range(1, STEPS + 1))
    assert h_res['lr'] == h_full['lr']
    if extra: assert h_res['gamma'] == h_full['gamma'] and h_full['gamma'][-1] < 0.05   # L0: γ annealed on, across the kill
    o_res, o_full = (load_checkpoint(d / 'checkpoint.pt')['resume']['optimizer']['state'] for d in (killed, full))
    assert all(torch.equal(o_res[i]['exp_avg_sq'], o_full[i]['exp_avg_sq']) for i in o_full)


@pytest.mark.skipif(not hasattr(signal, 'SIGKILL'), reason='needs SIGKILL (POSIX)')
def test_sigkill_three_stage_vae_then_resume_equals_uninterrupted(data, tmp_path):
    "The article's pipeline killed in the middle of stage 2 resumes exactly: stage 1 from its finished checkpoint, stage 2 from its last."
    config = tmp_path / 'vae.yaml'
    config.write_text(VAE_CONFIG)
    killed = tmp_path / 'killed'
    ck = kill_when(vae_args(data, killed, config), killed / 'stages' / 'stage2.pt', 10)
    assert ck['meta']['stage'] == 2 and not ck['resume']['finished']
    assert load_checkpoint(killed / 'stages' / 'stage1.pt')['resume']['finished']
    assert not (killed / 'stages' / 'stage3.pt').exists() and not (killed / 'model.pt').exists()
    r = subprocess.run([N2N, 'train', '--resume', '--out', str(killed), '--quiet'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    full = tmp_path / 'full'
    r = subprocess.run(vae_args(data, full, config), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    h_res, h_full = assert_same_run(killed, full)
    assert sorted(set(h_full['stage'])) == [1, 2, 3]


def test_resume_refuses_changed_settings(data, tmp_path, capsys):
    "Run in this process through n2n.cli.main (what the console script calls): a short run, then two refused commands."
    from n2n.cli import main
    out = tmp_path / 'run'
    assert main(['train', str(data), '--out', str(out), '--steps', '12', '--features', '8', '--depth', '2', '--crop', '24',
                 '--batch-size', '4', '--device', 'cpu', '--quiet']) == 0
    capsys.readouterr()
    assert main(['train', '--resume', '--out', str(out), '--features', '16']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '--features 16 (the run used 8)' in err
    assert main(['train', str(data), '--out', str(out), '--quiet']) == 2
    assert 'already holds a training run' in capsys.readouterr().err
    assert main(['train', '--resume', '--out', str(out), '--quiet', '--device', 'cpu']) == 0   # finished: nothing left to do
    assert json.loads((out / 'history.json').read_text())['step'][-1] == 12
