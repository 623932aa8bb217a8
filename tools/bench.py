"""Speed benchmark of the recognition core (a script, not a test).

    python -m tools.bench [--faces DIR] [--json FILE] [--device cpu|cuda] [--quick]
                          [--threads N] [--variants] [--kiosk]

The headline is the kiosk's own configuration: a 640x480 camera stream of a person at
the door, MTCNN looking for door-sized faces (``kiosk_min_face_size``) and following the
face between full searches, the configured network, the search of a 100-person gallery
at its operating point: frame to match, median and 95th percentile. Beside it, on the same
frames in the same run, the two references: face_recognition's default pipeline (dlib HOG
with one upsampling, 5-point landmarks, dlib's network) and facenet-pytorch's own
(MTCNN with its defaults, InceptionResnetV1; random weights, the architecture is what
costs). Also: per-stage times without tracking, on 250x250 LFW images, batch throughput,
1:N search for 1k..1M templates, load time and peak memory. ``--variants`` times the
network's options (channels_last, torch.compile, ONNX Runtime) against plain fp32, with the
largest difference of their output; ``--kiosk`` runs ``bench/kiosk_bench.py`` (the whole
program with its window) and adds recognitions per second, frame to decision and the
kiosk process's peak memory.

Benchmark alone: on 2 cores, anything else running changes the figures by 10x.
"""

from __future__ import annotations

import argparse
import json
import os
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

from kiosk.config import Settings, VisionSettings
from kiosk.vision.imageio import decode_image
from kiosk.vision.matcher import Gallery, build_gallery
from kiosk.vision.pipeline import FacePipeline, StreamPipeline, load_stream, main_face_index
from tools.openset import default_faces_dir

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def door_stream(frames: list[bytes], per_person: int = 20) -> list[np.ndarray]:
    """A camera stream: each frame's person stands for ``per_person`` frames, swaying a
    few pixels each frame (what a camera at a door sees between two people)."""
    out = []
    for data in frames:
        rgb = decode_image(data, "frame").rgb
        for i in range(per_person):
            dx, dy = int(4 * np.sin(i / 3)), int(2 * np.cos(i / 4))
            out.append(np.ascontiguousarray(np.roll(rgb, (dy, dx), axis=(0, 1))))
    return out


