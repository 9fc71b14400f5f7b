"""Numbers of the code's layout (issue: one run layer, one home per concept): export-cell sizes, cells holding several
definitions, long lines in the library, import circles. Run from the repository root: `python docs/code_stats.py [REV]`
(REV: a git revision to measure instead of the working tree)."""
import ast, json, statistics, subprocess, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))
from test_layout import cycles, import_graph  # noqa: E402


def tree(rev=None) -> Path:
    if rev is None: return Path('.')
    d = Path(tempfile.mkdtemp())
    subprocess.run(f"git archive {rev} nbs n2n | tar x -C {d}", shell=True, check=True)
    return d


def export_cells(root: Path) -> list:
    cells = []
    for nb in sorted((root / 'nbs').glob('*.ipynb')):
        for c in json.loads(nb.read_text(encoding='utf-8'))['cells']:
            s = ''.join(c['source'])
            if c['cell_type'] == 'code' and s.lstrip().startswith('#| export'): cells.append(s)
    return cells


def definitions(src: str) -> int:
    try: body = ast.parse(src).body
    except SyntaxError: return 0
    n = 0
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): n += 1
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
                isinstance(t, ast.Name) and not t.id.startswith('_') for t in getattr(node, 'targets', [getattr(node, 'target', None)])):
            n += 1
    return n


def stats(root: Path) -> dict:
    cells = export_cells(root)
    lines = [len([l for l in c.splitlines()[1:] if l.strip()]) for c in cells]
    several = sum(definitions('\n'.join(c.splitlines()[1:])) > 1 for c in cells)
    long = sum(sum(len(l) > 120 for l in p.read_text(encoding='utf-8').splitlines())
               for p in (root / 'n2n').glob('*.py') if p.name != '_modidx.py')
    return dict(export_cells=len(cells), median_lines=statistics.median(lines), several_definitions=several,
                several_pct=round(100 * several / len(cells), 1), long_lines=long, import_circles=cycles(import_graph(root / 'n2n')))


if __name__ == '__main__':
    for k, v in stats(tree(sys.argv[1] if len(sys.argv) > 1 else None)).items(): print(f"{k}: {v}")
