"""Typical wrong answers to the exercises of the course labs, and what each exercise's self-check must say about them.

`LABS[lab]` has `setup` (pieces of text naming the cells to run before the exercises: data, no training, no figures),
`wrong` ({exercise: [(mistake, answer, words the check's message must contain)]}, each answer replacing that exercise's
solution) and `cascade` ([(exercise, what is wrong, {exercise: answer}, words, or None when the check must pass)]): an
earlier exercise wrong, the later one solved. `tests/test_labs.py` runs every entry with `n2n.labs.CheckRunner`."""
from n2n.labs import STUB

LABS = {}

LABS['01_noise_models.ipynb'] = dict(
    setup=['import os, math', "clean = image_to_tensor(embedded_image('astronaut'))"],
    wrong={
        1: [('the standard deviation instead of the variance', '''
                d = sample(clean.expand(n, *clean.shape), generator)
                return d.mean(0), d.std(0)''', 'that is the standard deviation'),
            ('the spread around the clean image, not around the sample mean', '''
                d = sample(clean.expand(n, *clean.shape), generator)
                return d.mean(0), ((d - clean) ** 2).mean(0)''', 'distance to the CLEAN image'),
            ('the biased variance (divides by n)', '''
                d = sample(clean.expand(n, *clean.shape), generator)
                return d.mean(0), d.var(0, unbiased=False)''', 'divides by n − 1'),
            ('mean and variance swapped', '''
                d = sample(clean.expand(n, *clean.shape), generator)
                return d.var(0), d.mean(0)''', 'did you return (variance, mean)'),
            ('one noisy image repeated n times', '''
                d = sample(clean, generator).expand(n, *clean.shape)
                return d.mean(0), d.var(0)''', 'called with the shapes'),
            ('a loop of n single draws, not one batched call', '''
                d = torch.stack([sample(clean, generator) for _ in range(n)])
                return d.mean(0), d.var(0)''', 'in ONE call'),
            ('reduced over every value, not over the draws', '''
                d = sample(clean.expand(n, *clean.shape), generator)
                return d.mean(), d.var()''', 'reduce over the draws (dimension 0) only'),
            ('a fixed number of draws instead of n', '''
                d = sample(clean.expand(1000, *clean.shape), generator)
                return d.mean(0), d.var(0)''', 'called with the shapes')],
        2: [('Gaussian noise of variance x/λ instead of photon counts', '''
                return clean + (clean.clamp_min(0) / lam).sqrt() * torch.randn(clean.shape, generator=generator)''',
             'whole numbers of photons'),
            ('counts not divided by λ', '''
                return torch.poisson(lam * clean.clamp_min(0), generator=generator)''', 'divide the counts by λ'),
            ('clean not multiplied by λ', '''
                return torch.poisson(clean.clamp_min(0), generator=generator) / lam''', 'multiply x by λ'),
            ('no clamp: fails on negative pixel values', '''
                return torch.poisson(lam * clean, generator=generator) / lam''', 'clamp x at 0'),
            ('|x| instead of clamping at 0', '''
                return torch.poisson(lam * clean.abs(), generator=generator) / lam''', 'receives no photons'),
            ('generator ignored', '''
                return torch.poisson(lam * clean.clamp_min(0)) / lam''', 'draw from the `generator` argument'),
            ('NumPy instead of torch', '''
                return np.random.default_rng(0).poisson(lam * clean.clamp_min(0).numpy()) / lam''',
                'expected a torch tensor')],
        3: [('correlation of the images, not of the residuals', '''
                ra, rb = a.flatten().double(), b.flatten().double()
                ra, rb = ra - ra.mean(), rb - rb.mean()
                return float((ra * rb).sum() / (ra.norm() * rb.norm()))''', 'not the images themselves'),
            ('cosine similarity: residual means not subtracted', '''
                ra, rb = (a - center).flatten().double(), (b - center).flatten().double()
                return float((ra * rb).sum() / (ra.norm() * rb.norm()))''', 'Pearson, not cosine similarity'),
            ('covariance, not normalised', '''
                ra, rb = (a - center).flatten().double(), (b - center).flatten().double()
                return float(((ra - ra.mean()) * (rb - rb.mean())).mean())''', 'must give 1'),
            ('a mean divided by .std() products (N against N − 1)', '''
                ra, rb = (a - center).flatten().double(), (b - center).flatten().double()
                return float(((ra - ra.mean()) * (rb - rb.mean())).mean() / (ra.std() * rb.std()))''',
             'which divides by N − 1'),
            ('center subtracted from a only', '''
                ra, rb = (a - center).flatten().double(), b.flatten().double()
                ra, rb = ra - ra.mean(), rb - rb.mean()
                return float((ra * rb).sum() / (ra.norm() * rb.norm()))''', 'subtract `center` from both'),
            ('a tensor instead of a float', '''
                ra, rb = (a - center).flatten().double(), (b - center).flatten().double()
                ra, rb = ra - ra.mean(), rb - rb.mean()
                return (ra * rb).sum() / (ra.norm() * rb.norm())''', 'return a Python float')],
        4: [('E[y] instead of the bias', '''
                return empirical_moments(sample, clean, n, generator)[0]''', 'that is E[y]; return E[y] − clean'),
            ('clean − E[y]: the wrong sign', '''
                return clean - empirical_moments(sample, clean, n, generator)[0]''', 'the bias is E[y] − clean'),
            ('one draw instead of the mean of n', '''
                return sample(clean, generator) - clean''', 'average n draws'),
            ('a fixed number of draws', '''
                return empirical_moments(sample, clean, 100, generator)[0] - clean''', 'use the n draws you are given'),
            ('one number for the whole image', '''
                return (empirical_moments(sample, clean, n, generator)[0] - clean).mean()''', 'shaped like clean')],
        5: [('forgot √2', 'return float((a - b).std() * 255)', 'divide the standard deviation of a − b by √2'),
            ('divided by 2 instead of √2', 'return float((a - b).std() / 2 * 255)', 'not by 2'),
            ('forgot the 8-bit units', 'return float((a - b).std() / math.sqrt(2))', 'multiply by 255'),
            ('a variance', 'return float((a - b).var() / 2 * 255 ** 2)', 'looks like a variance'),
            ('the spread of one image', 'return float(a.std() * 255)', 'use a − b'),
            ('a tensor instead of a float', 'return (a - b).std() / math.sqrt(2) * 255', 'return a Python float')],
    },
    right={1: [('repeat instead of expand, torch.var with unbiased=True', '''
                   d = sample(clean.repeat(n, 1, 1, 1), generator)
                   return d.mean(dim=0), torch.var(d, dim=0, unbiased=True)''')],
           2: [('torch.where instead of clamp', '''
                   rates = torch.where(clean > 0, clean, torch.zeros_like(clean)) * lam
                   return torch.poisson(rates, generator=generator) / lam''')],
           3: [('torch.corrcoef', '''
                   r = torch.stack([(a - center).flatten(), (b - center).flatten()]).double()
                   return torch.corrcoef(r)[0, 1].item()''')],
           4: [('without empirical_moments', '''
                   return sample(clean.expand(n, *clean.shape), generator).mean(0) - clean''')],
           5: [('from the variance', 'return math.sqrt(((a - b) ** 2).mean().item() / 2) * 255')]},
    cascade=[(4, 'exercise 1 returns the standard deviation', {1: '''
                  d = sample(clean.expand(n, *clean.shape), generator)
                  return d.mean(0), d.std(0)'''}, None),        # bias_map only needs the mean: it passes
             (4, 'exercise 1 reduces over every value', {1: '''
                  d = sample(clean.expand(n, *clean.shape), generator)
                  return d.mean(), d.var()'''}, 'fix exercise 1 first'),
             (4, 'exercise 1 not done yet', {1: STUB}, 'fix exercise 1 first')],
)

_FIT = '''
    z = torch.zeros(targets.shape[1:], requires_grad=True)
    for i in range(steps):
        objective = {objective}
        grad, = torch.autograd.grad(objective, z)
        with torch.no_grad(): z {update}
    return z{ret}'''
def _fit(objective='loss_fn(z, targets).mean(0).sum()', update='-= lr * (1 - i / steps) * grad', ret='.detach()'):
    return _FIT.format(objective=objective, update=update, ret=ret)

