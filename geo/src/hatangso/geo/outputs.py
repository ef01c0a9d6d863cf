"""Writing clean layers and the rejects of a run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from hatangso.geo.io import write_layer
from hatangso.geo.validate import REJECT_COLUMNS, Layer

__all__ = ["write_clean_layer", "write_rejects"]


def write_clean_layer(layer: Layer, out_dir: str | Path) -> Path:
    """Write a validated layer as ``<kind>.gpkg`` (``<kind>.csv`` when it has no geometry)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = layer.kind.replace("-", "_")
    if isinstance(layer.frame, gpd.GeoDataFrame):
        return write_layer(layer.frame, out_dir / f"{stem}.gpkg", layer=stem)
    path = out_dir / f"{stem}.csv"
    layer.frame.to_csv(path, index=False)
    return path


def write_rejects(
    layers: Iterable[Layer], out_dir: str | Path, *, extra: Iterable[pd.DataFrame] = ()
) -> Path:
    """Write ``rejects.csv`` (``file``, ``row``, ``id``, ``reason``) for all `layers`.

    `extra` adds rejects of inputs that are streamed rather than loaded as layers (samples).
    The file is written even when nothing was rejected, so its absence never has to be
    interpreted.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = [layer.rejects for layer in layers if len(layer.rejects)]
    frames += [frame[REJECT_COLUMNS] for frame in extra if len(frame)]
    rejects = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    path = out_dir / "rejects.csv"
    rejects.to_csv(path, index=False, encoding="utf-8")
    return path
