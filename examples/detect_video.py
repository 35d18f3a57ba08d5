#!/usr/bin/env python3
"""Runs a compiled plan on a video with the fluxshard Python package and prints one JSON line per frame,
as `fluxshard run --json` does: {"frame":0,"detections":[{"cls":0,"name":"person","score":0.91,"box":[...]}]}.

usage: detect_video.py PLAN.fsp VIDEO [--mode dense|exact|fluxshard] [--threads N] [--max-frames N]"""
import argparse
import json

import fluxshard


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plan")
    ap.add_argument("video")
    ap.add_argument("--mode", default="dense", choices=sorted(fluxshard.MODES))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--max-frames", type=int, default=None)
    args = ap.parse_args()
    try:
        session = fluxshard.Session(fluxshard.Plan(args.plan), mode=args.mode, threads=args.threads)
        for r in session.run(args.video, max_frames=args.max_frames):
            dets = [{"cls": int(c), "name": n, "score": float(s), "box": [float(v) for v in b]}
                    for c, n, s, b in zip(r.classes, r.names, r.scores, r.boxes)]
            print(json.dumps({"frame": r.frame, "detections": dets}, separators=(",", ":")), flush=True)
    except fluxshard.Error as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()
