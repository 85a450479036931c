"""The report of benchmarks/compare.py: the targets of issues 4 and 18, the figures derived
from the measured ones (fraction of the FMA peak, fastprop's 2-thread over 1-thread speedup,
the digits accuracy check) and the table with its verdicts. It only reads the results it is
given: `derived` returns a new record, the table is built from that.

Every target is a ratio that must be at least its value: peer time / fastprop time, or, for a
goal in seconds (GOAL_SECONDS), the goal over fastprop's time. JAX's rows (scan and step loop)
carry the target on the faster of the two; a JAX loss that differs from fastprop's fails it."""
import copy
import sys

# Targets of issue 4 (speedup = peer time / fastprop time).
TARGETS = {
    "gemm_vs_numpy": 0.9,          # n >= 256, one thread, both dtypes
    "gemm_of_peak": 0.8,           # n >= 256, one thread
    "tutorial_vs_torch": 500.0,
    "tutorial_vs_scalar": 20.0,
    "mnist_vs_numpy": 1.0,         # one thread
    "mnist_vs_torch": 1.5,         # one thread
    "mnist_2t_vs_1t": 1.7,         # fastprop two threads over fastprop one thread
    "big_vs_numpy": 0.95,          # one thread
    "big_vs_torch_2t": 1.0,        # two threads
    "digits_vs_sklearn": 10.0,     # at equal test accuracy (+-1 point)
    # issue 18 (one thread)
    "predict_2_3_1_goal": 1.0,      # one-row predict of 2-3-1 within GOAL_SECONDS
    "predict_2_3_1_vs_numpy_xw": 1 / 1.5,   # at most 1.5x one numpy x @ W
    "predict_784_vs_onnxruntime": 1.5,
    "inference_vs_onnxruntime": 1.0,  # every batch size
    "fit_intercept_goal": 1.0,       # the intercept of a fit call within GOAL_SECONDS
    "training_vs_jax": 1.2,          # the faster JAX variant, every training workload
    "mnist_of_fma_peak": 0.75,       # the batch-128 float32 step, GEMM FLOPs
}

# Goals in seconds of issue 18; their rows' speedup is goal / fastprop's time.
GOAL_SECONDS = {"predict_2_3_1_goal": 1.5e-6, "fit_intercept_goal": 10e-6}

NAN = float("nan")


def peak_for(fma, t, dtype, best_observed=None):
    """The FMA peak (GFLOP/s) for t threads and dtype: measured, else the cpuinfo estimate
    or the best rate observed, whichever is larger."""
    e = fma["by_threads"].get(str(t), {})
    if dtype in e:
        return e[dtype]["max"]
    theo = e.get("theoretical_from_cpuinfo_mhz", {}).get(dtype, NAN)
    return max(theo, best_observed or 0.0)


def derived(results):
    """A copy of `results` with the derived figures added where compare.json has them:
    gemm rows' fma_peak, fraction_of_fma_peak, numpy_fraction_of_fma_peak; mnist's
    fastprop_2t_over_1t; digits rows' accuracy_within_1_point. `results` is not changed."""
    out = copy.deepcopy(results)
    workloads = out.get("workloads", {})
    fma = out.get("fma_peak")
    g = workloads.get("gemm")
    if fma and g and "by_threads" in g:
        for t, rowset in g["by_threads"].items():
            for key, r in rowset.items():
                dt = key.split("/")[0]
                peak = peak_for(fma, t, dt, max(r["fastprop"]["max"], r["numpy"]["max"]))
                r["fma_peak"] = peak
                r["fraction_of_fma_peak"] = r["fastprop"]["median"] / peak
                r["numpy_fraction_of_fma_peak"] = r["numpy"]["median"] / peak
    mn = workloads.get("mnist")
    if mn and "1" in mn.get("by_threads", {}) and "2" in mn["by_threads"]:
        mn["fastprop_2t_over_1t"] = (mn["by_threads"]["1"]["fastprop"]["median"]
                                     / mn["by_threads"]["2"]["fastprop"]["median"])
    if fma and mn and "by_threads" in mn:
        sizes = mn["sizes"]
        pairs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
        # forward, weight gradients and input gradients (none for the first layer)
        flops = 2.0 * mn["batch"] * (3 * sum(pairs) - pairs[0])
        mn["gemm_flops_per_step"] = flops
        for t, r in mn["by_threads"].items():
            rate = flops / r["fastprop"]["median"] * 1e-9
            r["gemm_gflops"] = rate
            r["fma_peak"] = peak_for(fma, t, mn.get("dtype", "float32"), rate)
            r["fraction_of_fma_peak"] = rate / r["fma_peak"]
    dg = workloads.get("digits")
    if dg and "by_threads" in dg:
        for r in dg["by_threads"].values():
            if "sklearn" in r:
                accs = r["test_accuracy"]
                r["accuracy_within_1_point"] = \
                    abs(accs["fastprop"] - accs["sklearn"]) <= 0.01 + 1e-12
    return out


