"""Time per face of the passive anti-spoofing pair (MiniFASNet V2 and V1SE), one thread.

    python -m tools.liveness.passive_bench [--faces DIR] [--repeats 5] [--json PATH]

Real crops: faces found by MTCNN in frames of the clips under
``<faces>/video/liveness`` (genuine and attack). Each face is scored ``--repeats`` times;
the figures are the median and 95th percentile in milliseconds per face for each network
alone and for :meth:`PassiveScorer.score` (both networks, crops and resizing included),
in wall-clock time and, for ``score()``, in the CPU time of the scoring thread (what a
busy shared machine does not inflate by waiting; cache sharing still may). The machine
may be shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from kiosk.domain.faces import Box, ImageArray
from kiosk.vision.detector import FaceDetector
from tools.liveness.frames import faces_dir


def real_faces(root: Path, per_clip: int, detector: FaceDetector) -> list[tuple[ImageArray, Box]]:
    """Up to ``per_clip`` frames with a face from each clip (640 px at most)."""
    out: list[tuple[ImageArray, Box]] = []
    clips = sorted((root / "video" / "liveness").glob("*/*"))
    for path in clips:
        if path.suffix.lower() not in (".mp4", ".mpg", ".gif", ".avi"):
            continue
        cap = cv2.VideoCapture(str(path))
        taken = i = 0
        while taken < per_clip:
            ok, bgr = cap.read()
            if not ok:
                break
            i += 1
            if i % 7:
                continue
            rgb = np.ascontiguousarray(bgr[:, :, ::-1], dtype=np.uint8)
            scale = 640 / max(rgb.shape[:2])
            if scale < 1:
                rgb = np.asarray(cv2.resize(rgb, None, fx=scale, fy=scale), np.uint8)
            faces = detector.detect(rgb)
            if faces:
                out.append((rgb, max(faces, key=lambda f: f.box.area).box))
                taken += 1
        cap.release()
    return out


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "median_ms": round(float(np.median(a)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "n": int(a.size),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=Path, default=faces_dir(), help="the shared faces folder")
    ap.add_argument("--per-clip", type=int, default=3, help="faces taken from each clip")
    ap.add_argument("--repeats", type=int, default=5, help="times each face is scored")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    if not (args.faces / "video" / "liveness").is_dir():
        print(f"error: no clips under {args.faces / 'video' / 'liveness'}", file=sys.stderr)
        return 2

    import torch

    from kiosk.errors import KioskError
    from kiosk.vision.antispoof import PassiveScorer

    torch.set_num_threads(1)
    scorer = PassiveScorer()
    try:
        scorer.load()
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    faces = real_faces(args.faces, args.per_clip, FaceDetector(torch.device("cpu")))
    if not faces:
        print("error: no face found in the clips", file=sys.stderr)
        return 2
    nets = scorer.networks()
    per_net: dict[str, list[float]] = {f.name: [] for f, _ in nets}
    both: list[float] = []
    both_cpu: list[float] = []  # CPU time of this thread: what a shared machine cannot inflate
    for rgb, box in faces[:3]:  # warm-up
        scorer.score(rgb, box)
    load_before = os.getloadavg()
    with torch.inference_mode():
        for _ in range(args.repeats):
            for rgb, box in faces:
                crops = scorer.crops(rgb, box)
                for (f, net), crop in zip(nets, crops, strict=True):
                    x = torch.from_numpy(crop).permute(2, 0, 1).float().unsqueeze(0)
                    t0 = time.perf_counter()
                    net(x)
                    per_net[f.name].append((time.perf_counter() - t0) * 1000)
                t0, c0 = time.perf_counter(), time.thread_time()
                scorer.score(rgb, box)
                both.append((time.perf_counter() - t0) * 1000)
                both_cpu.append((time.thread_time() - c0) * 1000)
    load_after = os.getloadavg()
    networks = {name: _stats(ms) for name, ms in per_net.items()}
    combined = _stats(both)
    combined_cpu = _stats(both_cpu)
    figures = {
        "faces": len(faces),
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "cpu": _cpu_name(),
        "networks": networks,
        "score_both": combined,
        "score_both_cpu_time": combined_cpu,
    }
    print(f"{len(faces)} real faces x {args.repeats}, torch threads {torch.get_num_threads()}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    rows = [
        *networks.items(),
        ("score() (both, crops included)", combined),
        ("score(), CPU time of the thread", combined_cpu),
    ]
    for name, s in rows:
        print(f"  {name:34s} median {s['median_ms']:6.2f} ms  p95 {s['p95_ms']:6.2f} ms")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
