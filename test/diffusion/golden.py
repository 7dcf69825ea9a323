"""Independent float64 reference for test/diffusion/golden.test.ts, written from diffusers' formulas with numpy.
Run: python3 test/diffusion/golden.py  (prints the JSON the test embeds)."""
import json, math
import numpy as np

def betas(kind, T):
    if kind == "linear":
        s = 1000 / T
        return np.linspace(s * 1e-4, s * 0.02, T, dtype=np.float64)
    if kind == "cosine":
        f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array([min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)])
    if kind == "sigmoid":
        s = 1000 / T
        b = np.linspace(-6, 6, T)
        return 1 / (1 + np.exp(-b)) * (s * 0.02 - s * 1e-4) + s * 1e-4

def tables(kind, T):
    b = betas(kind, T); a = 1 - b; ac = np.cumprod(a); acp = np.append(1.0, ac[:-1])
    pv = b * (1 - acp) / (1 - ac)
    return dict(betas=b, alphasCumprod=ac, sqrtOneMinusAlphasCumprod=np.sqrt(1 - ac), posteriorVariance=pv,
                posteriorLogVarianceClipped=np.log(np.append(pv[1], pv[1:])),
                posteriorMeanCoef1=b * np.sqrt(acp) / (1 - ac), posteriorMeanCoef2=(1 - acp) * np.sqrt(a) / (1 - ac))

out = {"coef": {}}
for kind, T, ts in [("linear", 1000, [0, 1, 10, 499, 999]), ("cosine", 1000, [0, 1, 10, 499, 999]),
                    ("sigmoid", 1000, [0, 1, 10, 499, 999]), ("linear", 250, [0, 1, 10, 124, 249])]:
    tb = tables(kind, T)
    out["coef"][f"{kind}-{T}"] = {"t": ts, **{k: [float(v[t]) for t in ts] for k, v in tb.items()}}

def ddim_ts(T, N, spacing, offset):
    if spacing == "leading":
        r = T // N; return ((np.arange(0, N) * r).round()[::-1] + offset).astype(int).tolist()
    if spacing == "linspace":
        return np.linspace(0, T - 1, N).round()[::-1].astype(int).tolist()
    r = T / N; return (np.round(np.arange(T, 0, -r)) - 1).astype(int).tolist()

def dpm_ts(T, N, spacing, offset):
    if spacing == "linspace":
        return np.linspace(0, T - 1, N + 1).round()[::-1][:-1].astype(int).tolist()
    if spacing == "leading":
        r = T // (N + 1); return ((np.arange(0, N + 1) * r).round()[::-1][:-1] + offset).astype(int).tolist()
    r = T / N; return (np.arange(T, 0, -r).round() - 1).astype(int).tolist()

out["ddim"] = {f"{s}-{n}-{o}": ddim_ts(1000, n, s, o) for s in ["leading", "linspace", "trailing"] for n in [5, 7, 10, 50] for o in [0, 1]}
out["dpm"] = {f"{s}-{n}-{o}": dpm_ts(1000, n, s, o) for s in ["leading", "linspace", "trailing"] for n in [5, 7, 10] for o in [0, 1]}

# one DDIM step (eta = 0.5, no clipping) and a 3-step DPM-Solver++(2M) run with fixed eps, float64
ac = tables("linear", 1000)["alphasCumprod"]
x = np.array([0.5, -1.2, 2.0, 0.1]); eps = np.array([0.3, -0.7, 1.1, 0.0]); z = np.array([1.0, -0.5, 0.25, 2.0])
t, prev = 801, 601
a, ap = ac[t], ac[prev]
x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
var = (1 - ap) / (1 - a) * (1 - a / ap); std = 0.5 * np.sqrt(var)
out["ddimStep"] = (np.sqrt(ap) * x0 + np.sqrt(1 - ap - std ** 2) * eps + std * z).tolist()

ts = dpm_ts(1000, 3, "linspace", 0)
al = [np.sqrt(ac[t]) for t in ts] + [1.0]; si = [np.sqrt(1 - ac[t]) for t in ts] + [0.0]
lam = [np.log(al[i]) - np.log(si[i]) if si[i] > 0 else np.inf for i in range(4)]
epss = [eps, eps * 0.5 + 0.1, eps * -0.25]
xs = x.copy(); ms = []
for i, t in enumerate(ts):
    m = (xs - si[i] * epss[i]) / al[i]; ms.append(m)
    h = lam[i + 1] - lam[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        if i == 0 or i == len(ts) - 1:
            xs = (si[i + 1] / si[i]) * xs - al[i + 1] * (np.exp(-h) - 1) * m
        else:
            r0 = (lam[i] - lam[i - 1]) / h; D1 = (m - ms[-2]) / r0
            xs = (si[i + 1] / si[i]) * xs - al[i + 1] * (np.exp(-h) - 1) * m - 0.5 * al[i + 1] * (np.exp(-h) - 1) * D1
out["dpmRun"] = {"timesteps": ts, "x": xs.tolist()}
print(json.dumps(out))
