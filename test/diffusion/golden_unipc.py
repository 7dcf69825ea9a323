"""Golden numbers for src/diffusion/unipc.ts from diffusers' own UniPCMultistepScheduler, run unmodified except
for one substitution: float32 -> float64 (its betas, alphas_cumprod and sigmas), so the reference is float64 like
test/diffusion/golden.py. Its package imports (ConfigMixin, register_to_config, deprecate, is_scipy_available,
SchedulerMixin, SchedulerOutput, KarrasDiffusionSchedulers) are replaced by the small stubs below.

Regenerate (numpy and torch from Debian: apt-get install python3-torch python3-numpy; no diffusers install needed):
  git -C <diffusers checkout> show HEAD:src/diffusers/schedulers/scheduling_unipc_multistep.py > /tmp/unipc.py
  /usr/bin/python3 test/diffusion/golden_unipc.py /tmp/unipc.py > test/diffusion/golden-unipc.json
The committed JSON came from huggingface/diffusers 58eb52c0803ea9af3abec60841c2a093bdf1f951 (0.40.0.dev0),
torch 1.13.1 (Debian), numpy 1.24.2.

The model is the exact denoiser of x0 ~ N(mu, s^2) per element (golden-unipc.test.ts computes the same): every
case records the timesteps and the sample after each step, from a fixed x_T of shape [2, 1, 2, 3]. The scheduler
itself runs in float64; the model output and the sample it is handed are rounded to float32 first, as the TS
scheduler receives them (Float32Array), so that x0 = (x - sigma eps) / alpha at t = 999 (alpha = 0.0063) does not
turn float32 input rounding into a 1e-5 mismatch.
"""
import dataclasses, enum, json, math, sys, types

import numpy as np
import torch

SRC = sys.argv[1] if len(sys.argv) > 1 else "/tmp/unipc.py"

# --- stubs for diffusers' package imports -------------------------------------------------------------------
pkg = types.ModuleType("dfs"); pkg.__path__ = []
sched_pkg = types.ModuleType("dfs.schedulers"); sched_pkg.__path__ = []


class ConfigMixin:
    def register_to_config(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self.config, k, v)


def register_to_config(init):
    import inspect
    sig = inspect.signature(init)

    def wrapped(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs); bound.apply_defaults()
        self.config = types.SimpleNamespace(**{k: v for k, v in bound.arguments.items() if k != "self"})
        init(self, *args, **kwargs)
    return wrapped


configuration_utils = types.ModuleType("dfs.configuration_utils")
configuration_utils.ConfigMixin = ConfigMixin
configuration_utils.register_to_config = register_to_config
utils = types.ModuleType("dfs.utils")
utils.deprecate = lambda *a, **k: None
utils.is_scipy_available = lambda: False
scheduling_utils = types.ModuleType("dfs.schedulers.scheduling_utils")
scheduling_utils.SchedulerMixin = type("SchedulerMixin", (), {})
scheduling_utils.SchedulerOutput = dataclasses.make_dataclass("SchedulerOutput", [("prev_sample", torch.Tensor)])
scheduling_utils.KarrasDiffusionSchedulers = enum.Enum("KarrasDiffusionSchedulers", "DDIMScheduler UniPCMultistepScheduler")
sys.modules.update({"dfs": pkg, "dfs.schedulers": sched_pkg, "dfs.configuration_utils": configuration_utils,
                    "dfs.utils": utils, "dfs.schedulers.scheduling_utils": scheduling_utils})

source = open(SRC).read()
assert "class UniPCMultistepScheduler" in source
source = source.replace("torch.float32", "torch.float64").replace("np.float32", "np.float64")
mod = types.ModuleType("dfs.schedulers.scheduling_unipc_multistep"); mod.__package__ = "dfs.schedulers"
exec(compile(source, SRC, "exec"), mod.__dict__)
UniPC = mod.UniPCMultistepScheduler

# --- the fixed problem ---------------------------------------------------------------------------------------
SHAPE = (2, 1, 2, 3)
K = int(np.prod(SHAPE))
X_T = np.array([((k * 37) % 23 - 11) / 8 for k in range(K)])  # multiples of 1/8: exact in float32
MU = np.array([((k * 5) % 7 - 3) / 4 for k in range(K)])
S = 0.5


