"""The radio technologies a site may carry, and the names a site list writes them with.

The contract's six technologies are ``2G``, ``3G``, ``4G``, ``5G``, ``NB-IoT`` and ``LTE-M``
(a site's ``tech`` is a ``;``-separated list of them). Site lists written by operators and
provincial offices name them in many ways (``GSM``, ``UMTS``, ``WCDMA``, ``LTE``, ``NR``,
``Cat-NB1``, ``Cat-M1``, ``eMTC``...): :func:`tech_token` maps one such name onto the
contract's, :func:`parse_techs` a whole list. The names live here, in ``geo``, because both
the validation of a site list and the link budget (:mod:`hatangso.coverage.radio`, where the
radio defaults of each technology are) read them, and ``coverage`` depends on ``geo``.
"""

from __future__ import annotations

import re
from typing import Final

from hatangso.geo.text import fold_key

__all__ = [
    "BROADBAND",
    "IOT",
    "MOBILE_SERVICE",
    "SWITCH_OFF_STEPS",
    "TECHNOLOGIES",
    "parse_techs",
    "tech_token",
]

#: Every technology a site may carry, in the contract's spelling and order.
TECHNOLOGIES: Final[tuple[str, ...]] = ("2G", "3G", "4G", "5G", "NB-IoT", "LTE-M")
#: Mobile broadband, "4G or better": what the contract's coverage indicators count.
BROADBAND: Final[tuple[str, ...]] = ("4G", "5G")
#: Mobile service to a handset (voice, SMS, data): any of these.
MOBILE_SERVICE: Final[tuple[str, ...]] = ("2G", "3G", "4G", "5G")
#: The cellular IoT technologies of 3GPP Release 13 (LTE Cat-NB1 and Cat-M1).
IOT: Final[tuple[str, ...]] = ("NB-IoT", "LTE-M")
#: The steps of switching the legacy networks off, first step first: the indicator, the
#: technologies switched off, the village column of the loss and the village column of the
#: operators that lose the village (:mod:`hatangso.coverage.services` computes them; the
#: maps and the switch-off sheet read them). Here, beside the technologies, so that the
#: readers need not load the coverage engine.
SWITCH_OFF_STEPS: Final[tuple[tuple[str, tuple[str, ...], str, str], ...]] = (
    ("village_2g_off_loss", ("2G",), "loss_2g_off", "operators_lost_2g_off"),
    ("village_2g3g_off_loss", ("2G", "3G"), "loss_2g3g_off", "operators_lost_2g3g_off"),
)

_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "2G": ("2g", "gsm", "gprs", "edge", "gsm900", "gsm1800", "dcs1800"),
    "3G": ("3g", "umts", "wcdma", "hspa", "hspa+", "utra"),
    "4G": ("4g", "lte", "4g lte", "lte advanced", "lte-a", "eutra"),
    "5G": ("5g", "nr", "5g nr", "5g-nr"),
    "NB-IoT": ("nb-iot", "nbiot", "nb iot", "cat-nb1", "cat-nb2", "lte cat nb1", "nb1"),
    "LTE-M": ("lte-m", "ltem", "cat-m1", "cat m1", "catm", "lte cat m1", "emtc", "lte-mtc"),
}
_TOKENS: Final[dict[str, str]] = {
    fold_key(alias): tech for tech, names in _ALIASES.items() for alias in (tech, *names)
}
#: What separates the technologies of one list (``4G;5G``, ``2G/3G/4G``, ``GSM, UMTS``).
_LIST_SEPARATORS: Final = re.compile(r"[;,/+&|]+")


def tech_token(text: str) -> str | None:
    """Return the contract's name of one technology, None when it is no known name.

    Examples
    --------
    >>> [tech_token(t) for t in ("GSM", "wcdma", "LTE", "nb-iot", "Cat-M1", "wifi")]
    ['2G', '3G', '4G', 'NB-IoT', 'LTE-M', None]
    """
    return _TOKENS.get(fold_key(text))


def parse_techs(text: str) -> tuple[str, ...] | None:
    """Return the technologies of a ``;``-separated list in the contract's order.

    Parts are separated by ``;``, ``,``, ``/``, ``+``, ``&`` or ``|``; a part that is no known
    name is tried once more split at spaces (``"4G 5G"``). None when any part stays unknown or
    the list is empty.

    Examples
    --------
    >>> parse_techs("LTE; GSM / NB-IoT")
    ('2G', '4G', 'NB-IoT')
    >>> parse_techs("4G 5G"), parse_techs("4G;wifi"), parse_techs("")
    (('4G', '5G'), None, None)
    """
    found: set[str] = set()
    for part in _LIST_SEPARATORS.split(str(text)):
        if not part.strip():
            continue
        tech = tech_token(part)
        if tech is not None:
            found.add(tech)
            continue
        words = [tech_token(w) for w in part.split()]
        if not words or any(w is None for w in words):
            return None
        found.update(w for w in words if w is not None)
    if not found:
        return None
    return tuple(t for t in TECHNOLOGIES if t in found)
