"""What :func:`satsim.analyze.analyze` concludes and how it reads: the findings, the
plain-language overview, the key numbers and the report sections."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from satsim.analyze._numpy import AnalysisResult


def _findings(layers: pd.DataFrame, training: pd.DataFrame, mf: pd.DataFrame, margin: float,
              std_margin: float, *, n_classes: int | None, Finding: Any) -> list:
    out = []
    main = "data" if (layers.inputs == "data").any() else "gaussian"
    for r in layers[layers.inputs == main].itertuples():
        if math.isfinite(r.saturated):
            ok = (r.saturated_ci_low - margin <= r.saturated_predicted
                  <= r.saturated_ci_high + margin)
            out.append(Finding(
                id=f"saturation_{r.scheme}_layer{r.layer}",
                claim=f"{r.scheme} saturates {100 * r.saturated:.3g}% of layer-{r.layer} units "
                      f"at init ({r.activation}, {main} inputs); prediction "
                      f"{100 * r.saturated_predicted:.3g}%, CI [{100 * r.saturated_ci_low:.3g}, "
                      f"{100 * r.saturated_ci_high:.3g}]",
                expected=r.saturated_predicted, observed=r.saturated,
                method=f"mean-field prediction inside the two-way 95% CI ± {margin:g}",
                passed=bool(ok)))
        ok = ((1 - std_margin) * r.z_rms_ci_low <= r.z_rms_predicted
              <= (1 + std_margin) * r.z_rms_ci_high)
        out.append(Finding(
            id=f"z_rms_{r.scheme}_layer{r.layer}",
            claim=f"{r.scheme}: rms of layer-{r.layer} z is {r.z_rms:.3g} "
                  f"(CI [{r.z_rms_ci_low:.3g}, {r.z_rms_ci_high:.3g}]); theory "
                  f"{r.z_rms_predicted:.3g}",
            expected=r.z_rms_predicted, observed=r.z_rms,
            method=f"theory inside the CI widened by {100 * std_margin:g}%",
            passed=bool(ok)))
    if len(training) and n_classes:
        last = training[training.epoch == training.epoch.max()]
        for r in last.itertuples():
            # undecided while the interval straddles chance (too few seeds to tell)
            chance = 1 / n_classes
            verdict = (None if not math.isfinite(r.accuracy_ci_low) else True
                       if r.accuracy_ci_low > chance else False
                       if r.accuracy_ci_high < chance else None)
            out.append(Finding(
                id=f"trains_{r.scheme}",
                claim=f"{r.scheme} learns above chance ({100 / n_classes:.3g}%) in {r.epoch} "
                      f"epoch(s): {100 * r.accuracy:.3g}% [{100 * r.accuracy_ci_low:.3g}, "
                      f"{100 * r.accuracy_ci_high:.3g}]",
                expected=f"> {1 / n_classes:.3g}", observed=r.accuracy,
                method=f"t interval over {r.n_seeds} seeds against chance (undecided while "
                       f"it contains chance)",
                passed=verdict))
    return out


def _overview(res: AnalysisResult) -> str:
    sizes = "-".join(map(str, res.sizes))
    acts = "/".join(dict.fromkeys(res.activations[:-1]))
    units = f"{acts} hidden units" if acts else "no hidden layer"
    main = "data" if (res.layers.inputs == "data").any() else "gaussian"
    parts = [f"Network {sizes} ({units}), schemes {', '.join(res.schemes)}."]
    for scheme in res.schemes:
        lay = res.layers[(res.layers.scheme == scheme) & (res.layers.inputs == main)]
        hidden = lay[np.isfinite(lay.saturated)]
        text = f"{scheme}:"
        if len(hidden):
            worst = hidden.loc[hidden.saturated.idxmax()]
            text += (f" at most {100 * worst.saturated:.3g}% of units saturated at init "
                     f"(layer {int(worst.layer)}, predicted "
                     f"{100 * worst.saturated_predicted:.3g}%)")
        mf = res.meanfield[res.meanfield.scheme == scheme]
        if len(mf):
            r = mf.iloc[0]
            text += (f"; mean field: {r.phase} phase (χ1 = {r.chi1:.3g}, σ_w² = "
                     f"{r.sigma_w2:.3g} vs critical {r.critical_sigma_w2:.3g}), correlation "
                     f"depth scale ξ_c = {r.xi_c:.3g} layers")
        tr = res.training[res.training.scheme == scheme] if len(res.training) else None
        if tr is not None and len(tr):
            r = tr.iloc[-1]
            text += (f"; validation accuracy after {int(r.epoch)} epoch(s) "
                     f"{100 * r.accuracy:.3g}%")
        parts.append(text.replace(":;", ":") + ".")
    passed = sum(f.passed is True for f in res.findings)
    parts.append(f"{passed} of {len(res.findings)} findings agree with the predictions.")
    return " ".join(parts)


def _key_numbers(res: AnalysisResult) -> list:
    from satsim.report.model import KeyNumber, fmt

    out = []
    main = "data" if (res.layers.inputs == "data").any() else "gaussian"
    for scheme in res.schemes:
        lay = res.layers[(res.layers.scheme == scheme) & (res.layers.inputs == main)
                         & np.isfinite(res.layers.saturated)]
        if len(lay):
            r = lay.loc[lay.saturated.idxmax()]
            out.append(KeyNumber(
                quantity=f"most saturated layer at init, {scheme}",
                value=f"{fmt(100 * r.saturated, 3)}% (layer {int(r.layer)})",
                detail=f"predicted {fmt(100 * r.saturated_predicted, 3)}%; CI "
                       f"[{fmt(100 * r.saturated_ci_low, 3)}%, "
                       f"{fmt(100 * r.saturated_ci_high, 3)}%]",
                study="analysis_init"))
        if len(res.training):
            tr = res.training[res.training.scheme == scheme]
            if len(tr):
                r = tr.iloc[-1]
                out.append(KeyNumber(quantity=f"validation accuracy, {scheme}",
                                     value=f"{fmt(100 * r.accuracy, 3)}%",
                                     detail=f"after {int(r.epoch)} epoch(s), {int(r.n_seeds)} "
                                            "seeds", study="analysis_training"))
    return out


def _study_results(res: AnalysisResult) -> list:
    from satsim.plotting import DensityPlot, LinePlot
    from satsim.study import StudyResult

    prov = dict(res.provenance)
    layers = res.layers
    init_figs: list[Any] = [
        LinePlot(id="z_rms", table="layers", title="rms of z per layer",
                 caption="Measured rms of the pre-activations (band: 95% two-way CI over "
                         "inputs and units) and the mean-field prediction (dashed), on data "
                         "rows and on Gaussian inputs of the same mean squared norm.",
                 x="layer", y="z_rms", hue="scheme", col="inputs",
                 band=("z_rms_ci_low", "z_rms_ci_high"), ref="z_rms_predicted",
                 integer_x=True, xlabel="layer", ylabel="rms of z", logy=True),
        LinePlot(id="saturated", table="layers_saturated", title="Saturated fraction per layer",
                 caption="Saturated fraction at initialization (band: 95% CI) against its "
                         "prediction (dashed).",
                 x="layer", y="saturated", hue="scheme", col="inputs",
                 band=("saturated_ci_low", "saturated_ci_high"), ref="saturated_predicted",
                 integer_x=True, xlabel="layer", ylabel="saturated fraction"),
    ]
    tables = {"layers": layers,
              "layers_saturated": layers[np.isfinite(layers.saturated)].reset_index(drop=True)}
    for i, scheme in enumerate(res.schemes):
        name = f"density_{i}"
        tables[name] = res.densities[res.densities.scheme == scheme].reset_index(drop=True)
        init_figs.append(DensityPlot(
            id=name, table=name, title=f"Distribution of z per layer, {scheme}",
            caption=f"Histogram of z at initialization ({scheme}) with the normal density of "
                    "the predicted rms (dashed).", x="z", y="density", col="layer",
                    ref="predicted_density", ref_label="predicted normal",
                    measured_label="measured", xlabel="z", ylabel="density"))
    init_findings = [f for f in res.findings if not f.id.startswith("trains_")]
    out = [StudyResult(
        name="analysis_init", title="At initialization: z and saturation per layer",
        description="Each scheme initializes several networks; every layer's pre-activations "
                    "are measured on real data rows and on Gaussian inputs and compared with "
                    "the mean-field prediction from the scheme's variances and the layers' "
                    "own fans.",
        params=res.params, tables=tables, figures=init_figs, findings=init_findings,
        display=["layers"], provenance=prov)]
    mf_figs = [LinePlot(id="phase", table="critical_line", title="Where each scheme sits",
                        caption="The critical line χ1 = 1 of the first hidden activation and "
                                "each scheme's (σ_b², σ_w²) (points); below "
                                "the line signals and gradients fade (ordered), above they "
                                "are chaotic.",
                        x="sigma_b2", y="sigma_w2", hue="series", xlabel="σ_b²",
                        ylabel="σ_w²")]
    out.append(StudyResult(
        name="analysis_meanfield", title="Mean field: phase, χ1 and depth scales",
        description="Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) for each "
                    "hidden layer's σ_w² = n·Var(w) and σ_b²: the fixed point q*, χ1, the "
                    "depth scales ξ_q and ξ_c, and the trainable depth 6ξ_c.",
        params=res.params, tables={"meanfield": res.meanfield,
                                   "critical_line": res.critical_line},
        figures=mf_figs if len(res.critical_line) else [], findings=[],
        display=["meanfield"], provenance=prov))
    if len(res.training):
        figs = [LinePlot(id="accuracy", table="training", title="Validation accuracy",
                         caption="Mean over seeds with its 95% t interval.", x="epoch",
                         y="accuracy", hue="scheme",
                         band=("accuracy_ci_low", "accuracy_ci_high"), integer_x=True,
                         xlabel="epoch", ylabel="validation accuracy")]
        tables_t = {"training": res.training}
        if len(res.training_saturation):
            tables_t["training_saturation"] = res.training_saturation
            figs.append(LinePlot(id="training_saturation", table="training_saturation",
                                 title="Saturated fraction during training",
                                 caption="Mean over seeds with its 95% t interval, per "
                                         "hidden layer.", x="epoch", y="saturated",
                                 hue="scheme", col="layer", integer_x=True,
                                 band=("saturated_ci_low", "saturated_ci_high"),
                                 xlabel="epoch", ylabel="saturated fraction"))
        out.append(StudyResult(
            name="analysis_training", title="Training on real data",
            description="SGD runs of every scheme on the same data and seeds.",
            params=res.params, tables=tables_t, figures=figs,
            findings=[f for f in res.findings if f.id.startswith("trains_")],
            display=["training", "training_saturation"], provenance=prov))
    return out
