"""Plots a training run's loss curve: python3 scripts/plot_train.py RUN_DIR [OUT.png]
Reads RUN_DIR/train/curve.csv (written by grlm train) and writes RUN_DIR/train/curve.png:
training loss (and validation loss when measured) against steps, learning rate on a second axis.
Python is for plots only; grlm itself never runs it."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

run_dir = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else f"{run_dir}/train/curve.png"
rows = list(csv.DictReader(open(f"{run_dir}/train/curve.csv")))
steps = [int(r["step"]) for r in rows]
figure, loss_axis = plt.subplots(figsize=(7, 4))
loss_axis.plot(steps, [float(r["loss"]) for r in rows], label="training loss", linewidth=1)
validation = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
if validation:
    loss_axis.plot(*zip(*validation), "o-", label="validation loss")
loss_axis.set_xlabel("optimizer step")
loss_axis.set_ylabel("mean token loss")
lr_axis = loss_axis.twinx()
lr_axis.plot(steps, [float(r["lr"]) for r in rows], color="grey", linestyle=":", label="learning rate")
lr_axis.set_ylabel("learning rate")
handles = loss_axis.get_legend_handles_labels()[0] + lr_axis.get_legend_handles_labels()[0]
loss_axis.legend(handles, [h.get_label() for h in handles], loc="upper right")
figure.tight_layout()
figure.savefig(out, dpi=120)
print(out)
