"""Speed benchmark of the recognition core (a script, not a test).

    python -m tools.bench [--faces DIR] [--json FILE] [--device cpu|cuda] [--quick]

Prints per-stage median times (decode, detect, align, embed, match) on 640x480 frames
with one face and on 250x250 LFW images, faces per second when embedding in batches,
1:N search time for 1k..1M synthetic templates, model load time and peak memory; and the
face_recognition library's default pipeline (dlib HOG with one upsampling, 5-point
landmarks, dlib's own network) on the same frames, as the reference to beat.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from kiosk.config import Settings
from kiosk.vision.imageio import decode_image
from kiosk.vision.matcher import Gallery
from kiosk.vision.pipeline import FacePipeline, main_face_index
from tools.openset import default_faces_dir


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def kiosk_frames(faces: Path, count: int) -> list[bytes]:
    """640x480 JPEG frames with one face filling about a third of the height, as a person
    standing at a kiosk; made from the deepface photos."""
    out = []
    for photo in sorted((faces / "deepface").glob("*/img*.jpg"))[: count * 2]:
        img = cv2.imread(str(photo))
        if img is None:
            continue
        h, w = img.shape[:2]
        scale = 480 / h
        img = cv2.resize(img, (max(1, int(w * scale)), 480), interpolation=cv2.INTER_AREA)
        canvas = np.full((480, 640, 3), 128, np.uint8)
        x0 = max(0, (640 - img.shape[1]) // 2)
        crop = img[:, max(0, (img.shape[1] - 640) // 2) :][:, :640]
        canvas[:, x0 : x0 + crop.shape[1]] = crop
        out.append(cv2.imencode(".jpg", canvas)[1].tobytes())
        if len(out) == count:
            break
    return out


def stage_times(pipeline: FacePipeline, frames: list[bytes], repeat: int) -> dict[str, float]:
    decode: list[float] = []
    detect: list[float] = []
    align: list[float] = []
    embed: list[float] = []
    match: list[float] = []
    total: list[float] = []
    gallery = Gallery(
        np.random.default_rng(0).normal(size=(1000, 128)).astype(np.float32), list(range(1000))
    )
    for _ in range(repeat):
        for data in frames:
            t0 = time.perf_counter()
            rgb = decode_image(data, "frame").rgb
            t1 = time.perf_counter()
            faces = pipeline.detect(rgb)
            t2 = time.perf_counter()
            idx = main_face_index(faces, rgb.shape[1], rgb.shape[0])
            if idx is None:
                continue
            chips = pipeline.align(rgb, [faces[idx]])
            t3 = time.perf_counter()
            emb = pipeline.embed(chips)
            t4 = time.perf_counter()
            gallery.search(emb, 0.6)
            t5 = time.perf_counter()
            for bucket, a, b in (
                (decode, t0, t1),
                (detect, t1, t2),
                (align, t2, t3),
                (embed, t3, t4),
                (match, t4, t5),
                (total, t1, t5),
            ):
                bucket.append((b - a) * 1e3)
    return {
        name: round(statistics.median(v), 2)
        for name, v in (
            ("decode", decode),
            ("detect", detect),
            ("align", align),
            ("embed", embed),
            ("match", match),
            ("frame_to_match", total),
        )
    } | {"frames": len(total)}


def dlib_reference(frames: list[bytes], repeat: int) -> dict[str, float]:
    """face_recognition's defaults: HOG detector with one upsampling, 5-point model,
    dlib's network (what ``face_recognition.face_encodings`` runs)."""
    import dlib

    from kiosk.vision import weights

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(weights.models_dir() / weights.SHAPE5_FILE))
    net = dlib.face_recognition_model_v1(str(weights.models_dir() / weights.RESNET_FILE))
    det: list[float] = []
    enc: list[float] = []
    for _ in range(repeat):
        for data in frames:
            rgb = decode_image(data, "frame").rgb
            t0 = time.perf_counter()
            rects = detector(rgb, 1)
            t1 = time.perf_counter()
            if not rects:
                continue
            shape = predictor(rgb, rects[0])
            net.compute_face_descriptor(rgb, shape, 0)
            t2 = time.perf_counter()
            det.append((t1 - t0) * 1e3)
            enc.append((t2 - t1) * 1e3)
    return {
        "detect": round(statistics.median(det), 2),
        "landmarks_and_embed": round(statistics.median(enc), 2),
        "frame_to_embedding": round(statistics.median(det) + statistics.median(enc), 2),
        "frames": len(det),
    }


