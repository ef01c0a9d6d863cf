"""Vectorised per-group helpers shared by the engine modules."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["join_unique_per_group"]


def join_unique_per_group(
    groups: npt.NDArray[np.int64], labels: npt.ArrayLike, n_groups: int, *, sep: str = ";"
) -> npt.NDArray[np.object_]:
    """Join the sorted distinct labels of each group with `sep` ('' for empty groups).

    Python string work happens only for groups with two or more distinct labels; single-label
    groups (most of them, in practice) take their label by indexing.

    Examples
    --------
    >>> import numpy as np
    >>> join_unique_per_group(np.array([0, 0, 2, 0]), ["b", "a", "c", "a"], 4).tolist()
    ['a;b', '', 'c', '']
    """
    out = np.full(n_groups, "", dtype=object)
    groups = np.asarray(groups, dtype=np.int64)
    if groups.size == 0:
        return out
    codes, names = pd.factorize(np.asarray(labels, dtype=object), sort=True)
    names = np.asarray(names, dtype=object)
    if len(names) <= 62:
        # Few labels (operators): one bincount per label sets a bit per group, and each
        # distinct bit pattern is joined once.
        mask = np.zeros(n_groups, dtype=np.int64)
        for k in range(len(names)):
            seen = np.bincount(groups[codes == k], minlength=n_groups) > 0
            mask |= seen.astype(np.int64) << k
        patterns, inverse = np.unique(mask, return_inverse=True)
        texts = np.array(
            [sep.join(names[[k for k in range(len(names)) if p >> k & 1]]) for p in patterns],
            dtype=object,
        )
        return np.asarray(texts[inverse.reshape(-1)], dtype=object)
    key = np.unique(groups * len(names) + codes.astype(np.int64))
    group = key // len(names)
    label = key % len(names)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    counts = np.diff(np.r_[starts, len(group)])
    single = counts == 1
    out[group[starts[single]]] = names[label[starts[single]]]
    for start, count in zip(starts[~single], counts[~single], strict=True):
        out[group[start]] = sep.join(names[label[start : start + count]])
    return out
