"""Calibration of the propagation model against measured samples.

A prediction model (the composite Hata of :mod:`hatangso.coverage.radio`) is right on average
over the terrain it was fitted to, not over one province's hills and one operator's equipment.
Drive tests say by how much it is off. :func:`fit_offset` fits, per operator and environment,
the measured-minus-predicted residual as

``r(d) = a + b log10(d / d_ref)``  (dB),

an offset ``a`` at the reference distance ``d_ref`` (1 km) and, where the samples span enough
distance to tell, a slope ``b`` in dB per decade; it reports the error (RMSE and bias) before
and after. The result is saved as JSON (:meth:`Calibration.to_json`,
:func:`load_calibration`) so that later runs predict with it (:func:`calibrate_sites`).

Typical use::

    table = mobile.site_table(sites_m, model="hata", radius_m=..., threshold_dbm=-110.0)
    frame = model_at_samples(samples_m, table)          # distance_m, predicted_dbm, env ...
    cal = fit_offset(frame, by=("operator", "env"), min_samples=100)
    cal.to_json(out / "calibration.json")
    # a later run
    table = calibrate_sites(table, load_calibration(path), threshold_dbm=-110.0)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree

from hatangso.coverage import radio
from hatangso.coverage.mobile import SiteTable
from hatangso.geo.confine import read_limited
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.limits import MAX_REFERENCED_FILE_BYTES
from hatangso.geo.outputs import write_json

__all__ = [
    "Calibration",
    "GroupFit",
    "calibrate_sites",
    "fit_offset",
    "load_calibration",
    "model_at_samples",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Status of a group's fit.
FITTED_SLOPE = "offset and slope"
FITTED_OFFSET = "offset"
TOO_FEW = "too few samples"

_FORMAT = "hatangso-calibration/1"


@dataclass(frozen=True)
class GroupFit:
    """The fit of one group (e.g. one operator in one environment).

    Attributes
    ----------
    key
        The group's values of the ``by`` columns, in order.
    n_samples
        Samples in the group.
    status
        ``"offset and slope"``, ``"offset"`` or ``"too few samples"`` (no correction).
    offset_db
        ``a``: the correction at the reference distance, dB (measured minus predicted).
    slope_db_per_decade
        ``b``: the change of the correction per tenfold distance, dB; 0 unless fitted.
    rmse_before_db, bias_before_db
        Root-mean-square and mean of measured minus predicted, before correction.
    rmse_after_db, bias_after_db
        The same after correction (equal to before when nothing was fitted).
    log_distance_spread
        Standard deviation of ``log10(distance)`` in the group, decades.
    """

    key: tuple[str, ...]
    n_samples: int
    status: str
    offset_db: float
    slope_db_per_decade: float
    rmse_before_db: float
    bias_before_db: float
    rmse_after_db: float
    bias_after_db: float
    log_distance_spread: float


@dataclass(frozen=True)
class Calibration:
    """Fitted corrections per group, and how much they helped.

    Attributes
    ----------
    by
        The grouping columns, e.g. ``("operator", "env")``.
    groups
        One :class:`GroupFit` per group seen in the samples.
    reference_distance_m
        ``d_ref`` of the offsets.
    min_samples
        Samples a group needed to be fitted.
    rmse_before_db, bias_before_db, rmse_after_db, bias_after_db
        Over all samples.
    """

    by: tuple[str, ...]
    groups: tuple[GroupFit, ...]
    reference_distance_m: float
    min_samples: int
    rmse_before_db: float
    bias_before_db: float
    rmse_after_db: float
    bias_after_db: float

    def table(self) -> pd.DataFrame:
        """Return one row per group: the ``by`` columns, then the :class:`GroupFit` fields."""
        rows = [{**dict(zip(self.by, g.key, strict=True)), **asdict(g)} for g in self.groups]
        frame = pd.DataFrame(rows, columns=[*self.by, *GroupFit.__dataclass_fields__])
        return frame.drop(columns="key")

    def correction_db(self, keys: pd.DataFrame, distance_m: npt.ArrayLike) -> FloatArray:
        """Correction to add to predicted power, dB, for rows of `keys` at `distance_m`.

        Parameters
        ----------
        keys
            One row per prediction, with the ``by`` columns.
        distance_m
            Horizontal distance of each prediction, m (> 0).

        Returns
        -------
        numpy.ndarray
            ``a + b log10(d / d_ref)`` of the row's group; 0 for groups not fitted or unseen.
        """
        d = np.maximum(np.asarray(distance_m, dtype=np.float64), 1.0)
        a = np.zeros(len(keys))
        b = np.zeros(len(keys))
        fitted = [g for g in self.groups if g.status != TOO_FEW]
        if fitted:
            lookup = pd.DataFrame(
                [(*g.key, g.offset_db, g.slope_db_per_decade) for g in fitted],
                columns=[*self.by, "_a", "_b"],
            )
            left = keys[list(self.by)].astype(str).reset_index(drop=True)
            merged = left.merge(lookup, on=list(self.by), how="left")
            a = merged["_a"].fillna(0.0).to_numpy(dtype=np.float64)
            b = merged["_b"].fillna(0.0).to_numpy(dtype=np.float64)
        return np.asarray(a + b * np.log10(d / self.reference_distance_m), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description (read back by :meth:`from_dict`)."""
        return {
            "format": _FORMAT,
            "by": list(self.by),
            "reference_distance_m": self.reference_distance_m,
            "min_samples": self.min_samples,
            "rmse_before_db": self.rmse_before_db,
            "bias_before_db": self.bias_before_db,
            "rmse_after_db": self.rmse_after_db,
            "bias_after_db": self.bias_after_db,
            "groups": [{**asdict(g), "key": list(g.key)} for g in self.groups],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "calibration") -> Calibration:
        """Rebuild a calibration from :meth:`to_dict`'s output.

        Raises
        ------
        InputError
            If the document is not a hatangso calibration.
        """
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise InputError(
                Problem(
                    file=source,
                    message="is not a hatangso calibration file",
                    fix=f"give a file written by hatangso's calibration (format '{_FORMAT}')",
                )
            )
        try:
            groups = tuple(
                GroupFit(**{**g, "key": tuple(str(k) for k in g["key"])}) for g in data["groups"]
            )
            return cls(
                by=tuple(data["by"]),
                groups=groups,
                reference_distance_m=float(data["reference_distance_m"]),
                min_samples=int(data["min_samples"]),
                rmse_before_db=float(data["rmse_before_db"]),
                bias_before_db=float(data["bias_before_db"]),
                rmse_after_db=float(data["rmse_after_db"]),
                bias_after_db=float(data["bias_after_db"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                Problem(
                    file=source,
                    message=f"the calibration file is incomplete or damaged ({exc})",
                    fix="fit the calibration again",
                )
            ) from exc

    def to_json(self, path: str | Path) -> Path:
        """Write the calibration as JSON and return the path."""
        return write_json(self.to_dict(), path)


def load_calibration(
    path: str | Path, *, max_bytes: int = MAX_REFERENCED_FILE_BYTES
) -> Calibration:
    """Read a calibration written by :meth:`Calibration.to_json`.

    Parameters
    ----------
    path
        The file.
    max_bytes
        Largest file read; a larger one, or anything but a regular file (a device, a FIFO,
        a folder), is refused before it is read.

    Raises
    ------
    InputError
        If the file is missing, not a regular file, too large, not JSON or not a calibration.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            Problem(file=path.name, message=f"no such file: {path}", fix="check the path")
        )
    raw = read_limited(
        path, max_bytes=max_bytes, key="mobile.calibration", source=path.name, shown=path.name
    )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            Problem(file=path.name, message=f"is not valid JSON ({exc})", fix="fit it again")
        ) from exc
    return Calibration.from_dict(data, source=path.name)


def _errors(residual: FloatArray) -> tuple[float, float]:
    if not len(residual):
        return float("nan"), float("nan")
    return float(np.sqrt(np.mean(residual**2))), float(np.mean(residual))


def fit_offset(
    samples: pd.DataFrame,
    *,
    by: Sequence[str] = ("operator", "env"),
    min_samples: int = 100,
    min_log_spread: float = 0.25,
    reference_distance_m: float = 1000.0,
) -> Calibration:
    """Fit the measured-minus-predicted error per group: an offset, and a slope where possible.

    Parameters
    ----------
    samples
        One row per sample: ``rsrp_dbm`` (measured), ``predicted_dbm`` (the model at the
        sample, from the serving site), ``distance_m`` (to that site, > 0) and the `by`
        columns (see :func:`model_at_samples`).
    by
        Grouping columns; each group gets its own correction.
    min_samples
        Samples a group needs to be fitted; smaller groups get no correction and the status
        ``"too few samples"``. A slope needs twice as many.
    min_log_spread
        Standard deviation of ``log10(distance_m)`` (decades) a group needs for a slope to be
        fitted; 0.25 is about a factor of 1.8 either side of the middle distance.
    reference_distance_m
        Distance at which the offset applies.

    Returns
    -------
    Calibration

    Raises
    ------
    InputError
        If a column is missing, or no group has `min_samples` samples (nothing can be fitted:
        the calibration is refused rather than fitted to noise).

    Notes
    -----
    Ordinary least squares of ``r = a + b x`` with ``r = rsrp_dbm - predicted_dbm`` and
    ``x = log10(distance_m / reference_distance_m)`` (the log-distance path-loss form,
    Rappaport, "Wireless Communications", 2nd ed., eq. 4.68: a slope of ``b`` dB per decade
    changes the path-loss exponent by ``-b / 10``); the offset alone is the mean residual.
    RMSE ``sqrt(mean(e^2))`` and bias ``mean(e)`` of ``e`` = measured minus (corrected)
    prediction. Samples at the receiver's floor are censored and bias the fit upward where
    coverage is weak; drop them before fitting if the drive-test tool reports a floor.
    """
    by = tuple(by)
    need = ["rsrp_dbm", "predicted_dbm", "distance_m", *by]
    missing = [c for c in need if c not in samples]
    if missing:
        raise InputError(
            Problem(
                file="samples",
                message=f"calibration needs the column(s) {', '.join(missing)}",
                fix="compute them with hatangso.coverage.calibration.model_at_samples",
            )
        )
    measured = samples["rsrp_dbm"].to_numpy(dtype=np.float64)
    predicted = samples["predicted_dbm"].to_numpy(dtype=np.float64)
    distance = samples["distance_m"].to_numpy(dtype=np.float64)
    usable = np.isfinite(measured) & np.isfinite(predicted) & np.isfinite(distance)
    usable &= distance > 0
    frame = samples.loc[usable, list(by)].astype(str).reset_index(drop=True)
    residual = (measured - predicted)[usable]
    x = np.log10(distance[usable] / reference_distance_m)
    codes, uniques = (
        pd.MultiIndex.from_frame(frame).factorize() if by else (np.zeros(len(x), np.int64), [()])
    )
    codes = np.asarray(codes, dtype=np.int64)
    groups: list[GroupFit] = []
    after = residual.copy()
    for g, key in enumerate(uniques):
        rows = np.flatnonzero(codes == g)
        r, xg = residual[rows], x[rows]
        rmse0, bias0 = _errors(r)
        spread = float(np.std(xg)) if len(xg) else 0.0
        a = b = 0.0
        if len(rows) < min_samples:
            status = TOO_FEW
        elif len(rows) >= 2 * min_samples and spread >= min_log_spread:
            b, a = (float(v) for v in np.polyfit(xg, r, 1))
            status = FITTED_SLOPE
        else:
            a = float(np.mean(r))
            status = FITTED_OFFSET
        after[rows] = r - (a + b * xg)
        rmse1, bias1 = _errors(after[rows])
        groups.append(
            GroupFit(
                key=tuple(str(k) for k in (key if isinstance(key, tuple) else (key,))),
                n_samples=len(rows),
                status=status,
                offset_db=a,
                slope_db_per_decade=b,
                rmse_before_db=rmse0,
                bias_before_db=bias0,
                rmse_after_db=rmse1,
                bias_after_db=bias1,
                log_distance_spread=spread,
            )
        )
    if not any(g.status != TOO_FEW for g in groups):
        sizes = ", ".join(f"{'/'.join(g.key)}: {g.n_samples}" for g in groups) or "none usable"
        raise InputError(
            Problem(
                file="samples",
                message=f"too few samples to calibrate: every group ({', '.join(by)}) has fewer "
                f"than {min_samples} ({sizes})",
                fix="add drive-test samples, group more coarsely (by=('operator',)) or lower "
                "min_samples",
            )
        )
    rmse0, bias0 = _errors(residual)
    rmse1, bias1 = _errors(after)
    log.info(
        "calibration: RMSE %.1f -> %.1f dB, bias %.1f -> %.1f dB over %d samples",
        rmse0,
        rmse1,
        bias0,
        bias1,
        len(residual),
    )
    return Calibration(
        by=by,
        groups=tuple(groups),
        reference_distance_m=float(reference_distance_m),
        min_samples=int(min_samples),
        rmse_before_db=rmse0,
        bias_before_db=bias0,
        rmse_after_db=rmse1,
        bias_after_db=bias1,
    )


def model_at_samples(
    samples: gpd.GeoDataFrame,
    sites: SiteTable,
    *,
    tech: str = "4G",
    max_distance_m: float = 20_000.0,
    k: int = 8,
    h_rx_m: float = 1.5,
) -> pd.DataFrame:
    """Return the model's received power at each sample from its operator's best site.

    Parameters
    ----------
    samples
        Sample points in the same metric CRS as `sites`, with ``operator`` and ``rsrp_dbm``.
    sites
        From :func:`hatangso.coverage.mobile.site_table`.
    tech
        The service whose EIRP and frequency are used (``4G`` or ``5G``).
    max_distance_m
        Sites further than this are not considered.
    k
        Nearest sites of the operator examined per sample.
    h_rx_m
        Handset height, m.

    Returns
    -------
    pandas.DataFrame
        Indexed like `samples`, for the samples that have a site: ``operator``, ``env`` (of
        the serving site), ``site`` (its position in `sites`), ``distance_m``,
        ``predicted_dbm`` (composite Hata, :func:`hatangso.coverage.radio.received_power_dbm`,
        plus a sector's antenna gain towards the sample as the coverage models count it,
        :func:`hatangso.coverage.radio.sector_gain_db`) and ``rsrp_dbm``.
    """
    from hatangso.geo.crs import require_projected

    require_projected(samples.crs, what="samples against the model")
    px = np.asarray(samples.geometry.x, dtype=np.float64)
    py = np.asarray(samples.geometry.y, dtype=np.float64)
    operators = samples["operator"].astype(str).to_numpy(dtype=object)
    best = np.full(len(samples), -np.inf)
    site_of = np.full(len(samples), -1, dtype=np.int64)
    dist_of = np.full(len(samples), np.nan)
    eirp, freq = sites.eirp_dbm[tech], sites.freq_mhz[tech]
    live = sites.reach_m[tech] > 0
    for name in np.unique(operators):  # a handful of operators
        own = np.flatnonzero((sites.operator == name) & live)
        rows = np.flatnonzero(operators == name)
        if not len(own) or not len(rows):
            continue
        tree = cKDTree(np.column_stack([sites.x[own], sites.y[own]]))
        kk = min(k, len(own))
        d, j = tree.query(
            np.column_stack([px[rows], py[rows]]), k=kk, distance_upper_bound=max_distance_m
        )
        d = np.asarray(d, dtype=np.float64).reshape(len(rows), kk)
        j = np.asarray(j, dtype=np.int64).reshape(len(rows), kk)
        found = np.isfinite(d)
        site = own[np.where(found, j, 0)]
        bearing = radio.bearing_deg(
            sites.x[site], sites.y[site], px[rows][:, None], py[rows][:, None]
        )
        gain = radio.sector_gain_db(bearing, sites.azimuth_deg[site], sites.beamwidth_deg[site])
        usable = found
        power = np.full(d.shape, -np.inf)
        if usable.any():
            power[usable] = (
                radio.received_power_dbm(
                    np.maximum(d[usable], 1.0),
                    eirp_dbm=eirp[site[usable]],
                    freq_mhz=freq[site[usable]],
                    h_tx_m=sites.height_m[site[usable]],
                    h_rx_m=h_rx_m,
                    env=sites.env[site[usable]],
                )
                + gain[usable]
            )
        pick = np.argmax(power, axis=1)
        top = power[np.arange(len(rows)), pick]
        best[rows] = top
        site_of[rows] = np.where(np.isfinite(top), site[np.arange(len(rows)), pick], -1)
        dist_of[rows] = np.where(np.isfinite(top), d[np.arange(len(rows)), pick], np.nan)
    keep = site_of >= 0
    return pd.DataFrame(
        {
            "operator": operators[keep],
            "env": sites.env[site_of[keep]],
            "site": site_of[keep],
            "distance_m": dist_of[keep],
            "predicted_dbm": best[keep],
            "rsrp_dbm": samples["rsrp_dbm"].to_numpy(dtype=np.float64)[keep],
        },
        index=samples.index[keep],
    )


def calibrate_sites(
    sites: SiteTable, calibration: Calibration, *, threshold_dbm: float, iterations: int = 4
) -> SiteTable:
    """Sites whose EIRP and reach carry the calibration's correction (``hata`` model).

    Parameters
    ----------
    sites
        From :func:`hatangso.coverage.mobile.site_table` with ``model="hata"``.
    calibration
        Grouped by columns among ``operator`` and ``env``.
    threshold_dbm
        The received power the reach is computed for.
    iterations
        Fixed-point steps for corrections with a slope.

    Returns
    -------
    SiteTable
        A copy with ``eirp_dbm[tech]`` raised by the correction at the site's reach and
        ``reach_m[tech]`` recomputed; unchanged for the ``radius`` model (which has no power
        to correct: a warning is logged).

    Notes
    -----
    An offset ``a`` adds to the received power everywhere, exactly as ``a`` dB more EIRP. A
    slope makes the correction depend on distance; it is evaluated at the reach, found by
    iterating ``reach = R(EIRP + c(reach))`` from the uncorrected reach (it converges in a few
    steps since ``|b|`` is far below the model's own 20-40 dB per decade).
    """
    if sites.model != "hata":
        log.warning("calibration applies to the hata model; the %s model is unchanged", sites.model)
        return sites
    unknown = set(calibration.by) - {"operator", "env"}
    if unknown:
        raise InputError(
            Problem(
                file="calibration",
                column="by",
                message="site tables know operator and env only; the calibration groups by "
                f"{sorted(unknown)}",
                fix="fit the calibration again grouped by operator and/or env",
            )
        )
    keys = pd.DataFrame({"operator": sites.operator, "env": sites.env})
    reach: dict[str, FloatArray] = {}
    eirp: dict[str, FloatArray] = {}
    for tech in sites.reach_m:  # every technology the table carries
        base = sites.eirp_dbm[tech]
        r = sites.reach_m[tech].copy()
        live = r > 0
        e = base.copy()
        for _ in range(max(1, iterations)):
            e = base + calibration.correction_db(keys, np.where(live, r, 1000.0))
            r = np.where(
                live,
                radio.site_reach_m(
                    tech=np.full(len(r), tech, dtype=object),
                    model="hata",
                    env=sites.env,
                    height_m=sites.height_m,
                    eirp_dbm=e,
                    freq_mhz=sites.freq_mhz[tech],
                    radius_m=None,
                    threshold_dbm=threshold_dbm,
                ),
                0.0,
            )
        reach[tech], eirp[tech] = r, e
    reach["4G"] = np.maximum(reach["4G"], reach["5G"])
    return replace(sites, reach_m=reach, eirp_dbm=eirp)