def _search_once(gallery: Gallery, query: np.ndarray) -> Callable[[], object]:
    return lambda: gallery.search(query, 0.6)


def search_times(device: torch.device, sizes: list[int]) -> dict[str, float]:
    rng = np.random.default_rng(0)
    out = {}
    for n in sizes:
        templates = rng.normal(size=(n, 128)).astype(np.float32)
        gallery = Gallery(templates, (np.arange(n) // 10).tolist(), device)
        query = rng.normal(size=(1, 128)).astype(np.float32)
        gallery.search(query, 0.6)  # warm-up
        out[str(n)] = round(median_ms(_search_once(gallery, query), 11), 2)
        del gallery, templates
    return out


def _timed_gpu_embed(emb: Any, batch: list[np.ndarray]) -> Callable[[], object]:
    def run() -> None:
        emb.embed(batch)
        torch.cuda.synchronize()

    return run


def precision_check(device: torch.device, chips: list[np.ndarray]) -> dict[str, Any]:
    """GPU only: fp32 against fp16 + channels_last, speed and largest difference."""
    from kiosk.vision.embedder import Embedder

    batch = (chips * 16)[:256]
    out: dict[str, Any] = {}
    ref = None
    for precision in ("fp32", "fp16"):
        emb = Embedder(device, flip_average=True, batch_size=256, precision=precision)
        result = emb.embed(batch)
        torch.cuda.synchronize()
        ms = median_ms(_timed_gpu_embed(emb, batch), 7)
        ref = result if ref is None else ref
        out[precision] = {
            "faces_per_s": round(len(batch) / ms * 1e3, 1),
            "max_abs_diff_vs_fp32": float(np.abs(result - ref).max()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--faces", type=Path, default=default_faces_dir())
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--device", default=None, help="cpu, cuda (default: the configured one)")
    parser.add_argument("--min-face-size", type=int, default=None, help="MTCNN's smallest face")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, search up to 100k")
    parser.add_argument("--no-reference", action="store_true", help="skip the dlib reference")
    args = parser.parse_args(argv)
    settings = Settings.load()
    vision = settings.vision
    if args.device:
        vision = replace(vision, device=args.device)
    if args.min_face_size:
        vision = replace(vision, min_face_size=args.min_face_size)
    repeat = 1 if args.quick else 3
    report: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
        },
        "settings": {"min_face_size": vision.min_face_size, "flip_average": vision.flip_average},
    }
    t = time.perf_counter()
    pipeline = FacePipeline.load(vision)
    report["model_load_s"] = round(time.perf_counter() - t, 2)
    report["device"] = pipeline.device
    if pipeline.device == "cuda":
        report["machine"]["gpu"] = torch.cuda.get_device_name(0)

    frames = kiosk_frames(args.faces, 10)
    lfw = [p.read_bytes() for p in sorted((args.faces / "lfw_dev").glob("*/*.jpg"))[:20]]
    stage_times(pipeline, frames[:2], 1)  # warm-up
    report["frame_640x480"] = stage_times(pipeline, frames, repeat)
    report["lfw_250x250"] = stage_times(pipeline, lfw, repeat)

    chips = [r.chip for data in lfw for r in pipeline.analyze(decode_image(data, "x").rgb)][:16]
    batch = (chips * 4)[:64]
    for size in (1, 8, 32, 64):
        part = batch[:size]
        ms = median_ms(lambda part=part: pipeline.embed(part), 3 if size > 8 else 7)  # type: ignore[misc]
        report.setdefault("embed_faces_per_s", {})[str(size)] = round(size / ms * 1e3, 1)
    sizes = [1_000, 10_000, 100_000] + ([] if args.quick else [1_000_000])
    report["search_ms"] = search_times(pipeline.embedder.device, sizes)
    if not args.no_reference:
        report["dlib_reference_640x480"] = dlib_reference(frames, repeat)
    if pipeline.device == "cuda":
        report["gpu_precision"] = precision_check(pipeline.embedder.device, chips)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if pipeline.device == "cuda":
        report["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
