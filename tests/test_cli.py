"""The installed `n2n` console script, run as a user would: exit codes, one-line errors, no tracebacks."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

N2N = [str(Path(sys.executable).parent / 'n2n')]  # the console script installed beside this Python

def run(*args, timeout=120):
    return subprocess.run(N2N + list(args), capture_output=True, text=True, timeout=timeout)

def test_help_lists_commands():
    r = run('--help')
    assert r.returncode == 0 and 'demo' in r.stdout

def test_demo_help():
    r = run('demo', '--help')
    assert r.returncode == 0 and '--seconds' in r.stdout and '--out' in r.stdout

@pytest.mark.parametrize('args,msg', [
    (['nonsense'], "unknown command 'nonsense'"),
    (['demo', '--seconds', '-1', '--quiet'], 'seconds must be > 0'),
    (['demo', '--steps', '0', '--quiet'], 'steps must be >= 1'),
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
