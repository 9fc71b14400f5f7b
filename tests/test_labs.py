"""The course labs: the committed student versions are exactly what `n2n labs` makes from the solved labs now (no solution
left, every self-check kept, `.notest` beside them), and the command works as a user runs it."""
import json, subprocess, sys
from pathlib import Path
from n2n.labs import check_labs, check_student, student_notebook, make_student_labs, CODE_STUB, SELF_CHECK

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / 'nbs' / 'labs'
N2N = str(Path(sys.executable).parent / 'n2n')


def test_at_least_six_labs_with_exercises_and_self_checks():
    labs = sorted(LABS.glob('*.ipynb'))
    assert len(labs) >= 6, labs
    for p in labs:
        nb = json.loads(p.read_text())
        _, removed = student_notebook(nb, p.name)
        checks = [c for c in nb['cells'] if c['cell_type'] == 'code' and ''.join(c['source']).lstrip().startswith(SELF_CHECK)]
        assert len(removed) >= 3 and len(checks) >= 3, f'{p.name}: {len(removed)} exercises, {len(checks)} self-checks'
        assert any('Goals' in ''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown'), f'{p.name}: no goals'
        for c in checks:   # every assert in a self-check carries a message for the student
            src = ''.join(c['source'])
            for line in src.splitlines():
                if line.strip().startswith('assert '): assert ',' in line, f'{p.name}: assert without a message: {line.strip()}'


def test_committed_student_versions_are_current():
    assert check_labs(LABS) == [], 'run `n2n labs` and commit nbs/labs/student/'
    for p in sorted((LABS / 'student').glob('*.ipynb')):
        solved, student = json.loads((LABS / p.name).read_text()), json.loads(p.read_text())
        assert check_student(solved, student, p.name) == []
        assert CODE_STUB[0] in p.read_text()
    assert (LABS / 'student' / '.notest').exists()


def test_labs_command(tmp_path):
    r = subprocess.run([N2N, 'labs', '--src', str(LABS), '--out', str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.glob('*.ipynb')) == sorted(p.name for p in LABS.glob('*.ipynb'))
    (tmp_path / sorted(tmp_path.glob('*.ipynb'))[0].name).write_text('{"cells": []}')
    r = subprocess.run([N2N, 'labs', '--src', str(LABS), '--out', str(tmp_path), '--check'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and 'stale' in r.stderr and 'Traceback' not in r.stderr
