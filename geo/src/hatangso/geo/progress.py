"""How a long job says what it is doing: a callback it is given, never a print.

Every job of hatangso (loading and validating inputs, the coverage engine, the planner, the
demo generator, the scenario runner) takes an optional ``progress`` callback and calls it with
the name of each step as the step starts; a step that counts its work (the terrain model's
sites, the outputs written) calls it again as it goes, with ``done`` of ``total``. The command
line turns these calls into progress bars or plain lines; the service into its ``/health``
answer while it builds a scenario. A job never prints.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Progress", "silent"]


class Progress(Protocol):
    """A callback told the step under way, and how far a counted step has got.

    ``progress("reading villages")`` starts a step; ``progress("terrain coverage", done=3,
    total=7)`` says a counted step has done 3 of its 7 parts (calls with the same step name
    belong to one step). A callback must return quickly and must not raise.
    """

    def __call__(self, step: str, /, *, done: int | None = None, total: int | None = None) -> None:
        """Report `step`, with `done` of `total` when the step counts its work."""


def silent(step: str, /, *, done: int | None = None, total: int | None = None) -> None:
    """Report nothing: the :class:`Progress` of a caller that wants none.

    Examples
    --------
    >>> silent("reading villages", done=1, total=2)
    """
