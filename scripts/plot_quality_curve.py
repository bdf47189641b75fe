"""Plots Recall@10 against training time:
  python3 scripts/plot_quality_curve.py RUN_DIR POINTS_DIR [OUT.png] [--also LABEL=CSV ...]
POINTS_DIR holds one metrics.json per evaluated export, named step-N.json (train.export_steps)
or model.json (the final model); the training time of step N is the sum of the step times in
RUN_DIR/train/curve.csv up to N (so resumed runs count only time spent training). Writes the PNG
(default RUN_DIR/recall_vs_time.png) and a CSV beside it; --also draws an earlier run's CSV (as
written here) for comparison. Python is for plots only."""
import argparse
import csv
import glob
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("run_dir")
parser.add_argument("points_dir")
parser.add_argument("out", nargs="?")
parser.add_argument("--also", action="append", default=[], metavar="LABEL=CSV")
args = parser.parse_args()
run_dir, points_dir = args.run_dir, args.points_dir
out = args.out or os.path.join(run_dir, "recall_vs_time.png")
rows = list(csv.DictReader(open(os.path.join(run_dir, "train", "curve.csv"))))
elapsed, total = {}, 0.0
for row in rows:
    total += float(row["seconds"])
    elapsed[int(row["step"])] = total
last_step = max(elapsed)
points = []
for path in glob.glob(os.path.join(points_dir, "*.json")):
    name = os.path.splitext(os.path.basename(path))[0]
    step = last_step if name == "model" else int(name.removeprefix("step-"))
    metrics = json.load(open(path))
    points.append((elapsed[step], step, metrics["recall@10"], metrics["ndcg@10"], metrics["num_users"]))
points.sort()
with open(os.path.splitext(out)[0] + ".csv", "w") as table:
    table.write("train_seconds,step,recall@10,ndcg@10,users\n")
    for point in points:
        table.write(",".join(str(value) for value in point) + "\n")
figure, axis = plt.subplots(figsize=(7, 4))
axis.plot([p[0] / 60 for p in points], [p[2] for p in points], "o-", label="grlm (this run)")
for also in args.also:
    label, path = also.split("=", 1)
    earlier = list(csv.DictReader(open(path)))
    axis.plot([float(r["train_seconds"]) / 60 for r in earlier], [float(r["recall@10"]) for r in earlier], "s-",
              alpha=0.6, label=label)
for name, recall, style in (("last-item transition", 0.0718, "--"), ("SASRec", 0.0605, ":"), ("TIGER", 0.0648, "-.")):
    axis.axhline(recall, color="grey", linestyle=style, linewidth=1, label=f"{name} {recall}")
axis.set_xlabel("training time (minutes)")
axis.set_ylabel(f"Recall@10 (first {points[0][4]} test users)")
axis.set_ylim(bottom=0)
axis.legend(loc="lower right", fontsize=8)
figure.tight_layout()
figure.savefig(out, dpi=120)
print(f"wrote {out}")