def _fmt_t(seconds):
    if seconds != seconds:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 0.9995e-3:       # what would round to "1e+03 us" reads 1 ms
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def _cpu_sp(r, peer, t):
    """Speedup by thread CPU time (one thread only: then all the work runs on our thread)."""
    if t != "1" or peer.startswith("jax"):     # JAX computes on XLA's thread, not ours
        return NAN
    return r.get("cpu_time_speedup", {}).get(peer, NAN)


def build_table(results):
    """(rows, verdicts): rows of (workload, threads, comparison, fastprop, peer, speedup,
    target, verdict, noise, by CPU); verdicts, one bool a target checked."""
    res = derived(results)
    workloads = res.get("workloads", {})
    rows = []
    verdicts = []

    def verdict(value, target):
        if target is None or value != value:
            return ""
        ok = value >= target
        verdicts.append(ok)
        return "met" if ok else "NOT met"

    def step_row(name, t, peer, r, sp, tgt, what="per step"):
        """One row: fastprop's and the peer's time a step, the speedup and its verdict."""
        return (name, t, f"{what} vs {peer}", _fmt_t(r["fastprop"]["median"]),
                _fmt_t(r[peer]["median"]), sp, tgt, verdict(sp, tgt),
                max(r["fastprop"]["spread"], r[peer]["spread"]), _cpu_sp(r, peer, t))

    def jax_rows(name, t, r, what="per step", label=None):
        """Rows of JAX's two variants; the training target (t = 1) on the faster one, failed
        when JAX's loss differed from fastprop's."""
        best = r.get("best_variant", {}).get("jax")
        check = r.get("jax_loss_check")
        same = check is None or all(check[v]["ok"] for v in ("scan", "loop"))
        for v in ("jax_scan", "jax_loop"):
            if v not in r:
                continue
            tgt = TARGETS["training_vs_jax"] if (v == best and t == "1") else None
            row = list(step_row(name, t, v, r, r["speedup"][v], tgt, what))
            if label is not None:
                row[2] = label(v)
            if tgt is not None and not same:
                verdicts.append(False)
                row[7] = (row[7] + ", " if row[7] else "") + "loss differs"
            rows.append(tuple(row))

    g = workloads.get("gemm")
    if g and "by_threads" in g:
        for t, rowset in g["by_threads"].items():
            for key, r in rowset.items():
                dt, n = key.split("/")
                n = int(n)
                tgt = TARGETS["gemm_vs_numpy"] if (t == "1" and n >= 256) else None
                noise = max(r["fastprop"]["spread"], r["numpy"]["spread"])
                rows.append(("gemm " + dt, t, f"n={n} vs numpy",
                             f"{r['fastprop']['median']:.1f} GF/s",
                             f"{r['numpy']['median']:.1f} GF/s", r["ratio"],
                             tgt, verdict(r["ratio"], tgt), noise,
                             r["cpu_time_ratio"] if t == "1" else NAN))
                if "fma_peak" in r and t == "1":   # other thread counts: in the JSON only
                    peak, frac = r["fma_peak"], r["fraction_of_fma_peak"]
                    tgt2 = TARGETS["gemm_of_peak"] if n >= 256 else None
                    rows.append(("gemm " + dt, t, f"n={n} of FMA peak",
                                 f"{r['fastprop']['median']:.1f} GF/s", f"{peak:.1f} GF/s",
                                 frac, tgt2, verdict(frac, tgt2), NAN,
                                 r["cpu_time"]["fastprop"]["median"] / peak))

    tu = workloads.get("tutorial")
    if tu and "by_threads" in tu:
        for t, r in tu["by_threads"].items():
            for peer, tkey in (("torch", "tutorial_vs_torch"), ("python_scalar", "tutorial_vs_scalar"),
                               ("numpy", None)):
                if peer not in r:
                    continue
                sp = r["speedup"][peer]
                tgt = TARGETS[tkey] if tkey else None
                rows.append(step_row("tutorial 2-3-1", t, peer, r, sp, tgt))
            jax_rows("tutorial 2-3-1", t, r)

    mn = workloads.get("mnist")
    if mn and "by_threads" in mn:
        for t, r in mn["by_threads"].items():
            for peer, tkey in (("numpy", "mnist_vs_numpy"), ("torch", "mnist_vs_torch"),
                               ("torch_compile", None)):
                if peer not in r:
                    continue
                sp = r["speedup"][peer]
                tgt = TARGETS[tkey] if (tkey and t == "1") else None
                rows.append(step_row("784-256-128-10 b128", t, peer, r, sp, tgt))
            jax_rows("784-256-128-10 b128", t, r)
            if "fraction_of_fma_peak" in r:
                frac = r["fraction_of_fma_peak"]
                tgt = TARGETS["mnist_of_fma_peak"] if t == "1" else None
                rows.append(("784-256-128-10 b128", t, "step of FMA peak (GEMM flops)",
                             f"{r['gemm_gflops']:.1f} GF/s", f"{r['fma_peak']:.1f} GF/s", frac,
                             tgt, verdict(frac, tgt), r["fastprop"]["spread"], NAN))
        if "fastprop_2t_over_1t" in mn:
            one = mn["by_threads"]["1"]["fastprop"]["median"]
            two = mn["by_threads"]["2"]["fastprop"]["median"]
            sp = mn["fastprop_2t_over_1t"]
            tgt = TARGETS["mnist_2t_vs_1t"]
            rows.append(("784-256-128-10 b128", "2", "fastprop 2t vs 1t", _fmt_t(two),
                         _fmt_t(one), sp, tgt, verdict(sp, tgt), NAN, NAN))

    bg = workloads.get("big")
    if bg and "by_threads" in bg:
        for t, r in bg["by_threads"].items():
            for peer in ("numpy", "torch"):
                if peer not in r:
                    continue
                sp = r["speedup"][peer]
                tgt = None
                if peer == "numpy" and t == "1":
                    tgt = TARGETS["big_vs_numpy"]
                if peer == "torch" and t == "2":
                    tgt = TARGETS["big_vs_torch_2t"]
                rows.append(step_row("1024-4096-4096-1024 b512", t, peer, r, sp, tgt))
            jax_rows("1024-4096-4096-1024 b512", t, r)

    dg = workloads.get("digits")
    if dg and "by_threads" in dg:
        for t, r in dg["by_threads"].items():
            accs = r["test_accuracy"]
            for peer in ("sklearn", "torch"):
                if peer not in r:
                    continue
                sp = r["speedup"][peer]
                tgt = TARGETS["digits_vs_sklearn"] if peer == "sklearn" else None
                v = verdict(sp, tgt)
                if peer == "sklearn" and not r["accuracy_within_1_point"]:
                    verdicts.append(False)
                    v = (v + ", acc differs > 1 pt") if v else "acc differs > 1 pt"
                rows.append(("digits 64-64-10 200 ep", t,
                             f"fit vs {peer} (acc {accs['fastprop'] * 100:.1f}/"
                             f"{accs[peer] * 100:.1f})",
                             _fmt_t(r["fastprop"]["median"]), _fmt_t(r[peer]["median"]), sp,
                             tgt, v, max(r["fastprop"]["spread"], r[peer]["spread"]),
                             _cpu_sp(r, peer, t)))
            jax_rows("digits 64-64-10 200 ep", t, r, label=lambda v: (
                f"fit vs {v} (acc {accs['fastprop'] * 100:.1f}/{accs[v] * 100:.1f})"))

    pr = workloads.get("predict")
    if pr and "rows" in pr:
        t = str(pr["threads"])
        for key, r in pr["rows"].items():
            arch = key.split()[0]
            name = f"predict 1 row {key}"
            if arch == "2-3-1":
                goal = GOAL_SECONDS["predict_2_3_1_goal"]
                sp = goal / r["fastprop"]["median"]
                tgt = TARGETS["predict_2_3_1_goal"] if t == "1" else None
                rows.append((name, t, "vs the goal", _fmt_t(r["fastprop"]["median"]),
                             _fmt_t(goal), sp, tgt, verdict(sp, tgt), r["fastprop"]["spread"],
                             NAN))
            for peer, sp in r["speedup"].items():
                tkey = {("2-3-1", "numpy_xW"): "predict_2_3_1_vs_numpy_xw",
                        ("784-256-128-10", "onnxruntime"): "predict_784_vs_onnxruntime"}.get(
                            (arch, peer))
                tgt = TARGETS[tkey] if (tkey and t == "1") else None
                rows.append(step_row(name, t, peer, r, sp, tgt, "a call"))

    inf = workloads.get("inference")
    if inf and "by_threads" in inf:
        for t, rowset in inf["by_threads"].items():
            for b, r in rowset.items():
                for peer, sp in r["speedup"].items():
                    tgt = TARGETS["inference_vs_onnxruntime"] \
                        if (peer == "onnxruntime" and t == "1") else None
                    rows.append(step_row(f"inference 784-256-128-10 b{b}", t, peer, r, sp,
                                         tgt, "a call"))

    fc = workloads.get("fitcost")
    if fc and "fastprop" in fc:
        t = str(fc["threads"])
        name = f"fit call 2-3-1, {fc['rows']} rows"
        a = fc["fastprop"]["intercept_s"]
        goal = GOAL_SECONDS["fit_intercept_goal"]
        tgt = TARGETS["fit_intercept_goal"] if t == "1" else None
        sp = goal / a if a > 0 else float("inf")    # a line through noise may cross below 0
        a_cpu = fc.get("fastprop_cpu", {}).get("intercept_s", NAN)
        sp_cpu = goal / a_cpu if a_cpu > 0 else NAN
        rows.append((name, t, "fixed cost vs the goal", _fmt_t(a), _fmt_t(goal), sp, tgt,
                     verdict(sp, tgt), NAN, sp_cpu))
        if "jax" in fc:
            j = fc["jax"]
            c = fc.get("jax_loss_check", {})
            note = "" if c.get("ok", True) else "loss differs"
            rows.append((name, t, "fixed cost vs jax scan", _fmt_t(a), _fmt_t(j["intercept_s"]),
                         fc["speedup"]["jax_intercept"], None, note, NAN, NAN))
            rows.append((name, t, "per step vs jax scan", _fmt_t(fc["fastprop"]["per_step_s"]),
                         _fmt_t(j["per_step_s"]), fc["speedup"]["jax_per_step"], None, note, NAN,
                         NAN))

    pf = workloads.get("partial_fit")
    if pf and "speedup" in pf:
        t = str(pf["threads"])
        name = f"partial_fit 64-64-10 b{pf['batch']}"
        if "torch" in pf:
            rows.append(step_row(name, t, "torch", pf, pf["speedup"]["torch"], None))
        jax_rows(name, t, pf)
    return rows, verdicts


