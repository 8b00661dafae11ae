"""Costs and regularisation, Nielsen's chapter 3.  The same 784-30-10 network is trained
with the quadratic cost (sigmoid output), cross-entropy (sigmoid output) and
log-likelihood (softmax output).  Then Nielsen's overfitting experiment: only 1,000
training images, with and without L2 regularisation (λ = 0.1 over 400 epochs, the
book's protocol, at full scale; λ = 1 over 60 epochs at the quick scale); without it the network fits its training images almost perfectly
while the test accuracy stalls, with it the gap between training and test accuracy
closes."""

from __future__ import annotations

import dataclasses

import pandas as pd

from satsim import data
from satsim.plotting import LinePlot
from satsim.study import Finding, StudyContext, StudyResult

TITLE = "Costs and L2 regularisation (Nielsen ch. 3)"
ORDER = 80


@dataclasses.dataclass(frozen=True)
class Params:
    epochs: int = 3
    train_size: int = 10_000
    small_train: int = 1_000
    small_epochs: int = 60
    eta: float = 0.5
    lmbda: float = 1.0  # quick scale: 60 epochs; λ = 0.1 needs Nielsen's 400


FULL = {"epochs": 30, "train_size": 50_000, "small_epochs": 400, "lmbda": 0.1}
TEST = {"epochs": 2, "train_size": 5_000}


def run(params: Params, ctx: StudyContext) -> StudyResult:
    from satsim import sweep
    from satsim.nn.experiment import train_cell

    ds = data.load("fashion-mnist")
    common = {"sizes": [784, 30, 10], "batch_size": 10, "telemetry": False,
              "dataset": "fashion-mnist", "validate_on": "test"}
    costs_grid = sweep.zipped(
        fixed={**common, "epochs": params.epochs, "train_size": params.train_size,
               "monitor_training": False, "experiment": "costs"},
        cost=["quadratic", "cross_entropy", "log_likelihood"],
        output=["sigmoid", "sigmoid", "softmax"], eta=[0.5, 0.1, 0.1],
        label=["quadratic", "cross-entropy", "softmax + log-likelihood"])
    reg_grid = sweep.product(
        fixed={**common, "epochs": params.small_epochs, "train_size": params.small_train,
               "eta": params.eta, "monitor_training": True, "experiment": "regularisation"},
        lmbda=[0.0, params.lmbda])
    costs, reg = [], []
    for rec in ctx.run_grid(train_cell, costs_grid + reg_grid):
        frame = pd.DataFrame(rec["history"])
        if rec["experiment"] == "costs":
            costs.append(frame.assign(cost=rec["label"]))
        else:
            reg.append(frame.assign(regularisation=f"λ = {rec['lmbda']}"))
    costs = pd.concat(costs, ignore_index=True).sort_values(["cost", "epoch"])
    reg = pd.concat(reg, ignore_index=True).sort_values(["regularisation", "epoch"])
    reg["gap"] = reg.train_accuracy - reg.validation_accuracy
    last = reg[reg.epoch == reg.epoch.max()].set_index("regularisation")
    on, off = f"λ = {params.lmbda}", "λ = 0.0"
    final = costs[costs.epoch == costs.epoch.max()].set_index("cost")
    findings = [
        Finding(id="all_costs_learn", claim="every cost/output pairing learns",
                expected="final test accuracy > 0.6", observed=float(final.validation_accuracy.min()),
                method="accuracy on the test images", passed=bool((final.validation_accuracy > 0.6).all())),
        Finding(id="l2_narrows_gap", claim="L2 narrows the train–test gap on 1,000 images",
                expected=f"gap({on}) < gap({off})",
                observed=f"{last.loc[on, 'gap']:.3f} vs {last.loc[off, 'gap']:.3f}",
                method=f"final-epoch accuracies after {params.small_epochs} epochs",
                passed=bool(last.loc[on, "gap"] < last.loc[off, "gap"])),
    ]
    figures = [
        LinePlot(id="costs", table="costs", x="epoch", y="validation_accuracy", hue="cost",
                 hue_title="cost (output)", integer_x=True,
                 title="Test accuracy per epoch by cost function",
                 caption=f"784-30-10 trained on {params.train_size} images ({ds.source}).",
                 xlabel="epoch", ylabel="test accuracy"),
        LinePlot(id="overfitting", table="regularisation", x="epoch", y="gap",
                 hue="regularisation", hue_title="L2", marker="", integer_x=True,
                 title="Overfitting on 1,000 images",
                 caption="Training minus test accuracy per epoch, with and without L2.",
                 xlabel="epoch", ylabel="train − test accuracy"),
    ]
    return StudyResult(name="costs_and_regularization", title=TITLE, description=__doc__,
                       params=dataclasses.asdict(params), tables={"costs": costs, "regularisation": reg},
                       figures=figures, findings=findings)


def main(argv=None):
    from satsim.study import main as study_main

    return study_main(__file__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