def kiosk_times(
    stream: StreamPipeline, vision: VisionSettings, frames: list[np.ndarray]
) -> dict[str, Any]:
    """Frame to match at the kiosk's configuration, as its recognition loop does it."""
    rng = np.random.default_rng(1)
    people = rng.normal(size=(100, 128)).astype(np.float32)
    templates = np.repeat(people, 3, axis=0) + rng.normal(scale=0.1, size=(300, 128)).astype(
        np.float32
    )
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    gallery = build_gallery(
        templates, list(np.arange(300) // 3), vision, stream.pipeline.embedder.device
    )
    total: list[float] = []
    detect: list[float] = []
    rest: list[float] = []
    for rgb in frames:
        t0 = time.perf_counter()
        faces = stream.detect(rgb)
        t1 = time.perf_counter()
        idx = main_face_index(faces, rgb.shape[1], rgb.shape[0])
        if idx is None:
            continue
        result = stream.analyze(rgb, [faces[idx]])[0]
        gallery.search(result.embedding[None, :], None, vision.ambiguity_margin)
        t2 = time.perf_counter()
        detect.append((t1 - t0) * 1e3)
        rest.append((t2 - t1) * 1e3)
        total.append((t2 - t0) * 1e3)
    st = stream.tracker.stats
    return {
        "frame_to_match_median": round(statistics.median(total), 2),
        "frame_to_match_p95": percentile(total, 95),
        "detect_median": round(statistics.median(detect), 2),
        "align_embed_match_median": round(statistics.median(rest), 2),
        "frames": len(total),
        "full_searches": st.full,
        "region_searches": st.region,
        "lost": st.lost,
        "refined": st.refined,
        "kiosk_min_face_size": vision.kiosk_min_face_size,
    }


def facenet_reference(frames: list[bytes], repeat: int, device: torch.device) -> dict[str, Any]:
    """facenet-pytorch's own pipeline with its defaults: MTCNN (min face 20) cropping the
    face to 160x160, then InceptionResnetV1 (random weights: timing only)."""
    from facenet_pytorch import MTCNN, InceptionResnetV1

    mtcnn = MTCNN(device=device)
    net = InceptionResnetV1(pretrained=None).eval().to(device)
    det: list[float] = []
    emb: list[float] = []
    with torch.inference_mode():
        for _ in range(repeat):
            for data in frames:
                rgb = decode_image(data, "frame").rgb
                t0 = time.perf_counter()
                face = mtcnn(rgb)
                t1 = time.perf_counter()
                if face is None:
                    continue
                net(face[None].to(device))
                t2 = time.perf_counter()
                det.append((t1 - t0) * 1e3)
                emb.append((t2 - t1) * 1e3)
    return {
        "detect_and_crop": round(statistics.median(det), 2),
        "embed": round(statistics.median(emb), 2),
        "frame_to_embedding": round(statistics.median(det) + statistics.median(emb), 2),
        "frames": len(det),
    }


def variants(pipeline: FacePipeline, chips: list[np.ndarray]) -> dict[str, Any]:
    """The network's options against plain fp32 on single faces (chip and mirror in one
    batch, as the kiosk runs it): median ms and the largest output difference."""
    embedder = pipeline.embedder
    x = torch.from_numpy(np.stack(chips[:1] * 2)).permute(0, 3, 1, 2).float()
    if embedder.spec.bgr:
        x = x.flip(1)
    x = x.contiguous()
    net = embedder.net
    out: dict[str, Any] = {}
    with torch.inference_mode():
        ref = net(x)
        out["fp32"] = {"ms": round(median_ms(lambda: net(x), 30), 2), "max_diff": 0.0}
        xl = x.contiguous(memory_format=torch.channels_last)
        cl = net.to(memory_format=torch.channels_last)
        y = cl(xl)
        out["channels_last"] = {
            "ms": round(median_ms(lambda: cl(xl), 30), 2),
            "max_diff": float((y - ref).abs().max()),
        }
        net.to(memory_format=torch.contiguous_format)
    try:
        compiled = torch.compile(net)
        with torch.inference_mode():
            y = compiled(x)
            out["torch_compile"] = {
                "ms": round(median_ms(lambda: compiled(x), 30), 2),
                "max_diff": float((y - ref).abs().max()),
            }
    except Exception as exc:  # a missing compiler is a result too
        out["torch_compile"] = {"error": str(exc).splitlines()[0][:200]}
    try:
        import io

        import onnxruntime as ort

        buf = io.BytesIO()
        plain = x.clone()  # made outside inference mode: the exporter traces it
        with torch.no_grad():
            torch.onnx.export(net, (plain,), buf, input_names=["x"], dynamo=False)  # type: ignore[arg-type]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy()}
        y_np = session.run(None, feed)[0]
        out["onnxruntime"] = {
            "ms": round(median_ms(lambda: session.run(None, feed), 30), 2),
            "max_diff": float(np.abs(y_np - ref.numpy()).max()),
        }
    except Exception as exc:
        out["onnxruntime"] = {"error": str(exc).splitlines()[0][:200]}
    return out


def kiosk_program(seconds: int) -> dict[str, Any]:
    """The whole kiosk (camera thread, recognition, window) on a video: bench/kiosk_bench.py."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kiosk.json"
        done = subprocess.run(
            [
                sys.executable,
                str(REPO / "bench" / "kiosk_bench.py"),
                "--seconds",
                str(seconds),
                "--json",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=seconds * 10 + 300,
        )
        if done.returncode != 0 or not out.exists():
            return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


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
        emb = Embedder(device, flip_average=True, batch_size=256, precision=precision)  # sface
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
    parser.add_argument("--no-reference", action="store_true", help="skip the references")
    parser.add_argument("--threads", type=int, help="torch's intra-op threads (default: torch's)")
    parser.add_argument("--variants", action="store_true", help="time the network's options")
    parser.add_argument(
        "--kiosk", type=int, default=0, metavar="SECONDS", help="also run the whole kiosk"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
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
        "settings": {
            "network": vision.network,
            "min_face_size": vision.min_face_size,
            "kiosk_min_face_size": vision.kiosk_min_face_size,
            "flip_average": vision.flip_average,
        },
        "load_average": list(os.getloadavg()),
    }
    t = time.perf_counter()
    pipeline = FacePipeline.load(vision)
    report["model_load_s"] = round(time.perf_counter() - t, 2)
    report["device"] = pipeline.device
    if pipeline.device == "cuda":
        report["machine"]["gpu"] = torch.cuda.get_device_name(0)

    frames = kiosk_frames(args.faces, 10)
    lfw = [p.read_bytes() for p in sorted((args.faces / "lfw_dev").glob("*/*.jpg"))[:20]]
    stream = load_stream(vision)
    door = door_stream(frames, 8 if args.quick else 20)
    kiosk_times(stream, vision, door[:10])  # warm-up
    stream.tracker.reset()
    report["kiosk_defaults_640x480"] = kiosk_times(stream, vision, door)
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
        report["facenet_reference_640x480"] = facenet_reference(
            frames, repeat, pipeline.embedder.device
        )
        ours = report["kiosk_defaults_640x480"]["frame_to_match_median"]
        report["speedup"] = {
            "vs_face_recognition": round(
                report["dlib_reference_640x480"]["frame_to_embedding"] / ours, 1
            ),
            "vs_facenet_pytorch": round(
                report["facenet_reference_640x480"]["frame_to_embedding"] / ours, 1
            ),
        }
    if args.variants:
        report["network_variants"] = variants(pipeline, chips)
    if args.kiosk:
        report["kiosk_program"] = kiosk_program(args.kiosk)
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
