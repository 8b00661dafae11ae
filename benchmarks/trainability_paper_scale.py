"""The trainability study at Schoenholz et al.'s scale, on a GPU, written as a dataset.

``python benchmarks/trainability_paper_scale.py --device cuda --out DIR`` runs
``satsim run trainability --scale full`` on the torch backend (one batched computation
per depth) and writes, next to the resumable study directory, the dataset that ships
with satsim as ``satsim/studies/data/trainability_full/``: every network's validation
accuracy at each checkpoint (``accuracy.csv``), the ReLU experiment's curves and
per-layer gradient norms (``relu_curves.csv``, ``gradients.csv``), and
``provenance.json`` (device, library versions, parameters, wall time, the findings as
the run decided them).  The quick-scale study reads that dataset and shows it as the
paper-scale panel.  ``--override FIELD=VALUE`` changes a parameter (for a smaller
rehearsal on the CPU: ``--device cpu --override width=16 --override steps=20``).
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", required=True, help="study output directory (resumable)")
    ap.add_argument("--dataset", default=None, help="where to write the dataset "
                    "(default OUT/dataset)")
    ap.add_argument("--override", action="append", default=[], metavar="FIELD=VALUE")
    args = ap.parse_args(argv)
    overrides = {"backend": "torch", "device": args.device}
    for item in args.override:
        k, v = item.split("=", 1)
        try:
            overrides[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            overrides[k] = v
    import numpy as np
    import torch

    from satsim.study import run_study

    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 as written, not TF32
    t0 = time.perf_counter()
    res = run_study("trainability", scale="full", seed=0, out=args.out, overrides=overrides)
    wall = time.perf_counter() - t0
    out = Path(args.dataset or Path(args.out) / "dataset")
    out.mkdir(parents=True, exist_ok=True)
    res.tables["accuracy"].to_csv(out / "accuracy.csv", index=False)
    res.tables["relu_curves"].to_csv(out / "relu_curves.csv", index=False)
    res.tables["gradients"].to_csv(out / "gradients.csv", index=False)
    dev = (torch.cuda.get_device_name(0) if args.device.startswith("cuda")
           else platform.processor() or platform.machine())
    prov = {"device": dev, "backend": "torch", "torch": torch.__version__,
            "cuda": torch.version.cuda, "numpy": np.__version__,
            "python": platform.python_version(), "wall_time_s": round(wall, 1),
            "params": res.params, "seed": 0, "scale": "full",
            "findings": [f.to_dict() for f in res.findings],
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str))
    print(f"trainability, full scale, {dev}: {wall:.1f} s")
    for f in res.findings:
        print(f"  {f.verdict:9} {f.id}: {f.observed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