def print_table(results, out=sys.stdout):
    """Prints the table, its legend, the count of targets met and the FMA peak; returns
    build_table's (rows, verdicts)."""
    rows, verdicts = build_table(results)
    head = ("workload", "thr", "comparison", "fastprop", "peer", "speedup", "target", "verdict",
            "noise", "by CPU")

    def x(v):
        return "" if v != v else (f"{v:.2f}x" if v < 100 else f"{v:.0f}x")

    cells = [head]
    for w, t, comp, a, b, sp, tgt, v, noise, cpu_sp in rows:
        cells.append((w, t, comp, a, b, x(sp), "" if tgt is None else f">= {tgt:.3g}x", v,
                      "" if noise != noise else f"{noise * 100:.0f}%", x(cpu_sp)))
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    print(line, file=out)
    for k, c in enumerate(cells):
        print("  ".join(str(v).ljust(w) if i < 3 or i in (7, 8) else str(v).rjust(w)
                        for i, (v, w) in enumerate(zip(c, widths))).rstrip(), file=out)
        if k == 0:
            print(line, file=out)
    print(line, file=out)
    print(f"speedup = peer time / fastprop time (GEMM: fastprop GFLOP/s / numpy GFLOP/s; "
          f"'of FMA peak': fastprop / measured peak), medians of wall times; verdicts use these. "
          f"noise = the larger relative inter-quartile spread of the two contenders' samples. "
          f"by CPU = the same ratio from the thread CPU time of each sample (one thread only), "
          f"which leaves out preemption by the shared host's other load.", file=out)
    print(f"targets met: {sum(verdicts)} of {len(verdicts)}", file=out)
    fma = results.get("fma_peak")
    if fma:
        print(f"FMA peak: {fma['method']}", file=out)
        for t, e in fma["by_threads"].items():
            parts = []
            for dt in ("float32", "float64"):
                if dt in e:
                    parts.append(f"{dt} {e[dt]['max']:.1f} GFLOP/s (loop by wall: max "
                                 f"{e[dt]['loop_max']:.1f}, median {e[dt]['loop_median']:.1f}; "
                                 f"by CPU time: median {e[dt]['cpu_time_median']:.1f})")
            theo = e["theoretical_from_cpuinfo_mhz"]
            fpc = fma.get("vector_bits", 256) // 8
            parts.append(f"cpuinfo {e['cpuinfo_mhz']:.0f} MHz x {fpc}/{fpc // 2} flops/cycle = "
                         f"{theo['float32']:.1f}/{theo['float64']:.1f}")
            print(f"  t={t}: " + "; ".join(parts), file=out)
    return rows, verdicts