def _score(order='seed, model', unet='UNet(3, features=FEATURES, depth=3)', mode='mode', steps='steps',
           out='denoise(model, TEST_NOISY).clamp(0, 1)', ref='TEST_CLEAN', ret=None, cfg='cfg='):
    make = {'seed': 'seed_everything(seed)', 'model': f'model = {unet}'}
    return '\n'.join([make[k] for k in order.split(', ')] + [
        f"history = fit(model, make_dataset({mode}, seed), {cfg}FitConfig(steps={steps}, batch_size=8, device='cpu'), "
        "progress=False)",
        f'out = {out}', f'return {ret or f"psnr(out, {ref}).item()"}, history, model'])

LABS['02_noisy_targets.ipynb'] = dict(
    setup=['import os, math', 'def l2(z, t)', "clean = image_to_tensor(embedded_image('astronaut'))[:, 90:122",
           'K, p = 16, 0.5', 'TRAIN = list(embedded_images('],
    wrong={
        1: [('summed over the targets instead of averaged', _fit(objective='loss_fn(z, targets).sum()'), 'diverged'),
            ('a step up the gradient', _fit(update='+= lr * (1 - i / steps) * grad'), 'diverged'),
            ('a mean over the pixels too', _fit(objective='loss_fn(z, targets).mean()'), 'sum over the pixels'),
            ('loss_fn ignored (always L2)', _fit(objective='l2(z, targets).mean(0).sum()'), 'did you ignore loss_fn'),
            ('not detached', _fit(ret=''), 'detach z'),
            ('one number for an image of targets',
             _fit().replace('targets.shape[1:]', '()'),
             'for K images z is one image'),
            ('.backward() without zeroing the gradient', '''
                z = torch.zeros(targets.shape[1:], requires_grad=True)
                for i in range(steps):
                    loss_fn(z, targets).mean(0).sum().backward()
                    with torch.no_grad(): z -= lr * (1 - i / steps) * z.grad
                return z.detach()''', 'z.grad')],
        2: [('PSNR against a noisy target', '''
                targets = noise.sample(clean.expand(k, *clean.shape), generator)
                return psnr(fit_to_targets(targets, l2), targets[0]).item()''', 'not a noisy target'),
            ('one noisy target repeated k times', '''
                targets = noise.sample(clean, generator).expand(k, *clean.shape)
                return psnr(fit_to_targets(targets, l2), clean).item()''', 'no better than one target'),
            ('clamped', '''
                targets = noise.sample(clean.expand(k, *clean.shape), generator)
                return psnr(fit_to_targets(targets, l2).clamp(0, 1), clean).item()''', 'if you clamped the fit'),
            ('fitted with L1', '''
                targets = noise.sample(clean.expand(k, *clean.shape), generator)
                return psnr(fit_to_targets(targets, l1), clean).item()''', 'that is the L1 fit'),
            ('k draws one by one, each with a new generator of the same seed', '''
                targets = torch.stack([noise.sample(clean, make_generator(0)) for _ in range(k)])
                return psnr(fit_to_targets(targets, l2), clean).item()''', 'no better than one target'),
            ('a fixed K', '''
                targets = noise.sample(clean.expand(16, *clean.shape), generator)
                return psnr(fit_to_targets(targets, l2), clean).item()''', 'use k targets'),
            ('a generator of its own', '''
                targets = noise.sample(clean.expand(k, *clean.shape), make_generator(0))
                return psnr(fit_to_targets(targets, l2), clean).item()''', 'draw the targets from the `generator`'),
            ('a tensor instead of a float', '''
                targets = noise.sample(clean.expand(k, *clean.shape), generator)
                return psnr(fit_to_targets(targets, l2), clean)''', 'return a Python float')],
        3: [('the mask inverted', 'return ~keep * (z - targets) ** 2', 'not where it was dropped'),
            ('averaged', 'return (keep * (z - targets) ** 2).mean()', 'do not average it'),
            ('the target masked, not the loss', 'return (z - targets * keep) ** 2', 'the loss must be 0'),
            ('renormalised by the share of kept pixels', 'return keep * (z - targets) ** 2 / keep.float().mean()',
             'the plain squared error'),
            ('the absolute error', 'return keep * (z - targets).abs()', 'the plain squared error'),
            ('no mask at all', 'return (z - targets) ** 2', 'the loss must be 0')],
        4: [('mode ignored', "return NoisyPairs(TRAIN, NOISE, mode='n2n', crop=CROP, length=10_000, seed=seed)",
             'pass `mode` through'),
            ('no seed', 'return NoisyPairs(TRAIN, NOISE, mode=mode, crop=CROP, length=10_000)', 'pass seed=seed'),
            ('a fixed seed', 'return NoisyPairs(TRAIN, NOISE, mode=mode, crop=CROP, length=10_000, seed=0)',
             'not a fixed seed'),
            ('σ divided by 255 again',
             'return NoisyPairs(TRAIN, Gaussian(25 / 255), mode=mode, crop=CROP, length=10_000, seed=seed)',
             'already in 8-bit units'),
            ('σ drawn from [0, 50]', '''
                return NoisyPairs(TRAIN, Gaussian((0, 50)), mode=mode, crop=CROP, length=10_000, seed=seed)''',
             'use NOISE as it is'),
            ('default length',
             'return NoisyPairs(TRAIN, NOISE, mode=mode, crop=CROP, seed=seed)',
             'pass length=10_000'),
            ('a fixed crop size',
             'return NoisyPairs(TRAIN, NOISE, mode=mode, crop=64, length=10_000, seed=seed)',
             'crops'),
            ('one image only', 'return NoisyPairs(TRAIN[:1], NOISE, mode=mode, crop=CROP, length=10_000, seed=seed)',
             'pass TRAIN itself')],
        5: [('no clamp', _score(out='denoise(model, TEST_NOISY)'), 'clamp the denoised image'),
            ('PSNR against the noisy input', _score(ref='TEST_NOISY'), 'not TEST_NOISY'),
            ('denoised the clean image', _score(out='denoise(model, TEST_CLEAN).clamp(0, 1)'), 'denoise TEST_NOISY'),
            ('seeded after building the model', _score(order='model, seed'), 'before UNet(...)'),
            ('not seeded', _score(order='model'), 'before UNet(...)'),
            ('steps ignored', _score(steps='max(steps, 5)'), 'pass steps to FitConfig'),
            ('FitConfig passed third, where fit takes the objective', _score(cfg=''), 'cfg=FitConfig(...)'),
            ('mode ignored', _score(mode="'n2n'"), 'pass `mode` to make_dataset'),
            ('a tensor instead of a float', _score(ret='psnr(out, TEST_CLEAN)'), 'Python float'),
            ('the default U-Net', _score(unet='UNet(3)'), 'UNet(3, features=FEATURES, depth=3)')],
    },
    right={2: [('k draws one by one from the generator (the same numbers as one batched draw)', '''
                   targets = torch.stack([noise.sample(clean, generator) for _ in range(k)])
                   return float(psnr(fit_to_targets(targets, l2), clean))''')],
           3: [('torch.where', 'return torch.where(keep, (z - targets) ** 2, torch.zeros(()))'),
               ('the prediction masked too (the same loss: dropped targets are 0)',
                'return (z * keep - targets) ** 2')],
           5: [("the objective spelled out: fit(model, data, TargetLoss('l2'), FitConfig(...))",
                'from n2n.engine import TargetLoss\n' + _score(cfg="TargetLoss('l2'), "))]},
    cascade=[(5, 'exercise 4 ignores the mode',
              {4: "return NoisyPairs(TRAIN, NOISE, mode='n2n', crop=CROP, length=10_000, seed=seed)"},
              'fix exercise 4 first'),
             (5, 'exercise 4 not done yet', {4: STUB}, 'fix exercise 4 first'),
             (2, 'exercise 1 sums over the targets (diverges)', {1: _fit(objective='loss_fn(z, targets).sum()')},
              'fix exercise 1 first'),
             (2, 'exercise 1 not done yet', {1: STUB}, 'fix exercise 1 first')],
)

_VAE_LOOP = '''
    seed_everything(seed)
    model = small_vae()
    dataset = NoisyPairs(TRAIN, Gaussian(0), mode='n2c', crop=32, length=100_000, seed=seed)
    batches = iter(torch.utils.data.DataLoader(dataset, batch_size={bs}))
    opt, crit = torch.optim.Adam(model.parameters(), lr={lr}), VAELoss({loss})
    history = []
    for _ in range(steps):
        {take}
        loss = crit(model(x), target)
        {update}
        history.append({record})
    {final}
    return model, history'''
