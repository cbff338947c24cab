#!/usr/bin/python3
"""optim_ref.py - golden optimizer trajectories for tests/test_optim.c.

An independent NumPy implementation of the update rules written down in
the Keras semantics reference that descent follows (optimizers, section 2) (Keras 3 and tf.keras 2.x). It runs every case
below on one small problem (5 float32 parameters, a fixed sequence of 6 gradients)
and writes the parameters after every step to tests/ref/optim_golden.h.

Arithmetic follows Keras with float32 variables: weights, gradients and state are
float32 arrays; per-step scalars (learning rate, bias corrections, Nadam's schedule)
are computed as Python floats (double) and cast to float32 once.

Run:  /usr/bin/python3 tests/ref/optim_ref.py   (from the repository root)
"""
import math
import os

import numpy as np

F = np.float32
N = 5
STEPS = 6
# Tensor spans for per-tensor clipping: params [0, 2) and [2, 5).
SPANS = [(0, 2), (2, 3)]

W0 = np.array([0.5, -1.2, 2.0, 0.05, -0.3], dtype=F)


def make_grads():
    """Gradients per step: a sign-changing one, a drifting one, a large one that decays
    (so AMSGrad's max matters), a tiny one (~1e-4, where epsilon placement matters) and
    one that alternates in sign and is exactly zero at step 2."""
    g = np.zeros((STEPS, N), dtype=np.float64)
    for t in range(STEPS):
        g[t, 0] = 0.8 * math.cos(0.9 * t + 0.3)
        g[t, 1] = -0.5 + 0.1 * t
        g[t, 2] = 3.0 * 0.4 ** t
        g[t, 3] = 1e-4 * (1.0 + 0.5 * math.sin(t))
        g[t, 4] = 0.0 if t == 2 else 3e-4 * (-1.0) ** t
    return g.astype(F)


GRADS = make_grads()

# ---------------------------------------------------------------------------------------
# Configuration: Keras defaults, and the schedules

DEFAULTS = {
    "sgd": dict(learning_rate=0.01, momentum=0.0, nesterov=False),
    "rmsprop": dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
    "adam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
    "adamw": dict(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                  epsilon=1e-7, amsgrad=False),
    "adagrad": dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7),
    "adadelta": dict(learning_rate=0.001, rho=0.95, epsilon=1e-7),
    "adamax": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
    "nadam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
}
COMMON = dict(weight_decay=0.0, clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0, decay=0.0)


def schedule_lr(lr, step):
    """Learning rate at `step` (= iterations before the update), Keras's schedules."""
    if not isinstance(lr, tuple):
        return lr
    name, a = lr
    if name == "exponential_decay":
        p = step / a["decay_steps"]
        if a.get("staircase"):
            p = math.floor(p)
        return a["initial_learning_rate"] * a["decay_rate"] ** p
    if name == "inverse_time_decay":
        p = step / a["decay_steps"]
        if a.get("staircase"):
            p = math.floor(p)
        return a["initial_learning_rate"] / (1.0 + a["decay_rate"] * p)
    if name == "piecewise_constant_decay":
        b, v = a["boundaries"], a["values"]
        if step <= b[0]:
            return v[0]
        for i in range(1, len(b)):
            if b[i - 1] < step <= b[i]:
                return v[i]
        return v[-1]
    if name == "cosine_decay":
        ds = a["decay_steps"]
        frac = min(step, ds) / ds
        alpha = a.get("alpha", 0.0)
        return a["initial_learning_rate"] * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * frac))
                                             + alpha)
    raise ValueError(name)


def fmt_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        name, a = v
        return "%s(%s)" % (name, ", ".join("%s=%s" % (k, fmt_value(x)) for k, x in a.items()))
    if isinstance(v, list):
        return "[" + ", ".join(fmt_value(x) for x in v) + "]"
    return repr(v)


def spec_text(kind, args):
    if not args:
        return kind
    return "%s(%s)" % (kind, ", ".join("%s=%s" % (k, fmt_value(v)) for k, v in args.items()))


# ---------------------------------------------------------------------------------------
# The rules (docs/OPTIMIZERS.md), one function per optimizer:
#   rule(c, keras, state, w, g, lr, t) updates w and state in place; t = iterations + 1.

def zeros():
    return np.zeros(N, dtype=F)


