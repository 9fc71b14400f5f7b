"""The course labs: the committed student versions are exactly what `n2n labs` makes from the solved labs now (no
solution left, no "solved" wording, every self-check kept and printing its success line, `.notest` beside them), the
command works as a user runs it, and every self-check fails for the typical wrong answers in `lab_wrong_answers.py`
with a message that names the mistake, passes the solved answer and other right answers, and tests its own exercise
only."""
import functools, json, re, subprocess, sys
from pathlib import Path
import pytest
from n2n.labs import (check_labs, check_student, student_notebook, make_student_labs, lab_exercises, CheckRunner,
                      CODE_STUB, SELF_CHECK)
sys.path.insert(0, str(Path(__file__).parent))
from lab_wrong_answers import LABS as WRONG

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


def test_student_versions_say_nothing_of_solutions_and_every_check_prints_its_line():
    for p in sorted((LABS / 'student').glob('*.ipynb')):
        student = json.loads(p.read_text())
        src = '\n'.join(''.join(c['source']) for c in student['cells'])
        assert not re.search(r'\bsolved\b|\bsolutions?\b', src, re.I), f'{p.name}: "solved" or "solution" left'
        assert '.ipynb' not in src, f'{p.name}: the student version names a notebook file'
        for e in lab_exercises(json.loads((LABS / p.name).read_text()), p.name):
            check = ''.join(student['cells'][e['check']]['source'])
            assert check.startswith(SELF_CHECK), f'{p.name}: exercise {e["n"]} lost its check'
            last = check.rstrip().split('\n')[-1]
            assert last.startswith(f'print("Exercise {e["n"]}: all checks passed'), \
                f'{p.name}, exercise {e["n"]}: the check ends with {last!r}'


@functools.lru_cache(maxsize=None)
def runner(lab): return CheckRunner(LABS / lab, WRONG[lab]['setup'])

def _cases(kind):
    out = []
    for lab, spec in WRONG.items():
        if kind == 'wrong':
            out += [(lab, ex, {ex: a}, label, want) for ex, lst in spec['wrong'].items() for label, a, want in lst]
        elif kind == 'right':
            out += [(lab, ex, {ex: a}, label, None) for ex, lst in spec.get('right', {}).items() for label, a in lst]
        else: out += [(lab, ex, answers, label, want) for ex, label, answers, want in spec['cascade']]
    slug = lambda label: re.sub(r'[^a-z0-9]+', '_', label.lower()).strip('_')[:50]
    return [pytest.param(*c, id=f"{c[0][:2]}-ex{c[1]}-{slug(c[3])}") for c in out]


def test_the_table_covers_every_exercise_with_wrong_answers_and_every_lab_with_a_cascade():
    assert sorted(WRONG) == sorted(p.name for p in LABS.glob('*.ipynb'))
    for lab, spec in WRONG.items():
        n = len(lab_exercises(json.loads((LABS / lab).read_text()), lab))
        assert sorted(spec['wrong']) == list(range(1, n + 1)), f'{lab}: wrong answers for {sorted(spec["wrong"])}'
        assert all(len(v) >= 4 for v in spec['wrong'].values()), f'{lab}: fewer than 4 wrong answers for an exercise'
        assert all(want for v in spec['wrong'].values() for *_, want in v), f'{lab}: a wrong answer without its words'
        assert spec['cascade'], f'{lab}: no cascade case'
        assert all(max(a) < ex for ex, _, a, _ in spec['cascade']), f'{lab}: a cascade case changes its own exercise'


@pytest.mark.parametrize('lab,ex', [(lab, e['n']) for lab in sorted(WRONG)
                                    for e in lab_exercises(json.loads((LABS / lab).read_text()), lab)])
def test_the_solved_answer_passes_its_check(lab, ex):
    r = runner(lab).run(ex)
    assert r.passed, f'{lab} exercise {ex}: the solved answer fails its own check: {r.error}: {r.message}'
    assert f'Exercise {ex}: all checks passed' in r.output, r.output


@pytest.mark.parametrize('lab,ex,answers,label,want', _cases('wrong'))
def test_a_wrong_answer_fails_with_a_message_that_names_it(lab, ex, answers, label, want):
    r = runner(lab).run(ex, answers)
    assert not r.passed, f'{lab} exercise {ex}: the check passes the wrong answer "{label}"'
    assert r.error == 'AssertionError', f'{lab} exercise {ex}, "{label}": the check crashed with {r.error}: {r.message}'
    assert want in r.message, f'{lab} exercise {ex}, "{label}": the message does not say {want!r}: {r.message}'
    assert 'all checks passed' not in r.output


@pytest.mark.parametrize('lab,ex,answers,label,want', _cases('right'))
def test_another_right_answer_passes(lab, ex, answers, label, want):
    r = runner(lab).run(ex, answers)
    assert r.passed and f'Exercise {ex}: all checks passed' in r.output, f'{lab} {ex} "{label}": {r.error}: {r.message}'


@pytest.mark.parametrize('lab,ex,answers,label,want', _cases('cascade'))
def test_an_earlier_wrong_exercise_is_named_or_does_not_matter(lab, ex, answers, label, want):
    r = runner(lab).run(ex, answers)
    if want is None:
        assert r.passed, f'{lab} exercise {ex} with {label}: the check of the solved exercise fails: {r.message}'
    else:
        assert r.error == 'AssertionError' and want in r.message, f'{lab} ex. {ex} with {label}: {r.error}: {r.message}'
        earlier = re.search(r'fix exercise (\d+) first', r.message)
        assert earlier and int(earlier.group(1)) in answers and int(earlier.group(1)) < ex, r.message