def _vae(bs=8, lr=2e-3, loss="'l2', kl_weight=kl_weight", update='opt.zero_grad(); loss.backward(); opt.step()',
         record='crit.parts', final='model.eval()', first='seed_everything(seed)',
         take="batch = next(batches)\n        x, target = batch['input'], batch['target']"):
    return _VAE_LOOP.format(bs=bs, lr=lr, loss=loss, update=update, record=record, final=final, take=take).replace(
        'seed_everything(seed)', first)

_MC = '''
    m, lv = mu.expand(n, *mu.shape), logvar.expand(n, *logvar.shape)
    z = my_reparameterize(m, lv, generator)
    log_q = -0.5 * (math.log(2 * math.pi) + {lq})
    log_p = -0.5 * (math.log(2 * math.pi) + z ** 2)
    return ({diff}).mean(0)'''
def _mc(lq='lv + (z - m) ** 2 / lv.exp()', diff='log_q - log_p'): return _MC.format(lq=lq, diff=diff)

LABS['03_vae_kl.ipynb'] = dict(
    setup=['import os, math', 'TRAIN = list(embedded_images('],
    wrong={
        1: [('σ² used as σ',
             'return mu + logvar.exp() * torch.randn(mu.shape, generator=generator)',
             'which is σ²'),
            ('logvar used as σ',
             'return mu + logvar * torch.randn(mu.shape, generator=generator)',
             'logvar itself as σ'),
            ('no ε', 'return mu + torch.exp(0.5 * logvar)', 'no randomness'),
            ('torch.normal: no gradient to σ', '''
                return torch.normal(mu, torch.exp(0.5 * logvar), generator=generator)''',
                'torch.normal passes no gradient'),
            ('torch.distributions .sample(): no gradient', '''
                return torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample()''', 'cuts the graph'),
            ('rsample: the generator is ignored', '''
                return torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).rsample()''',
                'from the `generator` argument'),
            ('randn_like: the generator is ignored', '''
                return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)''', 'from the `generator` argument'),
            ('σ from a detached logvar', '''
                return mu + torch.exp(0.5 * logvar.detach()) * torch.randn(mu.shape, generator=generator)''',
             'inside the graph'),
            ('μ detached', '''
                return mu.detach() + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)''',
             '∂z/∂μ')],
        2: [('summed', 'return (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).sum()', 'do not sum'),
            ('no ½', 'return mu ** 2 + logvar.exp() - 1 - logvar', 'the factor ½'),
            ('no −1', 'return 0.5 * (mu ** 2 + logvar.exp() - logvar)', 'the constant term'),
            ('+ log σ²', 'return 0.5 * (mu ** 2 + logvar.exp() - 1 + logvar)', 'log σ² is subtracted'),
            ('σ instead of σ²',
             'return 0.5 * (mu ** 2 + torch.exp(0.5 * logvar) - 1 - logvar)',
             'σ² is exp(logvar)'),
            ('μ instead of μ²', 'return 0.5 * (mu + logvar.exp() - 1 - logvar)', 'square μ')],
        3: [('log p − log q', _mc(diff='log_p - log_q'), 'not the other way round'),
            ('no −½ log σ² in log q', _mc(lq='(z - m) ** 2 / lv.exp()'), 'more than 5 standard errors'),
            ('σ instead of σ² under (z − μ)²',
             _mc(lq='lv + (z - m) ** 2 / (0.5 * lv).exp()'),
             'more than 5 standard errors'),
            ('the closed form instead of sampling', 'return kl_closed_form(mu, logvar)', 'not with the closed form'),
            ('one sample, not n', '''
                z = my_reparameterize(mu, logvar, generator)
                log_q = -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp())
                return (log_q + 0.5 * (math.log(2 * math.pi) + z ** 2)).mean(0)''', 'dimension 0) only'),
            ('a generator of its own',
             _mc().replace('generator)', 'make_generator(0))'),
             'two generators gave the same')],
        4: [('no model.eval()', _vae(final='pass'), 'model.eval()'),
            ('kl_weight not passed (the default 0.01)', _vae(loss="'l2'"), 'pass kl_weight'),
            ('the article loss, not l2', _vae(loss='kl_weight=kl_weight'), "should be 'l2'"),
            ('no opt.zero_grad()', _vae(update='loss.backward(); opt.step()'), 'zero_grad'),
            ('no opt.step()', _vae(update='opt.zero_grad(); loss.backward()'), 'call opt.step()'),
            ('the loss recorded, not crit.parts', _vae(record='loss.item()'), 'should hold crit.parts'),
            ('the wrong learning rate', _vae(lr=1e-3), 'lr=2e-3'),
            ('the wrong batch size', _vae(bs=16), 'batch_size=8'),
            ('not seeded', _vae(first='pass'), 'seed everything'),
            ('the dict batch unpacked like a tuple (gives its keys)', _vae(take='x, target = next(batches)'),
             "batch['input'], batch['target']")],
        5: [('summed over the positions', '''
                return int((kl_closed_form(mu, logvar).sum((0, 2, 3)) > threshold).sum())''', 'sum over the positions'),
            ('counted elements, not channels', 'return int((kl_closed_form(mu, logvar) > threshold).sum())',
             'count channels'),
            ('averaged over the channels', '''
                return int((kl_closed_form(mu, logvar).mean((0, 1)) > threshold).sum())''', 'count channels'),
            ('μ only, σ ignored', 'return int(((0.5 * mu ** 2).mean((0, 2, 3)) > threshold).sum())', 'σ ≠ 1'),
            ('threshold ignored', 'return int((kl_closed_form(mu, logvar).mean((0, 2, 3)) > 0.05).sum())',
             'use the `threshold` argument'),
            ('a tensor instead of an int', 'return (kl_closed_form(mu, logvar).mean((0, 2, 3)) > threshold).sum()',
             'Python int')],
    },
    right={1: [('sqrt of σ²', 'return mu + logvar.exp().sqrt() * torch.randn(mu.shape, generator=generator)')],
           3: [('log-densities written out differently', '''
                   z = my_reparameterize(mu.expand(n, *mu.shape), logvar.expand(n, *mu.shape), generator)
                   return (-0.5 * logvar - (z - mu) ** 2 / (2 * logvar.exp()) + z ** 2 / 2).mean(0)''')],
           4: [('torch.manual_seed instead of seed_everything', _vae(first='torch.manual_seed(seed)')),
               ('zero_grad after the step', _vae(update='loss.backward(); opt.step(); opt.zero_grad()'))]},
    cascade=[(3, 'exercise 1 uses σ² as σ',
              {1: 'return mu + logvar.exp() * torch.randn(mu.shape, generator=generator)'},
              'fix exercise 1 first'),
             (3, 'exercise 1 not done yet', {1: STUB}, 'fix exercise 1 first'),
             (5, 'exercise 2 forgets the ½', {2: 'return mu ** 2 + logvar.exp() - 1 - logvar'},
              'fix exercise 2 first')],
)

def _gl(mse='(pred - target).pow(2).mean()', ent='(-p * p.log()).mean()', p='pred.clamp(eps, 1.0)', w='entropy_weight'):
    return f'p = {p}\nreturn {mse} + {w} * {ent}'

_GM = '''
    gx = torch.zeros_like(x); gx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    gy = torch.zeros_like(x); gy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    return (gx ** 2 + gy ** 2 + eps ** 2).sqrt() - eps'''

def _ll(d='((pred - target) ** 2 + eps ** 2).sqrt() - eps', s='my_box_filter(d, kernel)',
        err='(s + eps) ** gamma - eps ** gamma',
        w='(1 + edge_weight * my_gradient_magnitude(pred, eps))', red='mean'):
    return f'd = {d}\ns = {s}\nerr = {err}\nreturn (err * {w}).{red}()'

