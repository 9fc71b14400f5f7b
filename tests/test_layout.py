"""The library's layout: no import circles inside `n2n`, and nothing below the command line imports it."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / 'n2n'


def import_graph(pkg=PKG) -> dict:
    "Module name → names of the `n2n` modules it imports (at the top or inside functions), for the package folder `pkg`."
    mods = {p.stem: p for p in Path(pkg).glob('*.py') if p.stem not in ('_modidx', '__init__')}
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text(encoding='utf-8'))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.level == 1: names = [node.module]
                elif node.module.startswith('n2n.'): names = [node.module[4:]]
                elif node.module == 'n2n': names = [a.name for a in node.names]
            elif isinstance(node, ast.Import): names = [a.name[4:] for a in node.names if a.name.startswith('n2n.')]
            graph[m] |= {n.split('.')[0] for n in names if n.split('.')[0] in mods and n.split('.')[0] != m}
    return graph


def cycles(graph: dict) -> list:
    "The strongly connected components of more than one module (Tarjan's algorithm)."
    index, low, stack, on, found = {}, {}, [], set(), []
    def visit(v):
        index[v] = low[v] = len(index); stack.append(v); on.add(v)
        for w in graph[v]:
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: found.append(sorted(comp))
    for v in graph:
        if v not in index: visit(v)
    return found


def test_cycles_are_found():
    test = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert cycles(test) == [['a', 'b', 'c']]
    assert cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_only_the_entry_points_import_the_cli():
    users = sorted(m for m, deps in import_graph().items() if 'cli' in deps)
    assert users == [], f"library modules import n2n.cli: {users}"
