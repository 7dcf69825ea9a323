"""Reference for test/cold/degrade.test.ts, written with torch from the Cold Diffusion paper's own code
(github.com/arpitbansal297/Cold-Diffusion-Models): deblurring_diffusion_pytorch.py get_conv / get_kernels /
q_sample (nn.Conv2d, groups = channels, padding (k - 1) / 2, padding_mode circular or reflect) and
defading_diffusion_gaussian.py get_fade_kernel / q_sample. torchgeometry's get_gaussian_kernel2d is
re-typed here (it is not installed): the outer product of two normalized 1-D Gaussians.
Run: /usr/bin/python3 test/cold/golden_cold.py > test/cold/golden-cold.json"""
import json, math
import torch
from torch import nn

torch.set_default_dtype(torch.float64)

def gaussian(window_size, sigma):  # torchgeometry.image.gaussian
    gauss = torch.stack([torch.exp(torch.tensor(-(x - window_size // 2) ** 2 / float(2 * sigma ** 2))) for x in range(window_size)])
    return gauss / gauss.sum()

def kernel2d(k, std):  # torchgeometry.image.get_gaussian_kernel2d
    g = gaussian(k, std)
    return torch.matmul(g.unsqueeze(-1), g.unsqueeze(-1).t())

def get_conv(channels, k, std, mode):  # GaussianDiffusion.get_conv
    conv = nn.Conv2d(channels, channels, kernel_size=k, padding=(k - 1) // 2, padding_mode=mode, bias=False, groups=channels)
    with torch.no_grad():
        conv.weight = nn.Parameter(kernel2d(k, std).unsqueeze(0).unsqueeze(0).repeat(channels, 1, 1, 1))
    return conv

def blur_std(routine, std, i):
    return {"constant": std, "incremental": std * (i + 1), "exponential": math.exp(std * i), "special-6": i / 100 + 0.35}[routine]

def image(B, C, S, seed):
    # deterministic pixels in [-1, 1]: a smooth pattern plus a bar, different per image and channel
    x = torch.zeros(B, C, S, S)
    for b in range(B):
        for c in range(C):
            for r in range(S):
                for q in range(S):
                    x[b, c, r, q] = math.sin(0.7 * r * (b + 1) + 0.3 * q + seed + c) * 0.8 + (0.2 if q == (b + 2) % S else 0)
    return x

def r7(t):  # 7 decimals: the test compares to 2e-6
    return [round(v, 7) for v in t.flatten().tolist()]

out = {"blur": [], "mask": []}
for routine, k, std, mode, T, S, C, discrete in [("constant", 3, 1.0, "circular", 4, 8, 1, False), ("constant", 11, 7.0, "circular", 20, 32, 1, True),
                                                  ("incremental", 5, 0.5, "reflect", 3, 8, 3, False), ("exponential", 5, 0.1, "circular", 3, 8, 1, False),
                                                  ("special-6", 11, 0.0, "reflect", 3, 16, 1, True)]:
    x = image(1 if S > 16 else 2, C, S, 1)
    convs = [get_conv(C, k, blur_std(routine, std, i), mode) for i in range(T)]
    levels = {}
    y = x
    with torch.no_grad():
        for i in range(T):
            y = convs[i](y)
            if discrete and i == T - 1:  # q_sample's discrete: the mean at the last step
                y = torch.mean(y, [2, 3], keepdim=True).expand(y.shape)
            if i + 1 in ((T,) if S > 16 else (1, T // 2 or 1, T)):
                levels[str(i + 1)] = r7(y)
    out["blur"].append({"process": {"kind": "cold-blur", "T": T, "kernelSize": k, "std": std if routine != "special-6" else 1, "routine": routine, "padding": mode, "discrete": discrete},
                        "size": S, "channels": C, "x": r7(x), "levels": levels})

def fade_kernel(n, std):  # GaussianDiffusion.get_fade_kernel (dims n x n), cropped [1:, 1:]
    g = kernel2d(n, std)
    g = g / torch.max(g)
    return (torch.ones_like(g) - g)[1:, 1:]

for routine, std, initial, T, S, offsets in [("incremental", 0.1, 11, 5, 8, None), ("random-incremental", 0.3, 2, 4, 8, [(0, 3), (8, 8)]), ("constant", 1.5, 11, 3, 8, None)]:
    x = image(2, 1, S, 2)
    n = 2 * S + 1 if routine == "random-incremental" else S + 1
    stds = [std if routine == "constant" else std * (i + initial) for i in range(T)]
    kernels = [fade_kernel(n, s) for s in stds]
    levels = {}
    centres = []
    y = x.clone()
    for i in range(T):
        for b in range(2):
            m = kernels[i][offsets[b][0]:offsets[b][0] + S, offsets[b][1]:offsets[b][1] + S] if offsets else kernels[i]
            y[b] = m * y[b]
        if i + 1 in (1, T):
            levels[str(i + 1)] = r7(y)
    if offsets:
        centres = [v for o in offsets for v in (S - 1 - o[0], S - 1 - o[1])]
    out["mask"].append({"process": {"kind": "cold-mask", "T": T, "std": std, "initialMask": initial, "routine": routine, "discrete": False},
                        "size": S, "channels": 1, "x": r7(x), "levels": levels, "centres": centres})
print(json.dumps(out))
