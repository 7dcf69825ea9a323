#!/usr/bin/env python3
"""PyTorch CPU peer for `npm run bench train` (issue #21, deliverable 3).

Builds the same DDPM U-Net as scripts/model/unet.ts from a JSON UNetConfig (same layers, same widths,
same parameter count) and times N training steps after a warm-up, doing the same work per step as our
trainer: random x0 in [-1, 1], uniform t in [0, T), linear betas 1e-4..0.02 (T = 1000), q_sample,
eps-prediction MSE, backward, clip_grad_norm_(1.0), Adam(lr 2e-4), EMA update (decay 0.9999).

Plain PyTorch on purpose: NCHW (no channels-last), no torch.compile, no mkldnn conversion, no
scaled_dot_product_attention, no fused/foreach optimizer tricks beyond the defaults. A fair, simple peer.

Usage: python3 unet_torch.py '<UNetConfig JSON>' --batch 64 --steps 10 --warmup 5 --threads 2
Prints one JSON line: {"params", "msPerStep", "imagesPerSec", "threads", "torch", "batch", "steps"}.

--serve (bench:train --interleave): after the warm-up prints {"ready": true, "params", "threads", "torch", "batch"}
and then answers each line on stdin, "run N", with {"stepMs": [N per-step ms]}, until "quit" or end of input.
The model, optimizer and allocator stay warm between blocks, so the benchmark can alternate short blocks of ours
and of the peer.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

GROUPNORM_EPS = 1e-5  # scripts/model/ops.ts


def timestep_embedding(t, dim):
    # same frequencies as timestepFrequencies() in scripts/model/ops.ts: exp(-ln(1e4) i / (half - 1))
    half = dim // 2
    i = torch.arange(half, dtype=torch.float32)
    freqs = torch.exp(-math.log(10000.0) * i / (half - 1))
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


def zero_(m):
    nn.init.zeros_(m.weight)
    nn.init.zeros_(m.bias)
    return m


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb, groups, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=GROUPNORM_EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(emb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=GROUPNORM_EPS)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb_act):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(emb_act)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (x if self.skip is None else self.skip(x)) + h


class Attention(nn.Module):
    """Single-head spatial self-attention with 1x1-conv q/k/v/proj (proj zero-init), as ops-tfjs.ts."""

    def __init__(self, c, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, eps=GROUPNORM_EPS)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj = zero_(nn.Conv2d(c, c, 1))

    def forward(self, x):
        b, c, h, w = x.shape
        n = self.norm(x)
        q = self.q(n).reshape(b, c, h * w).transpose(1, 2)  # [B, N, C]
        k = self.k(n).reshape(b, c, h * w)  # [B, C, N]
        v = self.v(n).reshape(b, c, h * w).transpose(1, 2)  # [B, N, C]
        wts = torch.softmax(torch.bmm(q, k) * (1.0 / math.sqrt(c)), dim=-1)
        a = torch.bmm(wts, v).transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj(a)


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C = cfg["baseChannels"]
        E = 4 * C
        G = cfg["groups"]
        p = cfg["dropout"]
        mults = cfg["channelMults"]
        L = len(mults)
        S = cfg["imageSize"]
        attn = set(cfg["attentionResolutions"])
        self.C = C
        self.dense0 = nn.Linear(C, E)
        self.dense1 = nn.Linear(E, E)
        self.num_classes = cfg["numClasses"]
        self.class_embed = nn.Embedding(self.num_classes + 1, E) if self.num_classes > 0 else None
        self.in_conv = nn.Conv2d(cfg["channels"], C, 3, padding=1)

        # down path; `skip_ch` mirrors the skip stack of unet.ts
        self.down = nn.ModuleList()
        ch = C
        skip_ch = [ch]
        for i in range(L):
            res = S // 2**i
            cout = mults[i] * C
            for _ in range(cfg["numResBlocks"]):
                self.down.append(ResBlock(ch, cout, E, G, p))
                ch = cout
                if res in attn:
                    self.down.append(Attention(ch, G))
                skip_ch.append(ch)
            if i != L - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skip_ch.append(ch)

        self.mid = nn.ModuleList([ResBlock(ch, ch, E, G, p), Attention(ch, G), ResBlock(ch, ch, E, G, p)])

        self.up = nn.ModuleList()
        for i in reversed(range(L)):
            res = S // 2**i
            cout = mults[i] * C
            for _ in range(cfg["numResBlocks"] + 1):
                sc = skip_ch.pop()
                self.up.append(ResBlock(ch + sc, cout, E, G, p))
                ch = cout
                if res in attn:
                    self.up.append(Attention(ch, G))
            if i != 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)))
        assert not skip_ch, "skip stack not empty"
        self.out_norm = nn.GroupNorm(G, ch, eps=GROUPNORM_EPS)
        self.out_conv = zero_(nn.Conv2d(ch, cfg["channels"], 3, padding=1))

    def forward(self, x, t, y=None):
        emb = self.dense0(timestep_embedding(t, self.C))
        emb = self.dense1(F.silu(emb))
        if self.class_embed is not None:
            emb = emb + self.class_embed(y)
        emb_act = F.silu(emb)
        h = self.in_conv(x)
        skips = [h]
        for m in self.down:
            if isinstance(m, ResBlock):
                h = m(h, emb_act)
                skips.append(h)
            elif isinstance(m, Attention):
                h = m(h)
                skips[-1] = h  # attention follows its ResBlock; the skip is the attended activation
            else:
                h = m(h)
                skips.append(h)
        h = self.mid[0](h, emb_act)
        h = self.mid[1](h)
        h = self.mid[2](h, emb_act)
        for m in self.up:
            if isinstance(m, ResBlock):
                h = m(torch.cat([h, skips.pop()], dim=1), emb_act)
            else:
                h = m(h)
        assert not skips
        return self.out_conv(F.silu(self.out_norm(h)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", help="UNetConfig as JSON")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--params-only", action="store_true", help="print the parameter count and exit")
    ap.add_argument("--serve", action="store_true", help="after the warm-up, run blocks of steps on request (stdin)")
    a = ap.parse_args()
    cfg = json.loads(a.config)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = UNet(cfg)
    params = sum(p.numel() for p in model.parameters())
    if a.params_only:
        print(json.dumps({"params": params, "torch": torch.__version__}))
        return
    model.train()
    ema = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    T = 1000
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0).float()
    sqrt_ab, sqrt_1mab = abar.sqrt(), (1 - abar).sqrt()
    B, Ch, S, K = a.batch, cfg["channels"], cfg["imageSize"], cfg["numClasses"]

    def step():
        x0 = torch.rand(B, Ch, S, S) * 2 - 1
        t = torch.randint(0, T, (B,))
        y = None
        if K > 0:
            y = torch.randint(0, K, (B,))
            y = torch.where(torch.rand(B) < 0.1, torch.full_like(y, K), y)  # label dropout to the null class
        eps = torch.randn_like(x0)
        xt = sqrt_ab[t][:, None, None, None] * x0 + sqrt_1mab[t][:, None, None, None] * eps
        loss = F.mse_loss(model(xt, t, y), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, model.parameters()):
                e.mul_(0.9999).add_(p, alpha=1 - 0.9999)

    for _ in range(a.warmup):
        step()
    if a.serve:
        serve(step, {"params": params, "threads": torch.get_num_threads(), "torch": torch.__version__, "batch": B})
        return
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    ms = (time.perf_counter() - t0) * 1000 / a.steps
    print(json.dumps({"params": params, "msPerStep": ms, "imagesPerSec": B * 1000 / ms, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "batch": B, "steps": a.steps}))


def serve(step, info):
    print(json.dumps({"ready": True, **info}), flush=True)
    while True:
        line = sys.stdin.readline()
        if not line or line.strip() == "quit":
            return
        cmd = line.split()
        if len(cmd) != 2 or cmd[0] != "run" or not cmd[1].isdigit() or int(cmd[1]) < 1:
            print(json.dumps({"error": f"unknown request {line.strip()!r} (expected 'run N' or 'quit')"}), flush=True)
            continue
        ms = []
        for _ in range(int(cmd[1])):
            t0 = time.perf_counter()
            step()
            ms.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"stepMs": ms}), flush=True)


if __name__ == "__main__":
    main()