def sgd(c, keras, s, w, g, lr, t):
    # v <- mu v - eta g; w <- w + v  (Nesterov: w <- w + mu v - eta g); mu = 0: w -= eta g
    lr = F(lr)
    if c["momentum"] == 0.0:
        w -= lr * g
        return
    mu = F(c["momentum"])
    v = s.setdefault("v", zeros())
    v[:] = mu * v - lr * g
    if c["nesterov"]:
        w += mu * v - lr * g
    else:
        w += v


def rmsprop(c, keras, s, w, g, lr, t):
    # v <- rho v + (1 - rho) g^2; centered: mg likewise, D = v - mg^2; else D = v.
    # eps inside sqrt(D + eps) for Keras 3 and for 2.x with momentum; outside for 2.x
    # without momentum. momentum: m <- mu m + inc; w -= m.
    rho, omr = F(c["rho"]), F(1.0 - c["rho"])
    eps, lr = F(c["epsilon"]), F(lr)
    v = s.setdefault("v", zeros())
    v[:] = rho * v + omr * (g * g)
    d = v.copy()
    if c["centered"]:
        mg = s.setdefault("mg", zeros())
        mg[:] = rho * mg + omr * g
        d = v - mg * mg
    has_mom = c["momentum"] > 0.0
    if keras == 3 or has_mom:
        inc = lr * g / np.sqrt(d + eps)
    else:
        inc = lr * g / (np.sqrt(d) + eps)
    if has_mom:
        m = s.setdefault("m", zeros())
        m[:] = F(c["momentum"]) * m + inc
        w -= m
    else:
        w -= inc


def adam(c, keras, s, w, g, lr, t):
    # m <- m + (1 - b1)(g - m); v <- v + (1 - b2)(g^2 - v); amsgrad: vhat = max(vhat, v)
    # alpha_t = eta sqrt(1 - b2^t) / (1 - b1^t); w <- w - alpha_t m / (sqrt(v) + eps)
    b1, b2 = c["beta_1"], c["beta_2"]
    alpha = F(lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t))
    m = s.setdefault("m", zeros())
    v = s.setdefault("v", zeros())
    m += (g - m) * F(1.0 - b1)
    v += (g * g - v) * F(1.0 - b2)
    vv = v
    if c["amsgrad"]:
        vhat = s.setdefault("vhat", zeros())
        vhat[:] = np.maximum(vhat, v)
        vv = vhat
    w -= (m * alpha) / (np.sqrt(vv) + F(c["epsilon"]))


def adagrad(c, keras, s, w, g, lr, t):
    # a <- a + g^2 (a starts at initial_accumulator_value)
    # Keras 3: w -= eta g / sqrt(a + eps);  2.x: w -= eta g / (sqrt(a) + eps)
    a = s.setdefault("a", np.full(N, c["initial_accumulator_value"], dtype=F))
    a += g * g
    eps, lr = F(c["epsilon"]), F(lr)
    if keras == 3:
        w -= lr * g / np.sqrt(a + eps)
    else:
        w -= lr * g / (np.sqrt(a) + eps)


def adadelta(c, keras, s, w, g, lr, t):
    # Ag <- rho Ag + (1 - rho) g^2; delta = -sqrt(Ax + eps) / sqrt(Ag + eps) g;
    # Ax <- rho Ax + (1 - rho) delta^2; w <- w + eta delta
    rho, omr, eps = F(c["rho"]), F(1.0 - c["rho"]), F(c["epsilon"])
    ag = s.setdefault("ag", zeros())
    ax = s.setdefault("ax", zeros())
    ag[:] = rho * ag + omr * (g * g)
    delta = -np.sqrt(ax + eps) * g / np.sqrt(ag + eps)
    ax[:] = rho * ax + omr * (delta * delta)
    w += F(lr) * delta


def adamax(c, keras, s, w, g, lr, t):
    # m <- m + (1 - b1)(g - m); u <- max(b2 u, |g|); w -= eta m / ((1 - b1^t)(u + eps))
    m = s.setdefault("m", zeros())
    u = s.setdefault("u", zeros())
    m += (g - m) * F(1.0 - c["beta_1"])
    u[:] = np.maximum(F(c["beta_2"]) * u, np.abs(g))
    w -= (F(lr) * m) / (F(1.0 - c["beta_1"] ** t) * (u + F(c["epsilon"])))


