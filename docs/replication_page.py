"""Write docs/replication.md from the benchmark folders under docs/replication/ (and docs/bench_no_clean for ZS-N2N),
plus the noise2self camera card computed here (about 2 minutes on a 2-core CPU).

    python docs/replication_page.py
"""
import datetime, platform, os
from pathlib import Path
import torch
from n2n.replication import replication_page, camera_calibration

COMMANDS = """# classic cards (whole images, every image of the set; the training settings only key the folder to the learned runs)
N2N_DATA=DATA n2n bench --datasets BSD68 --noises gaussian:25 --methods noisy,bm3d --n-images 0 --crop 0 \\
    --train-steps 600 --zs-steps 500 --out docs/replication/bsd68-whole
N2N_DATA=DATA n2n bench --datasets Kodak24 --noises gaussian:25 --methods noisy,bm3d --n-images 0 --crop 0 \\
    --train-steps 600 --zs-steps 500 --out docs/replication/kodak24-whole
# learned cards: the models trained by the issue-11 benchmark (600 steps each), evaluated on the whole sets
N2N_DATA=DATA n2n bench --datasets Kodak24,CBSD68,BSD68 --noises gaussian:25,poisson:30 \\
    --methods noisy,n2c,n2n,n2v,nb2nb,r2r,sure,zs-n2n,bm3d,nlmeans --n-images 3 --crop 256 --train-steps 600 --zs-steps 500 --out docs/bench_no_clean
cp docs/bench_no_clean/models/{n2n,n2c,nb2nb}-gaussian*CBSD432-3ch.pt docs/replication/kodak24-whole/models/
cp docs/bench_no_clean/models/n2v-gaussian-25-Train400-1ch.pt docs/replication/bsd68-whole/models/
N2N_DATA=DATA n2n bench --datasets Kodak24 --noises gaussian:25 --methods noisy,bm3d,n2n,n2c,nb2nb --n-images 0 --crop 0 \\
    --train-steps 600 --zs-steps 500 --out docs/replication/kodak24-whole
N2N_DATA=DATA n2n bench --datasets BSD68 --noises gaussian:25 --methods noisy,bm3d,n2v --n-images 0 --crop 0 \\
    --train-steps 600 --zs-steps 500 --out docs/replication/bsd68-whole
# the camera card and this page
python docs/replication_page.py"""

if __name__ == '__main__':
    root = Path(__file__).parent / 'replication'
    cam = camera_calibration()
    date = (f"{datetime.date.today().isoformat()}, {platform.machine()} ({os.cpu_count()} CPUs), torch {torch.__version__}, "
            "no GPU")
    page = replication_page(root, camera=cam, commands=COMMANDS, date=date)
    (Path(__file__).parent / 'replication.md').write_text(page)
    print(page)
