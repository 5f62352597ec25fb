"""The same training in PyTorch: the course notebook's code and an idiomatic
loop. Each measurement runs in its own process (scripts/bench.py
--torch-worker), since the thread count is fixed at start-up."""
import json
import os
import statistics
import subprocess
import time

from . import SCRIPT

NOTEBOOK = "notebook"
IDIOMATIC = "idiomatic"


def torch_worker(variant, threads, epochs, seed):
    """Runs in its own process (threads are fixed at start-up); prints JSON."""
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from torch.utils.data import DataLoader, Dataset
    try:
        from torchvision import transforms
    except ImportError:  # Debian's python3-torchvision pulls in ffmpeg & co.
        class transforms:  # noqa: N801  the two pieces the notebook uses, same semantics
            class Compose:
                def __init__(self, ts):
                    self.ts = ts

                def __call__(self, x):
                    for t in self.ts:
                        x = t(x)
                    return x

            class Lambda:
                def __init__(self, f):
                    self.f = f

                def __call__(self, x):
                    return self.f(x)

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    D, K, M = 64, 10, 512
    sigma, eta, N, lr = 0.01, 1.0, 20, 1e-3
    times = []
    t_start = time.perf_counter()

    if variant == NOTEBOOK:
        # ---- the course notebook's code (seed/*.txt), unchanged except
        # nn.nlvLoss -> nn.NLLLoss (a search-and-replace slip in the text) and
        # no per-epoch evaluation/saving (not part of the timed steps).
        class Digits(Dataset):
            def __init__(self, mode='train', transforms=None):
                digits = load_digits()
                p_train = 0.7
                p_val = 0.15
                nb_images_train = int((p_train) * digits.data.shape[0])
                nb_images_val = int((p_train + p_val) * digits.data.shape[0])
                if mode == 'train':
                    self.data = digits.data[:nb_images_train].astype(np.float32)
                    self.targets = digits.target[:nb_images_train]
                elif mode == 'val':
                    self.data = digits.data[nb_images_train:nb_images_val].astype(np.float32)
                    self.targets = digits.target[nb_images_train:nb_images_val]
                else:
                    self.data = digits.data[nb_images_val:].astype(np.float32)
                    self.targets = digits.target[nb_images_val:]
                self.transforms = transforms

            def __len__(self):
                return len(self.data)

            def __getitem__(self, idx):
                sample_x = self.data[idx]
                sample_y = self.targets[idx]
                if self.transforms:
                    sample_x = self.transforms(sample_x)
                return (sample_x, sample_y)

        transforms_train = transforms.Compose([
            transforms.Lambda(lambda x: torch.from_numpy(x)),
            transforms.Lambda(lambda x: x + 0.03 * torch.randn_like(x))])
        train_data = Digits(mode='train', transforms=transforms_train)
        train_loader = DataLoader(train_data, batch_size=64, shuffle=True)

        class EnergyBasedModel(nn.Module):
            def __init__(self, Etheta, eta, sigma, N, D):
                super(EnergyBasedModel, self).__init__()
                self.Etheta = Etheta
                self.nlv = nn.NLLLoss(reduction='none')
                self.D = D
                self.sigma = sigma
                self.eta = torch.FloatTensor([eta])
                self.N = N

            def classification_loss(self, pred, y):
                y_pred = torch.softmax(pred, 1)
                return self.nlv(torch.log(y_pred), y)

            def gen_loss(self, x, pred):
                x_sample = self.sample(x=None, batch_size=x.shape[0])
                f_x_sample_y = self.Etheta(x_sample)
                return torch.logsumexp(f_x_sample_y, 1) - torch.logsumexp(pred, 1)

            def forward(self, x, y, reduction='avg'):
                pred = self.Etheta(x)
                L_gt = self.classification_loss(pred, y)
                L_gen = self.gen_loss(x, pred)
                if reduction == 'sum':
                    loss = (L_gt + L_gen).sum()
                else:
                    loss = (L_gt + L_gen).mean()
                return loss

            def energy_gradient(self, x):
                self.Etheta.eval()
                y_i = torch.FloatTensor(x.data)
                y_i.requires_grad = True
                y_i_grad = torch.autograd.grad(torch.logsumexp(self.Etheta(y_i), 1).sum(), [y_i],
                                               retain_graph=True)[0]
                self.Etheta.train()
                return y_i_grad

            def langevin_step(self, y_i1, eta):
                grad_energy = self.energy_gradient(y_i1)
                epsilon = torch.randn_like(grad_energy) * self.sigma
                y_i = y_i1 + eta * grad_energy + epsilon
                return y_i

            def sample(self, batch_size=64, x=None):
                x_modele = 2. * torch.rand([batch_size, self.D]) - 1.
                for i in range(self.N):
                    x_modele = self.langevin_step(x_modele, eta=self.eta)
                return x_modele

        Etheta = nn.Sequential(nn.Linear(D, M), nn.ELU(), nn.Linear(M, M), nn.ELU(),
                               nn.Linear(M, M), nn.ELU(), nn.Linear(M, K))
        model = EnergyBasedModel(Etheta, eta=eta, sigma=sigma, N=N, D=D)
        optimizer = torch.optim.Adamax([p for p in model.parameters() if p.requires_grad],
                                       lr=lr)
        setup = time.perf_counter() - t_start
        for e in range(epochs):
            t0 = time.perf_counter()
            model.train()
            for ind, (batch, targets) in enumerate(train_loader):
                loss = model.forward(batch, targets)
                optimizer.zero_grad()
                loss.backward(retain_graph=True)
                optimizer.step()
            times.append(time.perf_counter() - t0)
    else:
        # ---- what one would write for speed: data preloaded as tensors,
        # one forward on data and samples together, parameters frozen while
        # sampling so autograd records only what grad_x needs.
        digits = load_digits()
        n_train = int(0.7 * digits.data.shape[0])
        X = torch.from_numpy(digits.data[:n_train].astype(np.float32))
        Y = torch.from_numpy(digits.target[:n_train].astype(np.int64))
        net = nn.Sequential(nn.Linear(D, M), nn.ELU(), nn.Linear(M, M), nn.ELU(),
                            nn.Linear(M, M), nn.ELU(), nn.Linear(M, K))
        opt = torch.optim.Adamax(net.parameters(), lr=lr)
        setup = time.perf_counter() - t_start
        for e in range(epochs):
            t0 = time.perf_counter()
            perm = torch.randperm(n_train)
            for s in range(0, n_train, 64):
                idx = perm[s:s + 64]
                n = idx.shape[0]
                x = X[idx] + 0.03 * torch.randn(n, D)
                y = Y[idx]
                net.requires_grad_(False)
                xs = 2.0 * torch.rand(n, D) - 1.0
                for _ in range(N):
                    xs.requires_grad_(True)
                    g, = torch.autograd.grad(torch.logsumexp(net(xs), 1).sum(), xs)
                    with torch.no_grad():
                        xs = xs + eta * g + sigma * torch.randn_like(xs)
                net.requires_grad_(True)
                logits = net(torch.cat([x, xs]))
                ld, ls = logits[:n], logits[n:]
                loss = (F.cross_entropy(ld, y, reduction='none')
                        + torch.logsumexp(ls, 1) - torch.logsumexp(ld, 1)).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            times.append(time.perf_counter() - t0)
    print(json.dumps(dict(variant=variant, threads=threads, epochs=times,
                          median_epoch=statistics.median(times), setup_seconds=setup,
                          torch=torch.__version__)))


def run_torch(variant, threads, epochs, seed=0):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    cmd = ["/usr/bin/python3", SCRIPT, "--torch-worker", variant,
           "--threads", str(threads), "--epochs", str(epochs), "--seed", str(seed)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"PyTorch {variant} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])

