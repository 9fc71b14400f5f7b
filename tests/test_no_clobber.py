"""Nothing a user owns is lost: a file this run did not write is never replaced without `--overwrite`, and a run that
fails or is stopped removes only what it wrote itself (through every command that writes)."""
import os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
from n2n.core import write_image, read_image

N2N = str(Path(sys.executable).parent / 'n2n')
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}


def run(*args):
    "`n2n ARGS` in this process through `n2n.cli.main`: (exit code, stderr)."
    import io, contextlib
    from n2n.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()): rc = main([str(a) for a in args])
    return rc, err.getvalue()


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / 'photos'; d.mkdir()
    rng = np.random.default_rng(0)
    for k in ('im0', 'im1'): write_image(d / f'{k}.png', (rng.random((40, 48, 3)) * 255).astype(np.uint8))
    return d


def mine(path: Path, text: str = 'the user wrote this') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True); path.write_text(text); return path


@pytest.mark.parametrize('cmd', ['denoise', 'noise'])
def test_an_existing_output_is_refused_then_replaced_with_overwrite(photos, tmp_path, cmd):
    out = tmp_path / 'out'
    target = out / ('im1.png' if cmd == 'denoise' else 'noisy/im1.png')
    own = mine(target)
    args = ['denoise', 'tv', photos, '--out', out] if cmd == 'denoise' else ['noise', photos, out, '--sigma', 25]
    rc, err = run(*args, '--quiet')
    assert rc == 2 and 'im1.png exists and this run did not write it' in err and '--overwrite' in err, err
    assert own.read_text() == 'the user wrote this'
    assert sorted(p.name for p in target.parent.iterdir()) == ['im1.png']          # refused before anything was written
    rc, err = run(*args, '--quiet', '--overwrite')
    assert rc == 0, err
    assert read_image(target).shape == (40, 48, 3)


def test_a_sibling_with_another_suffix_and_a_second_run(photos, tmp_path):
    "The issue's cases: photo.jpg → photo.png beside a user's photo.png; a second run into the same --out."
    sib = tmp_path / 'sib'; sib.mkdir()
    write_image(sib / 'photo.jpg', read_image(photos / 'im0.png'))
    own = mine(sib / 'photo.png', 'not a png, but the user\'s')
    rc, err = run('denoise', 'tv', sib / 'photo.jpg', '--out', sib, '--quiet')
    assert rc == 2 and 'photo.png exists' in err and own.read_text() == "not a png, but the user's"
    assert run('denoise', 'tv', photos, '--out', tmp_path / 'o', '--quiet')[0] == 0
    first = (tmp_path / 'o' / 'im0.png').read_bytes()
    rc, err = run('denoise', 'bm3d', photos, '--out', tmp_path / 'o', '--sigma', 25, '--quiet')
    assert rc == 2 and 'exists (and 1 more)' in err and (tmp_path / 'o' / 'im0.png').read_bytes() == first


def test_side_files_are_guarded_too(photos, tmp_path):
    "noise.json, a training run's files, a demo's report: checked before any work is done."
    own = mine(tmp_path / 'n' / 'noise.json')
    rc, err = run('noise', photos, tmp_path / 'n', '--quiet')
    assert rc == 2 and 'noise.json exists' in err and own.read_text() == 'the user wrote this'
    assert not (tmp_path / 'n' / 'noisy').exists()
    own = mine(tmp_path / 't' / 'config.json')
    rc, err = run('train', photos, '--out', tmp_path / 't', '--steps', 2, '--features', 8, '--depth', 2, '--quiet')
    assert rc == 2 and 'config.json exists' in err and own.read_text() == 'the user wrote this'
    assert sorted(p.name for p in (tmp_path / 't').iterdir()) == ['config.json']
    own = mine(tmp_path / 'd' / 'report.md')
    t = time.time()
    rc, err = run('demo', '--out', tmp_path / 'd', '--quiet')
    assert rc == 2 and 'report.md exists' in err and time.time() - t < 30 and own.read_text() == 'the user wrote this'


def test_inspect_figure_never_replaces_an_input_or_a_file(photos, tmp_path):
    before = (photos / 'im0.png').read_bytes()
    rc, err = run('inspect', photos, '--figure', photos / 'im0.png', '--quiet')
    assert rc == 2 and 'is one of the input images' in err and (photos / 'im0.png').read_bytes() == before
    rc, err = run('inspect', photos, '--figure', photos / 'im0.png', '--quiet', '--overwrite')
    assert rc == 2 and (photos / 'im0.png').read_bytes() == before                 # an input, even with --overwrite
    own = mine(tmp_path / 'fig.png')
    rc, err = run('inspect', photos, '--figure', own, '--quiet')
    assert rc == 2 and 'fig.png exists' in err and own.read_text() == 'the user wrote this'
    assert run('inspect', photos, '--figure', own, '--quiet', '--overwrite')[0] == 0
    assert read_image(own).ndim == 3


@pytest.mark.skipif(os.name != 'posix', reason='signals')
def test_a_stopped_run_removes_only_its_own_files(photos, tmp_path):
    "Stopped after another run wrote into the same new output folder: the other's file and the folder stay."
    out = tmp_path / 'shared'
    p = subprocess.Popen([N2N, 'denoise', 'zs-n2n', str(photos), '--steps', '100000', '--out', str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 120
    while not out.exists() and time.time() < deadline and p.poll() is None: time.sleep(0.05)
    assert out.exists(), 'the output folder was never made'
    theirs = mine(out / 'other_run' / 'result.png', 'a finished image of another run')
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert theirs.read_text() == 'a finished image of another run'
    assert sorted(str(q.relative_to(out)) for q in out.rglob('*')) == ['other_run', 'other_run/result.png']