def nadam(c, keras, s, w, g, lr, t):
    # u_t = b1 (1 - 0.5 0.96^t) (Keras 3) or b1 (1 - 0.5 0.96^(0.004 t)) (2.x);
    # P_t = u_1 ... u_t; mhat = u_(t+1) m / (1 - P_t u_(t+1)) + (1 - u_t) g / (1 - P_t);
    # vhat = v / (1 - b2^t); w -= eta mhat / (sqrt(vhat) + eps)
    b1, b2 = c["beta_1"], c["beta_2"]

    def u(k):
        e = k if keras == 3 else 0.004 * k
        return b1 * (1.0 - 0.5 * 0.96 ** e)

    s["prod"] = s.get("prod", 1.0) * u(t)
    p_t = s["prod"]
    p_t1 = p_t * u(t + 1)
    m = s.setdefault("m", zeros())
    v = s.setdefault("v", zeros())
    m += (g - m) * F(1.0 - b1)
    v += (g * g - v) * F(1.0 - b2)
    mhat = F(u(t + 1)) * m / F(1.0 - p_t1) + F(1.0 - u(t)) * g / F(1.0 - p_t)
    vhat = v / F(1.0 - b2 ** t)
    w -= (mhat * F(lr)) / (np.sqrt(vhat) + F(c["epsilon"]))


RULES = dict(sgd=sgd, rmsprop=rmsprop, adam=adam, adamw=adam, adagrad=adagrad,
             adadelta=adadelta, adamax=adamax, nadam=nadam)


def clip(c, g):
    """clipvalue elementwise; clipnorm per tensor (SPANS); global_clipnorm over all:
    g <- g * c / max(norm, c)."""
    if c["clipvalue"] > 0:
        return np.clip(g, F(-c["clipvalue"]), F(c["clipvalue"]))
    g = g.copy()
    if c["clipnorm"] > 0:
        for off, size in SPANS:
            part = g[off:off + size]
            norm = math.sqrt(float(np.sum(part.astype(np.float64) ** 2)))
            if norm > c["clipnorm"]:
                g[off:off + size] = part * F(c["clipnorm"] / norm)
    elif c["global_clipnorm"] > 0:
        norm = math.sqrt(float(np.sum(g.astype(np.float64) ** 2)))
        if norm > c["global_clipnorm"]:
            g = g * F(c["global_clipnorm"] / norm)
    return g


def run(kind, args, keras):
    c = dict(DEFAULTS[kind])
    c.update(COMMON)
    if kind == "adamw":
        c["weight_decay"] = 0.004
    c.update(args)
    w = W0.copy()
    state = {}
    out = []
    for it in range(STEPS):
        g = clip(c, GRADS[it])
        lr = schedule_lr(c["learning_rate"], it)
        if c["decay"] > 0:
            lr = lr / (1.0 + c["decay"] * it)
        if c["weight_decay"] > 0:
            w -= F(lr * c["weight_decay"]) * w   # decoupled: w <- w - eta wd w
        RULES[kind](c, keras, state, w, g, lr, it + 1)
        out.append(w.copy())
    return np.array(out, dtype=F)


