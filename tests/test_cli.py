"""The installed `n2n` console script, run as a user would: exit codes, one-line errors, no tracebacks."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

N2N = [str(Path(sys.executable).parent / 'n2n')]  # the console script installed beside this Python

def run(*args, timeout=120):
    return subprocess.run(N2N + list(args), capture_output=True, text=True, timeout=timeout)

def test_help_lists_commands():
    r = run('--help')
    assert r.returncode == 0
    for cmd in ('noise', 'train', 'denoise', 'demo'): assert f'  {cmd} ' in r.stdout

def test_demo_help():
    r = run('demo', '--help')
    assert r.returncode == 0 and '--seconds' in r.stdout and '--out' in r.stdout

@pytest.mark.parametrize('args,msg', [
    (['nonsense'], "unknown command 'nonsense'"),
    (['demo', '--seconds', '-1', '--quiet'], 'seconds must be > 0'),
    (['demo', '--steps', '0', '--quiet'], 'steps must be an integer > 0, got 0'),
    (['demo', '--precision', 'fp16', '--quiet'], 'precision must be one of auto, bf16, fp32'),
    (['demo', '--seconds', 'abc'], 'invalid float value'),
])
def test_user_errors_are_one_clear_line(args, msg, tmp_path):
    r = run(*args, *(['--out', str(tmp_path / 'out')] if args[0] == 'demo' else []))
    assert r.returncode == 2
    assert msg in r.stderr
    assert 'Traceback' not in r.stderr
    assert not (tmp_path / 'out').exists()

def test_no_command_prints_usage():
    r = run()
    assert r.returncode == 2 and 'usage: n2n' in r.stdout

def test_registry_manifest_is_installed():
    from n2n.data import registry
    reg = registry()
    assert {'Kodak24', 'CBSD68', 'BSD68', 'Set12', 'CBSD432', 'Train400'} <= set(reg)


# ---- noise / train / denoise: in this process through n2n.cli.main, the function the console script calls
def n2n_main(*args):
    import contextlib, io
    from n2n.cli import main
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e): rc = main([str(a) for a in args])
    return rc, o.getvalue(), e.getvalue()

@pytest.mark.parametrize('cmd,flags', [
    ('noise', ['--model', '--sigma', '--p', '--lam', '--params', '--pairs', '--clean', '--seed', 'in_dir', 'out_dir']),
    ('train', ['--config', '--dataset', '--pairs', '--mode', '--noise', '--arch', '--steps', '--batch_size', '--resume', '--checkpoint_every', '--out',
               '--recipe', '--loss', '--precision']),
    ('denoise', ['--out', '--tile', '--overlap', '--recursive', '--device', '--precision', 'inputs']),
])
def test_command_help(cmd, flags):
    rc, out, _ = n2n_main(cmd, '--help')
    assert rc == 0
    for f in flags: assert f in out, f

@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    import numpy as np
    from n2n.core import write_image
    from n2n.data import embedded_image
    d = tmp_path_factory.mktemp('cli') / 'photos'; d.mkdir()
    write_image(d / 'cat.png', embedded_image('chelsea')[:64, 100:180])
    write_image(d / 'cam16.png', embedded_image('camera')[:48, :40].astype(np.uint16) * 257)
    return d

def test_noise_pairs_layout_and_seed(photos, tmp_path):
    import numpy as np
    from n2n.core import read_image
    r = run('noise', photos, tmp_path / 'p1', '--sigma', '0,50', '--pairs', '--clean', '--seed', '4', '--quiet')
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / 'p1').iterdir()) == ['a', 'b', 'clean', 'noise.json']
    assert sorted(p.name for p in (tmp_path / 'p1' / 'a').iterdir()) == ['cam16.png', 'cat.png']
    info = json.loads((tmp_path / 'p1' / 'noise.json').read_text())
    assert info['model'] == 'gaussian' and info['params'] == {'sigma': [0, 50]} and info['seed'] == 4
    a, b = read_image(tmp_path / 'p1' / 'a' / 'cat.png'), read_image(tmp_path / 'p1' / 'b' / 'cat.png')
    assert a.shape == (64, 80, 3) and a.dtype == np.uint8 and not np.array_equal(a, b)
    assert read_image(tmp_path / 'p1' / 'a' / 'cam16.png').dtype == np.uint16
    assert n2n_main('noise', photos, tmp_path / 'p2', '--sigma', '0,50', '--pairs', '--seed', '4', '--quiet')[0] == 0
    assert np.array_equal(read_image(tmp_path / 'p2' / 'b' / 'cat.png'), b)            # same seed, same noise
    assert n2n_main('noise', photos, tmp_path / 'p3', '--sigma', '0,50', '--pairs', '--seed', '5', '--quiet')[0] == 0
    assert not np.array_equal(read_image(tmp_path / 'p3' / 'b' / 'cat.png'), b)

def test_train_from_toml_config_then_denoise(photos, tmp_path):
    from n2n.checkpoint import load_checkpoint
    (tmp_path / 'run.toml').write_text(f'data = "{photos}"\nnoise = "poisson"\nlam = 30\nsteps = 6\nfeatures = 8\ndepth = 2\n'
                                       'crop = 24\nbatch-size = 2\nlog_every = 2\nmode = "n2c"\n')
    rc, out, err = n2n_main('train', '--config', tmp_path / 'run.toml', '--out', tmp_path / 'run', '--steps', 8, '--device', 'cpu', '--quiet')
    assert rc == 0, err
    cfg = json.loads((tmp_path / 'run' / 'config.json').read_text())
    assert (cfg['steps'], cfg['batch_size'], cfg['noise'], cfg['mode'], cfg['channels']) == (8, 2, 'poisson', 'n2c', None)
    ck = load_checkpoint(tmp_path / 'run' / 'model.pt')
    assert ck['noise'] == {'name': 'poisson', 'params': {'lam': 30}, 'clip': False}
    assert ck['config']['in_channels'] == 3 and ck['history']['step'] == [2, 4, 6, 8]
    assert ck['resume'] is None and load_checkpoint(tmp_path / 'run' / 'checkpoint.pt')['resume']['finished']
    assert (tmp_path / 'run' / 'loss.png').stat().st_size > 1000
    rc, out, err = n2n_main('denoise', tmp_path / 'run' / 'model.pt', photos, '--out', tmp_path / 'den', '--quiet')
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / 'den').iterdir()) == ['cam16.png', 'cat.png']

def test_dashes_and_underscores_are_the_same_flag(photos, tmp_path):
    for i, flag in enumerate(('--batch-size', '--batch_size')):
        rc, _, err = n2n_main('train', photos, '--out', tmp_path / str(i), flag, 0, '--quiet')
        assert rc == 2 and 'batch_size must be an integer > 0, got 0' in err
        assert not (tmp_path / str(i)).exists()


TINY = ['--steps', 6, '--features', 8, '--depth', 2, '--crop', 24, '--batch-size', 2, '--log-every', 2, '--device', 'cpu', '--quiet']

@pytest.mark.parametrize('recipe', ['impulse', 'bernoulli', 'text'])
def test_train_recipe_tiny_run(photos, tmp_path, recipe):
    "The paper's recipes train from the command line: their noise over the training range, their loss, their schedule."
    from n2n.checkpoint import load_checkpoint
    rc, out, err = n2n_main('train', photos, '--recipe', recipe, '--out', tmp_path / 'r', *TINY)
    assert rc == 0, err
    ck = load_checkpoint(tmp_path / 'r' / 'checkpoint.pt')
    want = {'impulse': 'l0', 'bernoulli': 'masked', 'text': 'l1'}[recipe]
    assert ck['train']['objective'] == {'name': 'target', 'loss': want, **({'eps': 1e-8} if want == 'l0' else {})}
    assert ck['noise']['name'] == recipe and len(ck['noise']['params']['p']) == 2       # the training range, drawn per image
    hist = json.loads((tmp_path / 'r' / 'history.json').read_text())
    if recipe == 'impulse': assert hist['gamma'][0] > 1.5 and hist['gamma'][-1] < 0.5         # γ annealed 2 → 0
    assert (tmp_path / 'r' / 'model.pt').exists()

@pytest.mark.parametrize('args,msg', [
    (['--loss', 'masked'], '--loss masked needs a noise that reports the pixels it replaced'),
    (['--loss', 'l7'], 'loss must be one of l2, l1, l0, masked'),
    (['--recipe', 'speckle'], "unknown recipe 'speckle'"),
    (['--precision', 'fp8'], 'precision must be one of auto, bf16, fp32'),
    (['--lr', 'inf'], 'lr must be a finite number > 0'),
    (['--seconds', 'nan'], 'seconds must be a finite number > 0'),
    (['--log-every', '0'], 'log_every must be an integer > 0'),
])
def test_train_refuses_bad_objectives_and_settings(photos, tmp_path, args, msg):
    rc, _, err = n2n_main('train', photos, '--out', tmp_path / 'x', *args, '--quiet')
    assert rc == 2 and msg in err and err.count('\n') == 1, err
    assert not (tmp_path / 'x').exists()

def test_loss_flag_overrides_the_recipe(photos, tmp_path):
    "`--recipe bernoulli --loss l2` is the paper's unmasked control: the recipe's noise with plain L2."
    from n2n.checkpoint import load_checkpoint
    rc, _, err = n2n_main('train', photos, '--recipe', 'bernoulli', '--loss', 'l2', '--out', tmp_path / 'c', *TINY)
    assert rc == 0, err
    ck = load_checkpoint(tmp_path / 'c' / 'checkpoint.pt')
    assert ck['train']['objective']['loss'] == 'l2' and ck['noise']['name'] == 'bernoulli'
