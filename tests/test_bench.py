"""`n2n bench` runs every method on a tiny configuration, the article's VAE included, and `--throughput` prints its table."""
import subprocess, sys
from pathlib import Path
from n2n.bench import METHODS, read_results

N2N = str(Path(sys.executable).parent / 'n2n')

def test_bench_runs_every_method_on_a_tiny_configuration(tmp_path):
    r = subprocess.run([N2N, 'bench', '--datasets', 'embedded', '--methods', ','.join(METHODS), '--n-images', '1', '--crop', '48',
                        '--train-steps', '4', '--batch-size', '2', '--train-crop', '32', '--features', '8', '--depth', '2',
                        '--vae-seconds', '6', '--zs-steps', '5', '--out', str(tmp_path), '--quiet'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = {row['method']: row for row in read_results(tmp_path / 'results.csv')}
    assert set(rows) == set(METHODS), set(METHODS) - set(rows)
    assert all(row['psnr'] > 0 and row['images'] == 1 for row in rows.values())
    assert rows['bm3d']['psnr'] > rows['noisy']['psnr'] + 3                 # BM3D is in the table, and works
    assert rows['vae']['train_steps'] > 0 and (tmp_path / 'models' / 'vae-gaussian-25-embedded-3ch.pt').exists()
    assert 'vae' in (tmp_path / 'results.md').read_text()
    for m in ('n2v', 'nb2nb', 'r2r', 'sure'):                                 # trained on noisy images only, at the test level
        assert rows[m]['train_steps'] == 4 and (tmp_path / 'models' / f'{m}-gaussian-25-embedded-3ch.pt').exists(), m

def test_bench_throughput_table(tmp_path):
    from n2n.bench import throughput_table
    md = throughput_table(precisions=('fp32', 'bf16'), layouts=(True,), threads=(1,), compile_rows=False, log=lambda s: None,
                          size=32, batch=2, infer_shape=(64, 64), steps=1, warmup=1)
    lines = md.splitlines()
    assert len(lines) == 4 and lines[2].startswith('| fp32 | channels-last | 1 |') and lines[3].startswith('| bf16 |')
    assert all(float(l.split('|')[5]) > 0 for l in lines[2:])             # train MPix/s measured