LABS['04_losses.ipynb'] = dict(
    setup=['import math, os', 'clean_value, p = 0.2, 0.75'],
    wrong={
        1: [('the index instead of the value', '''
                values = torch.stack([loss(z.expand_as(draws), draws) for z in zs])
                return int(values.argmin())''', 'Python float'),
            ('the largest loss', '''
                values = torch.stack([loss(z.expand_as(draws), draws) for z in zs])
                return zs[values.argmax()].item()''', 'SMALLEST loss'),
            ('the smallest loss value, not its z', '''
                return torch.stack([loss(z.expand_as(draws), draws) for z in zs]).min().item()''', 'SMALLEST loss'),
            ('always L2', '''
                values = torch.stack([l2_loss(z.expand_as(draws), draws) for z in zs])
                return zs[values.argmin()].item()''', 'do you call the `loss` you are given'),
            ('a tensor instead of a float', '''
                values = torch.stack([loss(z.expand_as(draws), draws) for z in zs])
                return zs[values.argmin()]''', 'Python float')],
        2: [('the entropy term taken with .item(): no gradient', _gl(ent='(-p * p.log()).mean().item()'),
             'only the MSE term passes a gradient'),
            ('the entropy term detached',
             _gl(ent='(-p * p.log()).mean().detach()'),
             'only the MSE term passes a gradient'),
            ('the entropy of the target', _gl(p='target.clamp(eps, 1.0)'), 'take the entropy of pred'),
            ('the entropy subtracted', _gl(ent='(p * p.log()).mean()'), 'the entropy term was subtracted'),
            ('sums instead of means', _gl(mse='(pred - target).pow(2).sum()', ent='(-p * p.log()).sum()'),
             'sums, not means'),
            ('no clamp: log 0', _gl(p='pred'), 'not finite'),
            ('clamped below only', _gl(p='pred.clamp_min(eps)'), 'both ends'),
            ('pred clamped in the MSE too', _gl(mse='(p - target).pow(2).mean()'), 'not for the MSE'),
            ('entropy_weight ignored', _gl(w='0.01'), 'entropy_weight=0'),
            ('log₂ instead of ln', _gl(ent='(-p * p.log2()).mean()'), 'use the natural log'),
            ('a Python float', 'p = pred.clamp(eps, 1.0)\n'
             'return float((pred - target).pow(2).mean() + entropy_weight * (-p * p.log()).mean())', '0-d tensor')],
        3: [('zero padding', ('''
                 r = kernel // 2
                 return F.avg_pool2d(x, kernel, stride=1, padding=r)''', None), 'replicate padding'),
            ('a window that shrinks at the border', ('''
                 r = kernel // 2
                 return F.avg_pool2d(x, kernel, stride=1, padding=r, count_include_pad=False)''', None),
                 'replicate padding'),
            ('reflect padding', ('''
                 r = kernel // 2
                 return F.avg_pool2d(F.pad(x, (r, r, r, r), mode='reflect'), kernel, stride=1)''', None),
                 'replicate padding'),
            ('no padding', ('return F.avg_pool2d(x, kernel, stride=1)', None), 'pad by kernel//2 on every side'),
            ('kernel ignored', ('return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)', None),
             'use the `kernel` argument'),
            ('central differences', (None, '''
                 gx = torch.zeros_like(x); gx[..., :, 1:-1] = (x[..., :, 2:] - x[..., :, :-2]) / 2
                 gy = torch.zeros_like(x); gy[..., 1:-1, :] = (x[..., 2:, :] - x[..., :-2, :]) / 2
                 return (gx ** 2 + gy ** 2 + eps ** 2).sqrt() - eps'''), 'FORWARD differences'),
            ('backward differences', (None, '''
                 gx = torch.zeros_like(x); gx[..., :, 1:] = x[..., :, 1:] - x[..., :, :-1]
                 gy = torch.zeros_like(x); gy[..., 1:, :] = x[..., 1:, :] - x[..., :-1, :]
                 return (gx ** 2 + gy ** 2 + eps ** 2).sqrt() - eps'''), 'FORWARD differences'),
            ('wrap-around differences (torch.roll)', (None, '''
                 gx, gy = x.roll(-1, -1) - x, x.roll(-1, -2) - x
                 return (gx ** 2 + gy ** 2 + eps ** 2).sqrt() - eps'''), 'last row/column'),
            ('|gx| + |gy|', (None, _GM.replace('(gx ** 2 + gy ** 2 + eps ** 2).sqrt() - eps', 'gx.abs() + gy.abs()')),
             'one square root of the sum of squares'),
            ('eps not subtracted',
             (None, _GM.replace('.sqrt() - eps', '.sqrt()')),
             'subtract eps after the square root')],
        4: [('the power before the box filter',
             _ll(s='my_box_filter((d + eps) ** gamma - eps ** gamma, kernel)', err='s'),
             'you raised d to the power first'),
            ('the edge weight from the target', _ll(w='(1 + edge_weight * my_gradient_magnitude(target, eps))'),
             'e is the gradient of pred'),
            ('eps**gamma not subtracted', _ll(err='(s + eps) ** gamma'), 'did you subtract eps**gamma'),
            ('edge_weight ignored', _ll(w='(1 + my_gradient_magnitude(pred, eps))'), 'use edge_weight'),
            ('a plain |error| instead of the smooth one', _ll(d='(pred - target).abs()'), 'not |pred − target|'),
            ('summed instead of averaged', _ll(red='sum'), 'expected 0.25 * (1 + 0.5) / 4'),
            ('no edge weight', _ll(w='1'), 'the weight is (1 + edge_weight * e)')],
        5: [('σ divided by 255 again', '''
                g = generator
                a = Gaussian(sigma=5 / 255).sample(clean, generator=g)
                return a, Impulse(p=0.02).sample(clean, generator=g)''',
             'does the division by 255 itself'),
            ('p = 0.2', '''
                g = generator
                return Gaussian(sigma=5).sample(clean, generator=g), Impulse(p=0.2).sample(clean, generator=g)''',
             'Impulse(p=0.02)'),
            ('salt and pepper instead of impulse', '''
                from n2n.noise import SaltPepper
                g = generator
                return Gaussian(sigma=5).sample(clean, generator=g), SaltPepper(0.02).sample(clean, generator=g)''',
             'salt-and-pepper'),
            ('generator ignored',
             'return Gaussian(sigma=5).sample(clean), Impulse(p=0.02).sample(clean)',
             'not reproducible'),
            ('b drawn from a, not from clean', '''
                a = Gaussian(sigma=5).sample(clean, generator=generator)
                return a, Impulse(p=0.02).sample(a, generator=generator)''', "of b's pixels differ")],
    },
    right={1: [('a loop and min', '''
                   return min(zs.tolist(), key=lambda z: loss(torch.full_like(draws, z), draws).item())''')],
           2: [('torch.xlogy-free, where-based entropy', '''
                   p = torch.where(pred > 1, torch.ones_like(pred), pred)
                   p = torch.where(p < eps, torch.full_like(p, eps), p)
                   return ((pred - target) ** 2).mean() - entropy_weight * (p * torch.log(p)).mean()''')],
           3: [('an explicit convolution with a box kernel', ('''
                   r, C = kernel // 2, x.shape[1]
                   w = torch.ones(C, 1, kernel, kernel) / kernel ** 2
                   return F.conv2d(F.pad(x, (r, r, r, r), mode='replicate'), w, groups=C)''', None))]},
    cascade=[(4, 'exercise 3 pads with zeros', {3: ('''
                  r = kernel // 2
                  return F.avg_pool2d(x, kernel, stride=1, padding=r)''', None)}, 'fix exercise 3 first'),
             (4, 'exercise 3 uses central differences', {3: (None, '''
                  gx = torch.zeros_like(x); gx[..., :, 1:-1] = (x[..., :, 2:] - x[..., :, :-2]) / 2
                  gy = torch.zeros_like(x); gy[..., 1:-1, :] = (x[..., 2:, :] - x[..., :-2, :]) / 2
                  return (gx ** 2 + gy ** 2 + eps ** 2).sqrt() - eps''')}, 'fix exercise 3 first'),
             (4, 'exercise 3 not done yet', {3: (STUB, STUB)}, 'fix exercise 3 first')],
)

_BOX = '''
    r = window // 2
    xp = F.pad(x, (r, r, r, r), mode={mode})
    m = F.avg_pool2d(xp, {w}, stride=1)
    return m, {var}'''
def _box(mode="'reflect'", w='window', var='(F.avg_pool2d(xp * xp, window, stride=1) - m * m).clamp_min(0)'):
    return _BOX.format(mode=mode, w=w, var=var)

