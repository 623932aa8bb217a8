"""Step 6: the summary (each rule's figures, and each method's lowest FNIR at FPIR at most
1 % and 5 % over the sweep) and the printed report.
"""

from __future__ import annotations

from typing import Any

from kiosk.config import FUSION_METHODS
from tools.decision_eval.figures import Tally, rate_figure
from tools.decision_eval.rules import FRAME_VARIANTS, SWEEP, SWEEP_RATE, TARGETS


def at_fpir(tallies: dict[str, Tally], method: str, target: float) -> dict[str, Any] | None:
    """The lowest FNIR of ``method`` over the sweep among thresholds whose FPIR is at
    most ``target`` (an upper bound need not hold: this compares methods, it is not a
    figure to promise)."""
    best: tuple[float, str, Tally] | None = None
    if method == "single frame":
        base = method
    elif "," in method:  # fused, up to 3 frames
        name, frames = method.split(",", 1)
        base = f"{name} @ {SWEEP_RATE:g}/s,{frames}"
    else:
        base = f"{method} @ {SWEEP_RATE:g}/s"
    for part in SWEEP:
        name = base if part == 1.0 else f"{base} x{part:g}"
        tally = tallies.get(name)
        if tally is None or not tally.strangers or tally.accepted / tally.strangers > target:
            continue
        fnir = tally.missed / tally.mated if tally.mated else 1.0
        if best is None or fnir < best[0]:
            best = (fnir, name, tally)
    if best is None:
        return None
    tally = best[2]
    return {
        "at": best[1],
        "FNIR": rate_figure(tally.missed, tally.mated),
        "FPIR": rate_figure(tally.accepted, tally.strangers),
    }


def summarize(scopes: dict[str, dict[str, Tally]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scope, tallies in scopes.items():
        rules = {name: tally.figures() for name, tally in tallies.items()}
        compare = {
            f"FNIR at FPIR <= {100 * target:g} %": {
                method: at_fpir(tallies, method, target)
                for method in ("single frame", *FUSION_METHODS, *FRAME_VARIANTS)
            }
            for target in TARGETS
        }
        out[scope] = {"rules": rules, "compare": compare}
    return out


def report(results: dict[str, Any]) -> str:
    lines = []
    for scope, figures in results.items():
        lines.append(f"\n{scope}")
        lines.append(f"  {'rule':30} {'FNIR':>26} {'FPIR':>26} {'wrong':>6} {'ms med/max':>12}")
        for name, f in figures["rules"].items():
            ms = f["ms_to_decision"]
            timing = f"{ms['median']}/{ms['max']}" if ms["median"] is not None else "-"
            lines.append(
                f"  {name:30} {f['FNIR']['text']:>26} {f['FPIR']['text']:>26} "
                f"{f['wrong_person']['count']:>6} {timing:>12}"
            )
        for target, methods in figures["compare"].items():
            lines.append(f"  {target}:")
            for method, best in methods.items():
                if best is None:
                    lines.append(f"    {method:24} no threshold of the sweep gets there")
                else:
                    lines.append(
                        f"    {method:24} FNIR {best['FNIR']['text']} (FPIR "
                        f"{best['FPIR']['text']}; {best['at']})"
                    )
    return "\n".join(lines)
