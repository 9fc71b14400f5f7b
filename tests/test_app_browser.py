"""End to end: `n2n app` serves the explorers with Voilà on 127.0.0.1; a real Chromium, driven by Playwright, moves a dropdown
and a slider the way a user does, and the test checks that the pictures (their pixels) and the read-outs changed.

Chromium comes from the system (`/usr/bin/chromium`, Debian's package; another path via N2N_CHROMIUM); Playwright's own browser
download is not used. Without Chromium the test is skipped on a workstation, and fails under CI (CI=true), where `.ci/run`
installs it. N2N_SCREENSHOT=path also saves a full-page screenshot of the first view there (`docs/app_screenshots.py` makes one of every tab).
"""
import io, os, re, shutil, signal, socket, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest

N2N = str(Path(sys.executable).parent / 'n2n')
CHROMIUM = os.environ.get('N2N_CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage',
        '--disable-component-update', '--disable-sync', '--no-first-run']


def _need(ok: bool, why: str):
    if ok: return
    if os.environ.get('CI'): pytest.fail(f"{why} (CI must run the browser test: .ci/run installs Chromium and Playwright)")
    pytest.skip(why)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def _port_open(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5): return True
    except OSError: return False


@pytest.fixture
def app_server(tmp_path):
    "`n2n app` on a free port; yields (url, port); the server's whole process group is stopped afterwards, pass or fail."
    port = _free_port()
    log = open(tmp_path / 'app.log', 'w')
    proc = subprocess.Popen([N2N, 'app', '--port', str(port), '--size', '256'], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        t0 = time.time()
        while not _port_open(port):
            if proc.poll() is not None: pytest.fail(f"n2n app exited with {proc.returncode}: {(tmp_path / 'app.log').read_text()[-2000:]}")
            if time.time() - t0 > 180: pytest.fail('n2n app did not answer within 180 s')
            time.sleep(0.25)
        yield f'http://127.0.0.1:{port}/', port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try: proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL); proc.wait(5)
        log.close()
        assert not _port_open(port), 'the app server still listens after the test'


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert('RGB')).astype(float)


def _number(text: str, label: str) -> float:
    m = re.search(label + r'\s*([-+]?[0-9.]+)', text)
    assert m, f'no {label!r} in read-out {text!r}'
    return float(m.group(1))


def test_app_in_browser(app_server, tmp_path):
    _need(Path(CHROMIUM).exists(), f'no Chromium at {CHROMIUM}')
    try: from playwright.sync_api import sync_playwright
    except ImportError: _need(False, 'playwright is not installed (pip install -e ".[dev]")')
    url, port = app_server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={'width': 1500, 'height': 1100})
            page.goto(url, timeout=180_000)
            noise = page.locator('.n2n-readout').first
            noise.wait_for(timeout=180_000)
            page.wait_for_function("() => document.querySelector('.n2n-readout').innerText.includes('PSNR')", timeout=120_000)
            panel = page.locator('.n2n-panel-noisy-A img').first
            text0, png0 = noise.inner_text(), panel.screenshot()
            assert abs(_number(text0, 'PSNR') - 20.2) < 1.5, text0            # Gaussian σ = 25 on astronaut
            if os.environ.get('N2N_SCREENSHOT'): page.screenshot(path=os.environ['N2N_SCREENSHOT'], full_page=True)

            # a dropdown: the noise model
            t = time.perf_counter()
            page.locator('.n2n-control-noise select').first.select_option('salt_pepper')
            page.wait_for_function("t => document.querySelector('.n2n-readout').innerText !== t", arg=text0, timeout=60_000)
            rt = {'noise model dropdown': time.perf_counter() - t}
            page.wait_for_selector('.n2n-param-p', timeout=60_000)
            text1, png1 = noise.inner_text(), panel.screenshot()
            d01 = np.abs(_pixels(png1) - _pixels(png0)).mean()
            assert d01 > 3, f'the noisy picture did not change with the model (mean |Δ| = {d01:.2f})'
            p1 = _number(text1, 'PSNR')

            # a slider, with the keyboard: salt-and-pepper p from 0.05 up to its maximum (0.5)
            handle = page.locator('.n2n-param-p .noUi-handle').first
            handle.focus(); t = time.perf_counter(); page.keyboard.press('End')
            page.wait_for_function("t => document.querySelector('.n2n-readout').innerText !== t", arg=text1, timeout=60_000)
            rt['p slider (keyboard)'] = time.perf_counter() - t
            text2, png2 = noise.inner_text(), panel.screenshot()
            p2 = _number(text2, 'PSNR')
            assert p2 < p1 - 5, f'more salt and pepper should lower PSNR: {p1} → {p2}'
            assert np.abs(_pixels(png2) - _pixels(png1)).mean() > 10
            frac_extreme = ((_pixels(png2).min(-1) > 250) | (_pixels(png2).max(-1) < 5)).mean()
            assert 0.35 < frac_extreme < 0.7, f'about half the pixels should be salt or pepper at p = 0.5, got {frac_extreme:.2f}'

            # another tab, built when opened: the loss explorer, and its γ slider
            page.get_by_text('Losses', exact=True).first.click()
            loss = page.locator('.n2n-readout').nth(1)
            loss.wait_for(timeout=120_000)
            page.wait_for_function("() => document.querySelectorAll('.n2n-readout')[1].innerText.includes('laplacian')", timeout=60_000)
            lmap = page.locator('.n2n-panel-loss-map img').first
            t3, m3 = loss.inner_text(), lmap.screenshot()
            g = page.locator('.n2n-control-gamma .noUi-handle').first
            g.focus(); t = time.perf_counter(); page.keyboard.press('Home')   # γ → 0.1: small errors weigh much more
            page.wait_for_function("t => document.querySelectorAll('.n2n-readout')[1].innerText !== t", arg=t3, timeout=60_000)
            rt['γ slider (keyboard)'] = time.perf_counter() - t
            print('browser round trips (input → read-out changed):', ', '.join(f'{k} {1000 * v:.0f} ms' for k, v in rt.items()))
            t4, m4 = loss.inner_text(), lmap.screenshot()
            assert _number(t4, 'laplacian =') > _number(t3, 'laplacian =')
            assert np.abs(_pixels(m4) - _pixels(m3)).mean() > 1, 'the loss map did not change with γ'

            # the training dashboard: Start trains in a background thread of the kernel, the page follows; Stop ends it cleanly
            page.get_by_text('Train', exact=True).first.click()
            start = page.get_by_role('button', name='Start')
            start.wait_for(timeout=120_000)
            start.click()
            page.wait_for_function("() => /step [1-9][0-9]*/.test(document.body.innerText)", timeout=180_000)
            page.wait_for_function("() => document.body.innerText.includes('training loss:')", timeout=60_000)   # the curve's first points
            page.get_by_role('button', name='Stop').click()
            page.wait_for_function("() => document.body.innerText.includes('stopped at step')", timeout=120_000)
            status = page.inner_text('body')
            step = int(re.search(r'stopped at step (\d+) of 1000', status).group(1))
            assert 10 <= step < 1000 and 'checkpoint' in status
            page.screenshot(path=str(tmp_path / 'app.png'), full_page=True)
            assert 'Traceback' not in page.inner_text('body')
        finally:
            browser.close()