_DISC = '''
    eps, s2 = (0.5 / 255) ** 2, {s2}
    m, v = box_local_stats(noisy - output, {window})
    d_mean = {d_mean}
    d_std = {d_std}
    return (d_mean + d_std) / (s2 + eps)'''
def _disc(s2='(sigma / 255) ** 2', window='window', d_mean='(m ** 2).mean()',
          d_std='((v + eps).sqrt() - math.sqrt(s2 + eps)).pow(2).mean()'):
    return _DISC.format(s2=s2, window=window, d_mean=d_mean, d_std=d_std)

def _alpha(z='-beta * H', shift='z - z.max(dim=-1, keepdim=True).values', norm='e.sum(dim=-1, keepdim=True)'):
    return f'z = {z}\nz = {shift}\ne = z.exp()\nreturn e / {norm}'

def _control(off='{2: dict(adjust_weight=0.0), 3: dict(beta=0.0)}[stage]', model='copy.deepcopy(model)',
             cfg='dataclasses.replace(cfg, **off)', rest='val=val, stages=(stage,), progress=False'):
    return f'off = {off}\nreturn fit_article({model}, images, {cfg}, {rest})'

LABS['05_three_stages.ipynb'] = dict(
    setup=['import copy, dataclasses, math, os'],
    wrong={
        1: [('zero padding', _box(mode="'constant'"), "mode='reflect'"),
            ('replicate padding', _box(mode="'replicate'"), "mode='reflect'"),
            ('the standard deviation',
             _box(var='(F.avg_pool2d(xp * xp, window, stride=1) - m * m).clamp_min(0).sqrt()'),
             'not the std'),
            ('an n/(n − 1) correction',
             _box(var='(F.avg_pool2d(xp * xp, window, stride=1) - m * m).clamp_min(0) * 49 / 48'),
             'not an n/(n−1) correction'),
            ('no clamp', _box(var='F.avg_pool2d(xp * xp, window, stride=1) - m * m'), 'clamp it at 0'),
            ('window ignored', _box(w='7', var='(F.avg_pool2d(xp * xp, 7, stride=1) - m * m).clamp_min(0)').replace(
                'r = window // 2', 'r = 3'), 'set the box size'),
            ('no padding', '''
                m = F.avg_pool2d(x, window, stride=1)
                return m, (F.avg_pool2d(x * x, window, stride=1) - m * m).clamp_min(0)''',
             'pad by window//2')],
        2: [('σ not divided by 255', _disc(s2='sigma ** 2'), 'σ = sigma/255'),
            ('variances compared, not standard deviations', _disc(d_std='(v - s2).pow(2).mean()'), 'not variances'),
            ('no ε under the square roots', _disc(d_std='(v.sqrt() - math.sqrt(s2)).pow(2).mean()'), 'add ε'),
            ('no local-mean term', _disc(d_mean='0'), 'include the local-mean term'),
            ('window ignored', _disc(window='7'), 'pass `window`')],
        3: [('+β·H: the wrong sign', _alpha(z='beta * H'), 'minus sign'),
            ('no shift: NaN for a large β', _alpha(shift='z'), 'subtract the row maximum'),
            ('shifted by the minimum', _alpha(shift='z - z.min(dim=-1, keepdim=True).values'), 'gives NaN'),
            ('shifted by the global maximum', _alpha(shift='z - z.max()'), 'gives NaN'),
            ('normalised over every value', _alpha(norm='e.sum()'), 'must sum to 1'),
            ('normalised over the first axis',
             _alpha(shift='z - z.max(dim=0, keepdim=True).values', norm='e.sum(dim=0, keepdim=True)'),
             'must sum to 1'),
            ('no keepdim', _alpha(norm='e.sum(dim=-1)'), 'keepdim=True')],
        4: [('the model itself trained, not a copy', _control(model='model'), 'train a copy'),
            ('cfg changed in place', '''
                if stage == 2: cfg.adjust_weight = 0.0
                else: cfg.beta = 0.0
                return fit_article(copy.deepcopy(model), images, cfg, val=val, stages=(stage,), progress=False)''',
             'dataclasses.replace'),
            ('the ingredients swapped', _control(off='{3: dict(adjust_weight=0.0), 2: dict(beta=0.0)}[stage]'),
             'set adjust_weight=0'),
            ('both ingredients off in both controls',
             _control(off='dict(adjust_weight=0.0, beta=0.0)'),
             'keep adjust_weight'),
            ('all three stages run', _control(rest='val=val, progress=False'), 'run only stage'),
            ('no val', _control(rest='stages=(stage,), progress=False'), 'pass val=val'),
            ('fewer epochs', _control(cfg='dataclasses.replace(cfg, adjust_epochs=1, entropy_epochs=1, **off)'),
             'keep the other settings of cfg'),
            ('the history only, not the result', _control() + "['history']", 'return the result of fit_article')]},
    right={3: [('torch.softmax (the lab asks for exp; the values are right)',
                'return torch.softmax(-beta * H, dim=-1)')],
           4: [('copy.deepcopy of cfg, then fields set', '''
                   c = copy.deepcopy(cfg)
                   if stage == 2: c.adjust_weight = 0.0
                   else: c.beta = 0.0
                   return fit_article(copy.deepcopy(model), images, c, val=val, stages=(stage,),
                                      progress=False)''')]},
    cascade=[(2, 'exercise 1 pads with zeros', {1: _box(mode="'constant'")}, 'fix exercise 1 first'),
             (2, 'exercise 1 not done yet', {1: STUB}, 'fix exercise 1 first'),
             (2, 'exercise 1 forgets the clamp (harmless here: D only takes square roots of v + ε)',
              {1: _box(var='F.avg_pool2d(xp * xp, window, stride=1) - m * m')}, None)],
)

_BENCH = '''
    rows, outputs = [], {{}}
    for name, fn in methods.items():
        scores, outputs[name] = [], []
        for _, noisy, clean in pairs:
            t = time.perf_counter()
            out = fn(noisy)
            {timing}
            out = {clip}
            outputs[name].append(out)
            scores.append(dict(psnr=psnr(out, clean).item(), ssim=ssim(out, {ssim_ref}).item(),
                               nldr={nldr}.item(), seconds=dt))
        rows.append({{'method': name, **{{k: {agg} for k in ('psnr', 'ssim', 'nldr', 'seconds')}}}})
    return rows, outputs'''
def _bench(timing='dt = time.perf_counter() - t', clip='out.clamp(0, 1)', ssim_ref='clean',
           nldr='nldr(noisy.clamp(0, 1), out)',
           agg='sum(s[k] for s in scores) / len(scores)'):
    src = _BENCH.format(timing=timing, clip=clip, ssim_ref=ssim_ref, nldr=nldr, agg=agg)
    if timing == 'late':                         # the clock read after the scoring
        src = src.replace('            late\n', '').replace('seconds=dt))', 'seconds=time.perf_counter() - t))')
    return src

def _sweep(gen='make_generator(seed + i)', call='method(noisy, s)', clip='.clamp(0, 1)', agg='sum(vals) / len(vals)'):
    return f'''
    out = []
    for s in sigmas:
        vals = []
        for i, c in enumerate(cleans):
            noisy = Gaussian(s).sample(c, generator={gen})
            vals.append(psnr({call}{clip}, c).item())
        out.append({agg})
    return out'''

def _blur(src='noisy', clip='.clamp(0, 1)', ref='clean', nl='nldr(noisy.clamp(0, 1), out)'):
    return f'''
    psnrs, nldrs = [], []
    for w in widths:
        out = gaussian_blur({src}, w){clip}
        psnrs.append(psnr(out, {ref}).item())
        nldrs.append({nl}.item())
    return psnrs, nldrs'''

def _n2n(first='torch.manual_seed(seed)', unet='UNet(3, features=features, depth=4, residual=True)', images='images',
         noise='Gaussian(sigma=(0, 50))', mode="'n2n'", crop=48, ds_seed='seed', steps='steps', cfg_seed='seed',
         cfg='cfg='):
    return f'''
    {first}
    model = {unet}
    ds = NoisyPairs({images}, {noise}, mode={mode}, crop={crop}, length=10_000, seed={ds_seed})
    hist = fit(model, ds, {cfg}FitConfig(steps={steps}, batch_size=8, seed={cfg_seed}), progress=False)
    return model, hist'''