# (name, optimizer, arguments, keras version)
CASES = [
    ("sgd", "sgd", {}, 2),
    ("sgd_momentum", "sgd", dict(momentum=0.3), 2),
    ("sgd_nesterov", "sgd", dict(momentum=0.3, nesterov=True), 2),
    ("sgd_nesterov_09", "sgd", dict(learning_rate=0.1, momentum=0.9, nesterov=True), 3),
    ("rmsprop_k2", "rmsprop", dict(learning_rate=0.01), 2),
    ("rmsprop_k3", "rmsprop", dict(learning_rate=0.01), 3),
    ("rmsprop_momentum_k2", "rmsprop", dict(learning_rate=0.01, momentum=0.5), 2),
    ("rmsprop_momentum_k3", "rmsprop", dict(learning_rate=0.01, momentum=0.5), 3),
    ("rmsprop_centered_k2", "rmsprop", dict(learning_rate=0.01, centered=True), 2),
    ("rmsprop_centered_k3", "rmsprop", dict(learning_rate=0.01, centered=True), 3),
    ("rmsprop_centered_momentum_k2", "rmsprop",
     dict(learning_rate=0.01, momentum=0.5, centered=True), 2),
    ("adam", "adam", dict(learning_rate=0.01), 2),
    ("adam_default", "adam", {}, 3),
    ("adam_amsgrad", "adam", dict(learning_rate=0.01, amsgrad=True), 2),
    ("adam_betas", "adam", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=0.001), 3),
    ("adamw", "adamw", dict(learning_rate=0.01), 3),
    ("adamw_wd", "adamw", dict(learning_rate=0.01, weight_decay=0.1, amsgrad=True), 3),
    ("adagrad_k2", "adagrad", dict(learning_rate=0.1), 2),
    ("adagrad_k3", "adagrad", dict(learning_rate=0.1), 3),
    ("adagrad_acc0_k2", "adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.0), 2),
    ("adagrad_acc0_k3", "adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.0), 3),
    ("adadelta", "adadelta", dict(learning_rate=1.0), 2),
    ("adadelta_default", "adadelta", {}, 3),
    ("adamax", "adamax", dict(learning_rate=0.01), 2),
    ("nadam_k2", "nadam", dict(learning_rate=0.01), 2),
    ("nadam_k3", "nadam", dict(learning_rate=0.01), 3),
    ("sgd_clipnorm", "sgd", dict(learning_rate=0.1, clipnorm=0.5), 2),
    ("sgd_clipvalue", "sgd", dict(learning_rate=0.1, clipvalue=0.6), 2),
    ("adam_global_clipnorm", "adam", dict(learning_rate=0.01, global_clipnorm=1.0), 3),
    ("rmsprop_clipnorm", "rmsprop", dict(learning_rate=0.01, momentum=0.5, clipnorm=0.5), 2),
    ("sgd_weight_decay", "sgd", dict(learning_rate=0.1, momentum=0.3, weight_decay=0.1), 3),
    ("sgd_legacy_decay", "sgd", dict(learning_rate=0.05, momentum=0.3, decay=0.5), 2),
    ("sgd_exponential", "sgd",
     dict(learning_rate=("exponential_decay",
                         dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5))), 2),
    ("sgd_inverse_time", "sgd",
     dict(learning_rate=("inverse_time_decay",
                         dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=1.0,
                              staircase=True)), momentum=0.5), 2),
    ("adam_piecewise", "adam",
     dict(learning_rate=("piecewise_constant_decay",
                         dict(boundaries=[1, 3], values=[0.1, 0.05, 0.01]))), 2),
    ("rmsprop_cosine", "rmsprop",
     dict(learning_rate=("cosine_decay",
                         dict(initial_learning_rate=0.01, decay_steps=4, alpha=0.1))), 3),
]


def c_float(x):
    return "%.8ef" % float(x)


def c_row(v):
    return "{" + ", ".join(c_float(x) for x in v) + "}"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    lines = [
        "/*",
        " * optim_golden.h - GENERATED by tests/ref/optim_ref.py; do not edit, rerun it:",
        " *   /usr/bin/python3 tests/ref/optim_ref.py",
        " * Golden optimizer trajectories from an independent NumPy implementation of the rules",
        " * in docs/OPTIMIZERS.md: %d float32 parameters, %d steps of fixed gradients, the"
        % (N, STEPS),
        " * parameters after every step. Clipping uses the tensor spans og_spans.",
        " */",
        "#ifndef OPTIM_GOLDEN_H",
        "#define OPTIM_GOLDEN_H",
        "",
        "#define OG_N %d" % N,
        "#define OG_STEPS %d" % STEPS,
        "#define OG_N_SPANS %d" % len(SPANS),
        "",
        "static const size_t og_spans[OG_N_SPANS][2] = {%s};"
        % ", ".join("{%d, %d}" % s for s in SPANS),
        "static const float og_w0[OG_N] = %s;" % c_row(W0),
        "static const float og_grad[OG_STEPS][OG_N] = {",
    ]
    for t in range(STEPS):
        lines.append("    %s," % c_row(GRADS[t]))
    lines += [
        "};",
        "",
        "typedef struct {",
        "    const char *name;",
        "    const char *spec;  /* ds_optimizer_parse input */",
        "    int keras;         /* 2 or 3 */",
        "    float w[OG_STEPS][OG_N];",
        "} og_case;",
        "",
        "static const og_case og_cases[] = {",
    ]
    for name, kind, args, keras in CASES:
        traj = run(kind, args, keras)
        lines.append('    {"%s", "%s", %d, {' % (name, spec_text(kind, args), keras))
        for t in range(STEPS):
            lines.append("        %s," % c_row(traj[t]))
        lines.append("    }},")
    lines += [
        "};",
        "",
        "#define OG_N_CASES ((int)(sizeof og_cases / sizeof og_cases[0]))",
        "",
        "#endif",
        "",
    ]
    with open(os.path.join(here, "optim_golden.h"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
