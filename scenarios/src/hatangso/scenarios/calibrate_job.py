"""``hatangso calibrate``: fit the propagation model to measurement samples.

The fit (offset, and slope where the distances support it, per operator and environment) is
written to ``calibration.json``; naming that file as ``mobile.calibration`` in a configuration
makes later ``hata`` runs use the corrected model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import geopandas as gpd

from hatangso.coverage import mobile
from hatangso.coverage.calibration import Calibration, fit_offset, model_at_samples
from hatangso.coverage.config import CoverageConfig
from hatangso.geo.crs import metric_crs
from hatangso.geo.outputs import atomic_write, write_rejects
from hatangso.geo.progress import Progress, silent
from hatangso.geo.validate import load_layer

__all__ = ["CalibrationResult", "run_calibration"]


@dataclass(frozen=True)
class CalibrationResult:
    """The fit and the files written (``calibration.json``, ``calibration.csv``, rejects)."""

    calibration: Calibration
    files: dict[str, Path]


def run_calibration(
    *,
    sites: Path,
    samples: Path,
    out_dir: Path,
    config: CoverageConfig,
    crs: str | None = None,
    tech: str = "4G",
    min_samples: int = 100,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Fit the ``hata`` model to `samples` and write the calibration.

    Parameters
    ----------
    sites
        The BTS sites whose signal was measured.
    samples
        Measurement samples (``operator``, ``tech``, ``rsrp_dbm``, points).
    out_dir
        Output folder.
    config
        Supplies the threshold and the radius table for the model.
    crs
        CRS of inputs that carry none.
    tech
        Which service's samples and radio parameters to fit.
    min_samples
        Samples a group (operator, environment) needs to be fitted.
    progress
        Told each step as it starts (:class:`~hatangso.geo.progress.Progress`).

    Returns
    -------
    CalibrationResult

    Raises
    ------
    InputError
        If a file is unusable or no group has enough samples to fit.
    """
    step = progress or silent
    out_dir.mkdir(parents=True, exist_ok=True)
    step("reading and validating sites")
    site_layer = load_layer(sites, "sites", crs=crs)
    step("reading and validating samples")
    sample_layer = load_layer(samples, "samples", crs=crs)
    site_frame = cast(gpd.GeoDataFrame, site_layer.frame)
    frame = cast(gpd.GeoDataFrame, sample_layer.frame)
    picked = frame[frame["tech"].astype(str).str.contains(tech, regex=False)]
    metric = metric_crs(tuple(site_frame.total_bounds))
    table = mobile.site_table(
        site_frame.to_crs(metric),
        model="hata",
        radius_m=config.mobile.radius_m,
        threshold_dbm=config.mobile.threshold_dbm,
    )
    step(f"the model at {len(picked)} {tech} samples")
    at_samples = model_at_samples(picked.to_crs(metric), table, tech=tech)
    step("fitting")
    calibration = fit_offset(at_samples, min_samples=min_samples)
    fitted = calibration.table()
    step("writing outputs")
    files = {
        "calibration": calibration.to_json(out_dir / "calibration.json"),
        "table": atomic_write(out_dir / "calibration.csv", lambda p: fitted.to_csv(p, index=False)),
        "rejects": write_rejects([site_layer, sample_layer], out_dir),
    }
    return CalibrationResult(calibration=calibration, files=files)
