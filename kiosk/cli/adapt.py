"""``kiosk adapt``: train the site head on the enrolled people, show it, switch it on or
off, remove it (the console's security page calls the same services).

    kiosk adapt                 train on every enrolled photo (tools/adapt_bench.py times it)
    kiosk adapt --status        what is stored, whether it is on, whether it still fits
    kiosk adapt --on | --off    search through it from the next kiosk start, or not
    kiosk adapt --remove        delete it

Training stores the head but does not switch it on: the figures it prints (this site's
people, each searched by a head that never saw them, with and without the head) are what
to decide on.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kiosk.cli.common import add_auth_arguments, login, opened_store
from kiosk.config import Settings


def cmd_adapt(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk import app
    from kiosk.services.adaptation import AdaptationService
    from kiosk.services.adaptation_report import AdaptProgress
    from kiosk.services.security_level import SecurityLevelService

    with opened_store(settings) as store:
        service = AdaptationService(store, settings, lambda: app.load_pipeline(settings))
        if args.status:
            state = service.state()
            print(state.describe())
            if state.head is not None and state.problem is None:
                p = state.head.operating_point(settings.vision, state.head.people)
                site = p.fpir_text().replace("development photos", "site's photos")
                print(f"with it: threshold {p.threshold:.3f}; {site}")
            return 0 if state.problem is None else 1
        actor = login(args, store)
        if args.remove:
            removed = service.remove(actor)
            print("site head removed" if removed else "there was no site head")
            return 0
        if args.on or args.off:
            security = SecurityLevelService(store, settings)
            path = security.set_adaptation(actor, bool(args.on))
            print(
                f"site adaptation {'on' if args.on else 'off'} written to {path}; restart the "
                "kiosks"
            )
            if args.on:
                state = service.state()
                if state.head is None or state.problem is not None:
                    print(f"warning: {state.describe()}", file=sys.stderr)
            if security.overridden_by_environment():
                print(
                    "warning: "
                    + ", ".join(security.overridden_by_environment())
                    + " in the environment overrides the file",
                    file=sys.stderr,
                )
            return 0

        last = [""]

        def progress(p: AdaptProgress) -> None:
            if p.stage != last[0] or p.done == p.total:
                print(f"{p.percent:3d} % {p.stage} ({p.done}/{p.total})", file=sys.stderr)
                last[0] = p.stage

        result = service.train(actor, progress=progress, views_per_photo=args.views, kind=args.kind)
        assert result is not None  # no stop event on the command line
        head, c = result.head, result.comparison
        epochs = head.report.get("training", {}).get("best_epoch")
        print(
            f"site head {head.version} stored ({head.people:,} people, {head.templates:,} "
            f"photos, {result.augmented:,} augmented from their crops, best epoch {epochs}, "
            f"{result.seconds:.0f} s)"
        )
        print("this site's people, each searched by a head trained without them:")
        for line in c.lines():
            print(f"  {line}")
        print(c.verdict())
        if not result.matches_now:
            print("warning: the enrolled people changed while training: train again")
        print(
            "the head is "
            + (
                "in use from the next kiosk start"
                if settings.vision.adaptation
                else "not in use: `kiosk adapt --on` switches it on"
            )
        )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "adapt",
        help="train the site head on the enrolled people (or --status, --on, --off, --remove)",
        description=(__doc__ or "").split("\n\n")[0],
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--status", action="store_true", help="show the stored head and its state")
    what.add_argument("--on", action="store_true", help="search through the head (next start)")
    what.add_argument("--off", action="store_true", help="search without it (next start)")
    what.add_argument("--remove", action="store_true", help="delete the stored head")
    p.add_argument(
        "--views",
        type=int,
        default=0,
        choices=range(0, 9),
        metavar="N",
        help="augmented views of each stored crop (0-8; default 0: they did not help)",
    )
    p.add_argument("--kind", choices=("linear", "mlp"), help="the head (default linear)")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_adapt)