LABS['06_benchmark.ipynb'] = dict(
    setup=['import math, os, time'],
    wrong={
        1: [('no clipping', _bench(clip='out'), 'clip the output to [0, 1]'),
            ('the scoring timed too', _bench(timing='late'), 'time only the call'),
            ('NLDR arguments swapped', _bench(nldr='nldr(out, noisy.clamp(0, 1))'), 'in that order'),
            ('NLDR against the clean image', _bench(nldr='nldr(clean, out)'), 'nldr(noisy clipped, output clipped)'),
            ('NLDR on the unclipped noisy image',
             _bench(nldr='nldr(noisy, out)'),
             'nldr(noisy clipped, output clipped)'),
            ('SSIM against the noisy image', _bench(ssim_ref='noisy'), 'ssim(clipped output, clean)'),
            ('sums instead of means', _bench(agg='sum(s[k] for s in scores)'), 'average the per-image'),
            ('the last image only', _bench(agg='scores[-1][k]'), 'mean of the per-image'),
            ('tensors instead of floats', _bench().replace('psnr=psnr(out, clean).item()', 'psnr=psnr(out, clean)'),
             'Python floats')],
        2: [('clean targets', _n2n(mode="'n2c'"), "mode='n2n'"),
            ('a fixed σ of 25', _n2n(noise='Gaussian(sigma=25)'), 'Gaussian(sigma=(0, 50))'),
            ('σ range in [0, 1] units', _n2n(noise='Gaussian(sigma=(0, 50 / 255))'), 'Gaussian(sigma=(0, 50))'),
            ('not residual', _n2n(unet='UNet(3, features=features, depth=4)'), 'residual=True'),
            ('the default depth', _n2n(unet='UNet(3, features=features, residual=True)'), 'depth=4'),
            ('features ignored', _n2n(unet='UNet(3, features=32, depth=4, residual=True)'), 'features=features'),
            ('steps ignored', _n2n(steps='max(steps, 5)'), 'pass steps to FitConfig'),
            ('FitConfig passed third, where fit takes the objective', _n2n(cfg=''), 'cfg=FitConfig(...)'),
            ('the wrong crop size', _n2n(crop=32), 'crops of 48 pixels'),
            ('dataset not seeded', _n2n(ds_seed='None'), 'not with `seed`'),
            ('not seeded at all', _n2n(first='pass', ds_seed='None', cfg_seed='int(time.time() * 1e6) % 1000'),
             'not with `seed`'),
            ('the first image only', _n2n(images='images[:1]'), 'passed as `images`')],
        3: [('one generator for all images',
             _sweep(gen='g').replace('    out = []',
             '    out, g = [], make_generator(seed)'),
             'a fresh generator per image'),
            ('the seed ignored', _sweep(gen='make_generator(i)'), 'generator=make_generator(seed + i)'),
            ('a fixed σ for the method', _sweep(call='method(noisy, 25)'), 'not a fixed one'),
            ('no clipping', _sweep(clip=''), 'clip the output to [0, 1] before psnr'),
            ('sums instead of means', _sweep(agg='sum(vals)'), 'do not sum')],
        4: [('the factor ignored', '''
                den = lambda s: classic_denoise(noisy, method, sigma=s).clamp(0, 1)
                return [psnr(den(true_sigma), clean).item() for f in factors]''',
             'multiplied by the factor'),
            ('the factor used as σ', '''
                return [psnr(classic_denoise(noisy, method, sigma=f).clamp(0, 1), clean).item() for f in factors]''',
             'sigma=f * true_sigma'),
            ('σ in [0, 1] units', '''
                den = lambda s: classic_denoise(noisy, method, sigma=s).clamp(0, 1)
                return [psnr(den(f * true_sigma / 255), clean).item() for f in factors]''',
             '8-bit units'),
            ('PSNR against the noisy image', '''
                den = lambda s: classic_denoise(noisy, method, sigma=s).clamp(0, 1)
                return [psnr(den(f * true_sigma), noisy).item() for f in factors]''',
             'against clean, not against the noisy input')],
        5: [('NLDR against the clean image', _blur(nl='nldr(clean, out)'), 'against the noisy image'),
            ('NLDR arguments swapped', _blur(nl='nldr(out, noisy.clamp(0, 1))'), 'in that order'),
            ('the clean image blurred', _blur(src='clean'), 'psnr(gaussian_blur(noisy, w) clipped, clean)'),
            ('no clipping', _blur(clip=''), 'psnr(gaussian_blur(noisy, w) clipped, clean)'),
            ('PSNR against the noisy image', _blur(ref='noisy'), 'psnr(gaussian_blur(noisy, w) clipped, clean)')]},
    right={1: [('scores collected per metric', '''
                   rows, outputs = [], {}
                   for name, fn in methods.items():
                       outs, ps, ss, ns, ts = [], [], [], [], []
                       for _, noisy, clean in pairs:
                           t0 = time.perf_counter(); o = fn(noisy); ts.append(time.perf_counter() - t0)
                           o = o.clamp(0, 1); outs.append(o)
                           ps.append(float(psnr(o, clean))); ss.append(float(ssim(o, clean)))
                           ns.append(float(nldr(noisy.clamp(0, 1), o)))
                       outputs[name] = outs
                       mean = lambda v: sum(v) / len(v)
                       rows.append(dict(method=name, psnr=mean(ps), ssim=mean(ss), nldr=mean(ns), seconds=mean(ts)))
                   return rows, outputs''')],
           2: [("the objective spelled out: fit(model, ds, TargetLoss('l2'), FitConfig(...))",
                _n2n(first='from n2n.engine import TargetLoss\n    torch.manual_seed(seed)',
                     cfg="TargetLoss('l2'), "))]},
    cascade=[(2, 'exercise 1 not done yet (the checks of this lab use no earlier exercise)', {1: STUB}, None),
             (4, 'exercises 1 and 3 wrong', {1: _bench(clip='out'), 3: _sweep(clip='')}, None),
             (5, 'exercises 1 to 4 not done yet', {1: STUB, 2: STUB, 3: STUB, 4: STUB}, None)],
)

_MASK = '''
    B, _, H, W = shape
    gh, gw = H // {c}, W // {c}
    dy = torch.randint(0, {hi}, {dshape}, generator={gen}){expand}
    dx = torch.randint(0, {hi}, {dshape}, generator={gen}){expand}
    ys = torch.arange(gh).view(1, gh, 1) * {c} + dy
    xs = torch.arange(gw).view(1, 1, gw) * {c} + dx
    b = torch.arange(B).view(B, 1, 1).expand_as(ys)
    mask = torch.zeros(B, 1, H, W, dtype={dtype})
    mask[b, 0, ys, xs] = True
    return mask'''
def _mask(c='cell', hi='cell', dshape='(B, gh, gw)', gen='generator', expand='', dtype='torch.bool'):
    return _MASK.format(c=c, hi=hi, dshape=dshape, gen=gen, expand=expand, dtype=dtype)

_REPLACE = '''
    B, C, H, W = x.shape
    size = 2 * {rad} + 1
    k = torch.randint(0, size * size{minus}, {kshape}, generator={gen})
    {skip}
    dy, dx = k // size - {rad}, k % size - {rad}
    iy, ix = torch.arange(H).view(1, 1, H, 1), torch.arange(W).view(1, 1, 1, W)
    yy, xx = iy + dy, ix + dx
    {border}
    b, c = torch.arange(B).view(B, 1, 1, 1), torch.arange(C).view(1, C, 1, 1)
    return {ret}'''
def _replace(rad='radius', minus=' - 1', kshape='(B, 1, H, W)', gen='generator',
             skip='k = k + (k >= size * size // 2).long()',
             border='yy = torch.where((yy < 0) | (yy >= H), iy - dy, yy); xx = torch.where((xx < 0) | (xx >= W), ix - dx, xx)',
             ret='torch.where(mask, x[b, c, yy, xx], x)'):
    return _REPLACE.format(rad=rad, minus=minus, kshape=kshape, gen=gen, skip=skip, border=border, ret=ret)

_JINV = '''
    out, filled = torch.{empty}(noisy), neighbour_mean(noisy)
    H, W = noisy.shape[-2:]
    for i in range({s}):
        for j in range({s}):
            m = torch.zeros(H, W, dtype=torch.bool)
            m[i::{s}, j::{s}] = True
            {keep}
    return out'''