def model(ac, x, t, prediction_type, mu_scale):
    """Exact output of the Gaussian denoiser at timestep t: eps, x0 (sample) or v."""
    a = float(ac[t]); mu = MU * mu_scale
    x0 = mu + math.sqrt(a) * S * S / (a * S * S + 1 - a) * (x - math.sqrt(a) * mu)
    eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
    return {"epsilon": eps, "sample": x0, "v_prediction": math.sqrt(a) * eps - math.sqrt(1 - a) * x0}[prediction_type]


def f32(a):
    return torch.tensor(np.asarray(a, dtype=np.float32).astype(np.float64))


def run(config, steps, mu_scale=1.0):
    s = UniPC(**config)
    s.set_timesteps(steps)
    ac = s.alphas_cumprod.numpy()
    assert ac.dtype == np.float64
    pt = config.get("prediction_type", "epsilon")
    x = torch.tensor(X_T.reshape(SHAPE), dtype=torch.float64)
    xs = []
    for t in s.timesteps.tolist():
        # the TS scheduler is handed Float32Arrays: round the model output and the sample to float32 first
        out = f32(model(ac, x.numpy().ravel(), t, pt, mu_scale).reshape(SHAPE))
        x = s.step(out, t, f32(x.numpy())).prev_sample
        xs.append(x.numpy().ravel().tolist())
    return {"timesteps": s.timesteps.tolist(), "x": xs}


# [name, diffusers config, steps, scale of mu (2 pushes x0 past 1 for thresholding)]
CASES = [
    ("default-10", {}, 10, 1.0),
    ("default-1", {}, 1, 1.0),
    ("default-25", {}, 25, 1.0),
    ("order1-5", {"solver_order": 1}, 5, 1.0),
    ("order3-10", {"solver_order": 3}, 10, 1.0),
    ("order3-noLowerOrderFinal-sigmaMin-20", {"solver_order": 3, "lower_order_final": False, "final_sigmas_type": "sigma_min"}, 20, 1.0),
    ("bh1-sigmaMin-7", {"solver_type": "bh1", "final_sigmas_type": "sigma_min"}, 7, 1.0),
    ("v-trailing-8", {"prediction_type": "v_prediction", "timestep_spacing": "trailing"}, 8, 1.0),
    ("sample-leading-offset1-6", {"prediction_type": "sample", "timestep_spacing": "leading", "steps_offset": 1}, 6, 1.0),
    ("noiseForm-sigmaMin-6", {"predict_x0": False, "final_sigmas_type": "sigma_min"}, 6, 1.0),
    ("disableCorrector02-6", {"disable_corrector": [0, 2]}, 6, 1.0),
    ("thresholding-5", {"thresholding": True, "dynamic_thresholding_ratio": 0.9, "sample_max_value": 1.2}, 5, 2.0),
]

CAMEL = {"solver_order": "solverOrder", "lower_order_final": "lowerOrderFinal", "final_sigmas_type": "finalSigmasType",
         "solver_type": "solverType", "prediction_type": "predictionType", "timestep_spacing": "timestepSpacing",
         "steps_offset": "stepsOffset", "predict_x0": "predictX0", "disable_corrector": "disableCorrector",
         "thresholding": "thresholding", "dynamic_thresholding_ratio": "dynamicThresholdingRatio",
         "sample_max_value": "sampleMaxValue"}

out = {"source": "huggingface/diffusers scheduling_unipc_multistep.py, float64", "xT": X_T.tolist(), "mu": MU.tolist(), "s": S,
       "timesteps": {}, "runs": {}, "nonFinite": {}}
for spacing in ["linspace", "leading", "trailing"]:
    for n in [1, 5, 7, 10, 20, 50]:
        for offset in [0, 1]:
            s = UniPC(timestep_spacing=spacing, steps_offset=offset); s.set_timesteps(n)
            out["timesteps"][f"{spacing}-{n}-{offset}"] = s.timesteps.tolist()
for name, config, steps, scale in CASES:
    out["runs"][name] = {"options": {CAMEL[k]: v for k, v in config.items()}, "steps": steps, "muScale": scale, **run(config, steps, scale)}
# configurations diffusers accepts but that end in NaN / inf (the last step to sigma 0 divides by h = inf);
# unipc.ts refuses the first two and returns x0 for the third
for name, config in [("noiseForm-zero", {"predict_x0": False}), ("noLowerOrderFinal-zero", {"lower_order_final": False}),
                     ("bh1-zero", {"solver_type": "bh1"})]:
    r = run(config, 6)
    out["nonFinite"][name] = not all(math.isfinite(v) for v in r["x"][-1])
print(json.dumps(out))
