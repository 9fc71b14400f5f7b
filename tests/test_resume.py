"""Crash-safe training: `n2n train` killed with SIGKILL mid-run leaves a loadable checkpoint, and `--resume` continues
exactly (on the CPU, step-based, num_workers=0): the loss at every step and the final weights equal an uninterrupted run's."""
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


def train_args(data, out, *extra):
    return [N2N, 'train', str(data), '--out', str(out), '--steps', str(STEPS), '--features', '8', '--depth', '2', '--crop', '24',
            '--batch-size', '4', '--log-every', '1', '--checkpoint-every', '10', '--seed', '3', '--sigma', '0,50',
            '--device', 'cpu', '--num-workers', '0', '--quiet', *extra]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('resume') / 'images'
    d.mkdir()
    write_image(d / 'a.png', embedded_image('astronaut')[:96, 100:196])
    write_image(d / 'b.png', embedded_image('coffee')[50:130, 200:300])
    return d


@pytest.mark.skipif(not hasattr(signal, 'SIGKILL'), reason='needs SIGKILL (POSIX)')
def test_sigkill_then_resume_equals_uninterrupted(data, tmp_path):
    # 1. a run killed with SIGKILL once it has written a checkpoint at step >= 20 (of 150)
    killed = tmp_path / 'killed'
    p = subprocess.Popen(train_args(data, killed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ck_path, deadline, step = killed / 'checkpoint.pt', time.time() + 120, 0
    try:
        while time.time() < deadline and p.poll() is None:
            if ck_path.exists():
                step = load_checkpoint(ck_path)['resume']['step']      # atomic writes: always a complete file
                if step >= 20: break
            time.sleep(0.02)
        assert p.poll() is None, f"training ended before it could be killed: {p.stderr.read().decode()}"
        p.send_signal(signal.SIGKILL)
    finally:
        p.kill(); p.wait()
    assert p.returncode == -signal.SIGKILL
    ck = load_checkpoint(ck_path)                                       # the latest checkpoint survived the kill
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
    r = subprocess.run(train_args(data, full), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr

    h_res, h_full = (json.loads((d / 'history.json').read_text()) for d in (killed, full))
    assert h_full['step'] == list(range(1, STEPS + 1))
    assert h_res['step'] == h_full['step']
    assert h_res['loss'] == h_full['loss']                              # every step's loss, bit for bit
    assert h_res['lr'] == h_full['lr']
    w_res, w_full = (load_checkpoint(d / 'model.pt')['state_dict'] for d in (killed, full))
    assert all(torch.equal(w_res[k], w_full[k]) for k in w_full)
    o_res, o_full = (load_checkpoint(d / 'checkpoint.pt')['resume']['optimizer']['state'] for d in (killed, full))
    assert all(torch.equal(o_res[i]['exp_avg_sq'], o_full[i]['exp_avg_sq']) for i in o_full)


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