def _jinv(s='stride', hidden='torch.where(m, filled, noisy)', keep='out[:, m] = fn({hidden})[:, m]', empty='empty_like'):
    return _JINV.format(s=s, keep=keep.format(hidden=hidden), empty=empty)
_JINV_REPLICATE = '''
    ring = torch.ones(3, 3); ring[1, 1] = 0
    filled = F.conv2d(F.pad(noisy[None], (1, 1, 1, 1), mode='replicate'), (ring / 8).expand(noisy.shape[0], 1, 3, 3),
                      groups=noisy.shape[0])[0]
    out = torch.empty_like(noisy)
    H, W = noisy.shape[-2:]
    for i in range(stride):
        for j in range(stride):
            m = torch.zeros(H, W, dtype=torch.bool); m[i::stride, j::stride] = True
            out[:, m] = fn(torch.where(m, filled, noisy))[:, m]
    return out'''

_JINV_LIBRARY = '''
    from n2n.blindspot import replace_masked
    out = torch.empty_like(noisy)
    H, W = noisy.shape[-2:]
    for i in range(stride):
        for j in range(stride):
            m = torch.zeros(1, 1, H, W, dtype=torch.bool); m[..., i::stride, j::stride] = True
            out[:, m[0, 0]] = fn(replace_masked(noisy[None], m, 'mean')[0])[:, m[0, 0]]
    return out'''

_CURVES = '''
    out = {{'self': [], 'mse': [], 'jinv_self': [], 'jinv_mse': []}}
    for p in params:
        f = make(p)
        plain, blind = f(noisy), j_invariant(f, noisy, {stride})
        out['self'].append({self})
        out['mse'].append({mse})
        out['jinv_self'].append({js})
        out['jinv_mse'].append({jm})
    return out'''
def _curves(stride='stride', red='.mean().item()', self=None, mse=None, js=None, jm=None):
    e = lambda a, b: f'(({a} - {b}) ** 2){red}'
    return _CURVES.format(stride=stride, self=self or e('plain', 'noisy'), mse=mse or e('plain', 'clean'),
                          js=js or e('blind', 'noisy'), jm=jm or e('blind', 'clean'))

def _calib(loss='((j_invariant(make(p), noisy, stride) - noisy) ** 2).mean().item()', best='params[int(np.argmin(losses))]'):
    return f'losses = [{loss} for p in params]\nreturn {best}, losses'

def _est(out='j_invariant(fn, noisy, stride)', s2='(sigma / 255) ** 2', ret='10 * math.log10(1 / mse)'):
    return f'out = {out}\nmse = ((out - noisy) ** 2).mean().item() - {s2}\nreturn {ret}'

def _n2v(seed='seed_everything(seed)', unet='UNet(1, features=FEATURES, depth=2)', imgs='noisy_images', crop='CROP',
         dseed='seed', obj='BlindSpot(ratio=1 / 16, seed=seed), ', cfg="FitConfig(steps=steps, batch_size=8, device='cpu')",
         order='seed, model'):
    make = {'seed': seed, 'model': f'model = {unet}'}
    return '\n'.join([make[k] for k in order.split(', ')] + [
        f'data = NoisyCrops({imgs}, crop={crop}, length=10_000, seed={dseed})',
        f'history = fit(model, data, {obj}{cfg}, progress=False)', 'return model, history'])

