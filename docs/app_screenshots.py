"""Screenshots of every tab of `n2n app`, as a browser shows them: docs/app_<tab>.png.

    python docs/app_screenshots.py [--out docs] [--chromium /usr/bin/chromium]

Serves the app with `n2n.app.serve_app` on a free port of 127.0.0.1, opens each tab in headless Chromium (driven by
Playwright, with the system's Chromium), waits until the tab's explorer has drawn, and saves a full-page screenshot;
the Train tab is shot while training, after its first denoised preview (step 100).
"""
import argparse, re
from pathlib import Path
from playwright.sync_api import sync_playwright
from n2n.app import serve_app
from n2n.widgets import APP_TABS

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('--out', default='docs')
ap.add_argument('--chromium', default='/usr/bin/chromium')
a = ap.parse_args()
MARKERS = {'Noise': 'pair correlation', 'Losses': 'laplacian =', 'Frequency bands': 'kept energy',
           'Entropy weights': 'effective channels', 'Compare': 'SSIM', 'Train': 'ready:'}
out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
with serve_app(size=256) as url, sync_playwright() as pw:
    browser = pw.chromium.launch(executable_path=a.chromium, args=['--no-sandbox', '--disable-gpu', '--disable-background-networking'])
    page = browser.new_page(viewport={'width': 1500, 'height': 1000})
    page.goto(url, timeout=180_000)
    for i, tab in enumerate(APP_TABS):
        page.get_by_text(tab, exact=True).first.click()
        # each explorer writes a read-out once drawn (the latent tabs first train a small VAE); innerText skips hidden tabs
        page.wait_for_function("m => document.body.innerText.includes(m)", arg=MARKERS[tab], timeout=300_000)
        if tab == 'Train':   # show the dashboard while it trains: Start, wait for the first denoised preview, then Stop
            page.get_by_role('button', name='Start').click()
            page.wait_for_function("() => document.body.innerText.includes('denoised at step 100')", timeout=600_000)
        page.wait_for_timeout(1500)
        path = out / f"app_{re.sub(r'[^a-z]+', '_', tab.lower()).strip('_')}.png"
        page.screenshot(path=str(path), full_page=True)
        print('wrote', path)
        if tab == 'Train': page.get_by_role('button', name='Stop').click()
    browser.close()