LABS['07_no_pairs.ipynb'] = dict(
    setup=['import os, math', "clean = image_to_tensor(embedded_image('camera'))", 'RING = torch.tensor(', 'TRAIN_NOISY = '],
    wrong={
        1: [('a random choice per pixel instead of one per block',
             'return torch.rand(shape[0], 1, shape[2], shape[3], generator=generator) < 1 / cell ** 2',
             'exactly one masked pixel'),
            ('offsets drawn from 0 to cell − 2 (randint excludes its upper bound)', _mask(hi='cell - 1'), 'never chosen'),
            ('one position for all blocks of an image', _mask(dshape='(B, 1, 1)'), 'all blocks of an image use the same position'),
            ('one mask for the whole batch', _mask(dshape='(gh, gw)', expand='.expand(B, gh, gw)'), 'both images of the batch'),
            ('generator ignored', _mask(gen='None'), 'draw all randomness from `generator`'),
            ('cell ignored (always 8)', _mask(c='8', hi='8'), 'did you use the `cell` argument'),
            ('a float mask', _mask(dtype='torch.float32'), 'return a bool tensor'),
            ('one mask per channel', '''
                B, C, H, W = shape
                gh, gw = H // cell, W // cell
                dy = torch.randint(0, cell, (B, gh, gw), generator=generator)
                dx = torch.randint(0, cell, (B, gh, gw), generator=generator)
                ys = torch.arange(gh).view(1, gh, 1) * cell + dy
                xs = torch.arange(gw).view(1, 1, gw) * cell + dx
                b = torch.arange(B).view(B, 1, 1).expand_as(ys)
                mask = torch.zeros(B, C, H, W, dtype=torch.bool)
                mask[b, :, ys, xs] = True
                return mask''', 'one mask per image, shared by its channels')],
        2: [('the centre not left out', _replace(minus='', skip='pass'), 'leave out the offset (0, 0)'),
            ('coordinates clamped at the border instead of mirrored',
             _replace(border='yy, xx = yy.clamp(0, H - 1), xx.clamp(0, W - 1)'), 'mirror an offset that leaves the image'),
            ('reflect padding instead of mirrored offsets', '''
                B, C, H, W = x.shape
                size = 2 * radius + 1
                k = torch.randint(0, size * size - 1, (B, 1, H, W), generator=generator)
                k = k + (k >= size * size // 2).long()
                dy, dx = k // size - radius, k % size - radius
                xp = F.pad(x, (radius, radius, radius, radius), mode='reflect')
                iy, ix = torch.arange(H).view(1, 1, H, 1), torch.arange(W).view(1, 1, 1, W)
                b, c = torch.arange(B).view(B, 1, 1, 1), torch.arange(C).view(1, C, 1, 1)
                return torch.where(mask, xp[b, c, iy + dy + radius, ix + dx + radius], x)''',
             'mirror an offset that leaves the image'),
            ('wrapped around the image', _replace(border='yy, xx = yy % H, xx % W'), 'wrapped around the image'),
            ('a different neighbour per channel', _replace(kshape='(B, C, H, W)'), 'the channels of a pixel got different neighbours'),
            ('radius ignored: always the 8 nearest neighbours', _replace(rad='1'), 'only the 8 nearest neighbours'),
            ('radius ignored: always 5×5', _replace(rad='2'), 'use the `radius` argument'),
            ('every pixel replaced, not only the masked ones', _replace(ret='x[b, c, yy, xx]'), 'outside the mask must keep'),
            ('the mean of the neighbours instead of one of them', '''
                from n2n.blindspot import replace_masked
                return replace_masked(x, mask, 'mean')''', 'ONE pixel of x'),
            ('generator ignored', _replace(gen='None'), 'draw all randomness from `generator`'),
            ('x changed in place', _replace(ret='x').replace(
                '    return x', '    x[mask.expand_as(x)] = x[b, c, yy, xx][mask.expand_as(x)]\n    return x'), 'in place')],
        3: [('the plain denoiser', 'return fn(noisy)', 'that is the plain denoiser'),
            ('hidden pixels set to 0', _jinv(hidden='noisy * ~m'), 'set to 0'),
            ('only the diagonal offsets i == j', '''
                out, filled = torch.zeros_like(noisy), neighbour_mean(noisy)
                H, W = noisy.shape[-2:]
                for i in range(stride):
                    m = torch.zeros(H, W, dtype=torch.bool)
                    m[i::stride, i::stride] = True
                    out[:, m] = fn(torch.where(m, filled, noisy))[:, m]
                return out''', 'never filled'),
            ('stride ignored (always 4)', _jinv(s='4'), 'use the `stride` argument'),
            ("the last pass's whole output", _jinv(keep='out = fn({hidden})'), "keep fn's output only at the grid pixels"),
            ('a neighbour mean padded by replication', _JINV_REPLICATE, 'replicate padding'),
            ('a (1, H, W) mask: fails on colour images', '''
                out, filled = torch.empty_like(noisy), neighbour_mean(noisy)
                H, W = noisy.shape[-2:]
                for i in range(stride):
                    for j in range(stride):
                        m = torch.zeros(1, H, W, dtype=torch.bool)
                        m[:, i::stride, j::stride] = True
                        out[m] = fn(torch.where(m, filled, noisy))[m]
                return out''', 'colour'),
            ('noisy changed in place', _jinv(keep='noisy[:, m] = filled[:, m]; out[:, m] = fn(noisy)[:, m]'), 'in place')],
        4: [("'jinv_self' of the plain output", _curves(js='((plain - noisy) ** 2).mean().item()'), "the plain output's value"),
            ("'jinv_mse' of the plain output", _curves(jm='((plain - clean) ** 2).mean().item()'), "the plain output's value"),
            ('sums instead of means', _curves(red='.sum().item()'), 'not a sum'),
            ('root mean squared errors', _curves(red='.mean().sqrt().item()'), 'not its root'),
            ('σ² subtracted from the self-losses', _curves(self='((plain - noisy) ** 2).mean().item() - (SIGMA / 255) ** 2',
                                                           js='((blind - noisy) ** 2).mean().item() - (SIGMA / 255) ** 2'),
             'subtract nothing'),
            ('tensors instead of floats', _curves(red='.mean()'), 'Python floats'),
            ('stride ignored', _curves(stride='4'), 'pass `stride` on to j_invariant'),
            ("'mse' against noisy", _curves(mse='((plain - noisy) ** 2).mean().item()'), 'compares with clean')],
        5: [('the plain self-loss', _calib(loss='((make(p)(noisy) - noisy) ** 2).mean().item()'), 'that is the plain self-loss'),
            ('the largest loss', _calib(best='params[int(np.argmax(losses))]'), 'pick the SMALLEST loss'),
            ('the index instead of the parameter', _calib(best='int(np.argmin(losses))'), 'not its index'),
            ('stride ignored', _calib(loss='((j_invariant(make(p), noisy, 4) - noisy) ** 2).mean().item()'),
             'pass `stride` on to j_invariant'),
            ('tensors instead of floats', _calib(loss='((j_invariant(make(p), noisy, stride) - noisy) ** 2).mean()'),
             'Python floats')],
        6: [('σ² not subtracted', _est(s2='0'), 'the self-loss is the MSE PLUS σ²'),
            ('σ² in 8-bit units', _est(s2='sigma ** 2'), '[0, 1] units'),
            ('σ not squared', _est(s2='sigma / 255'), '(sigma / 255)²'),
            ('the plain output', _est(out='fn(noisy)'), "the plain output's self-loss"),
            ('PSNR on the 8-bit scale', _est(ret='10 * math.log10(255 ** 2 / mse)'), 'PSNR on the 8-bit scale'),
            ('20·log10 of the MSE', _est(ret='20 * math.log10(1 / mse)'), '20·log10 is for the root'),
            ('the MSE instead of the PSNR', _est(ret='mse'), 'not the MSE')],
        7: [('no objective: the default needs a target', _n2v(obj='', cfg="cfg=FitConfig(steps=steps, batch_size=8, device='cpu')"),
             'train with the blind-spot objective'),
            ('FitConfig passed third, where fit takes the objective', _n2v(obj=''), 'the third argument of fit is the objective'),
            ('not seeded', _n2v(seed='pass'), 'call seed_everything(seed) before UNet'),
            ('seeded after building the model', _n2v(order='model, seed'), 'call seed_everything(seed) before UNet'),
            ('steps ignored', _n2v(cfg="FitConfig(steps=STEPS, batch_size=8, device='cpu')"), 'pass steps to FitConfig'),
            ("BlindSpot's default ratio", _n2v(obj='BlindSpot(seed=seed), '), 'BlindSpot(ratio=1/16, seed=seed)'),
            ('the median replacement', _n2v(obj="BlindSpot(ratio=1 / 16, replace='median', seed=seed), "),
             'BlindSpot(ratio=1/16, seed=seed)'),
            ('objective not seeded', _n2v(obj='BlindSpot(ratio=1 / 16), '), 'the objective should be seeded'),
            ('dataset not seeded', _n2v(dseed='None'), 'pass seed=seed to NoisyCrops'),
            ('a residual U-Net', _n2v(unet='UNet(1, features=FEATURES, depth=2, residual=True)'),
             'UNet(1, features=FEATURES, depth=2)'),
            ('the first image only', _n2v(imgs='noisy_images[:1]'), 'passed as `noisy_images`'),
            ('a fixed crop size', _n2v(crop='64'), 'crop=CROP')]},
    right={1: [('argmax of random scores per block', '''
                   B, _, H, W = shape
                   r = torch.rand(B, H // cell, W // cell, cell * cell, generator=generator)
                   hot = F.one_hot(r.argmax(-1), cell * cell).bool()
                   return hot.view(B, H // cell, W // cell, cell, cell).permute(0, 1, 3, 2, 4).reshape(B, 1, H, W)'''),
               ('a loop over the blocks', '''
                   B, _, H, W = shape
                   mask = torch.zeros(B, 1, H, W, dtype=torch.bool)
                   for b in range(B):
                       for y0 in range(0, H, cell):
                           for x0 in range(0, W, cell):
                               k = int(torch.randint(cell * cell, (), generator=generator))
                               mask[b, 0, y0 + k // cell, x0 + k % cell] = True
                   return mask''')],
           2: [('a loop with rejection of the centre', '''
                   B, C, H, W = x.shape
                   out = x.clone()
                   for b, _, i, j in torch.nonzero(mask).tolist():
                       while True:
                           dy, dx = torch.randint(-radius, radius + 1, (2,), generator=generator).tolist()
                           if dy or dx: break
                       ii = i + dy if 0 <= i + dy < H else i - dy
                       jj = j + dx if 0 <= j + dx < W else j - dx
                       out[b, :, i, j] = x[b, :, ii, jj]
                   return out''')],
           3: [("the library's replacement (n2n.blindspot.replace_masked, reflect padding)", _JINV_LIBRARY),
               ('the grid mask as a float weight', '''
                   out, filled = torch.zeros_like(noisy), neighbour_mean(noisy)
                   for i in range(stride):
                       for j in range(stride):
                           w = torch.zeros(noisy.shape[-2:]); w[i::stride, j::stride] = 1.0
                           out = out + w * fn(w * filled + (1 - w) * noisy)
                   return out''')],
           5: [('min over (loss, index) pairs', '''
                   losses = [float(((j_invariant(make(p), noisy, stride) - noisy) ** 2).mean()) for p in params]
                   return params[min(range(len(params)), key=losses.__getitem__)], losses''')],
           6: [('via n2n.metrics.psnr of the J-invariant output against noisy, σ² added back', '''
                   out = j_invariant(fn, noisy, stride)
                   mse = 10 ** (-psnr(out, noisy).item() / 10) - (sigma / 255) ** 2
                   return -10 * math.log10(mse)''')],
           7: [("objective and settings by keyword; torch.manual_seed", '''
                   torch.manual_seed(seed)
                   model = UNet(1, features=FEATURES, depth=2)
                   history = fit(model, NoisyCrops(noisy_images, crop=CROP, length=10_000, seed=seed),
                                 objective=BlindSpot(ratio=1 / 16, seed=seed),
                                 cfg=FitConfig(steps=steps, batch_size=8, device='cpu'), progress=False)
                   return model, history''')]},
    cascade=[(4, 'exercise 3 returns the plain denoiser', {3: 'return fn(noisy)'}, 'fix exercise 3 first'),
             (4, 'exercise 3 not done yet', {3: STUB}, 'fix exercise 3 first'),
             (5, 'exercise 3 ignores stride', {3: _jinv(s='4')}, 'fix exercise 3 first'),
             (6, 'exercise 3 pads by replication', {3: _JINV_REPLICATE}, 'fix exercise 3 first'),
             (6, 'exercise 4 and 5 wrong (estimate_psnr uses neither)', {4: _curves(red='.sum().item()'),
                                                                        5: _calib(best='int(np.argmin(losses))')}, None),
             (3, 'exercises 1 and 2 not done yet (the blind spot of a network is not used here)', {1: STUB, 2: STUB}, None),
             (2, 'exercise 1 draws per pixel (the check of exercise 2 makes its own masks)',
              {1: 'return torch.rand(shape[0], 1, shape[2], shape[3], generator=generator) < 1 / cell ** 2'}, None),
             (7, 'exercises 1 to 6 not done yet', {k: STUB for k in range(1, 7)}, None)],
)
