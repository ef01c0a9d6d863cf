"""The exception hierarchy of hatangso.

Every error a user can cause derives from :class:`HatangsoError`. Input problems are also
``ValueError`` and infeasible plans ``RuntimeError``, as rasterio pairs its errors with the
built-in ones, so callers can catch either. The command line maps :class:`HatangsoError` to exit
code 2; the service maps it to a 4xx answer (409 for :class:`InfeasibleError` and
:class:`ConflictError`, 422 otherwise).

A bare ``ValueError`` or ``RuntimeError`` in library code means a programmer error: an internal
invariant, or arrays the code itself built that do not fit together. It reaches the command line
as exit 1 (a bug) and the service as 500. ``tests/test_errors.py`` keeps the list of them.

:class:`InputError` carries every :class:`Problem` found in one file, so that a user fixes them
all in one go rather than one per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "CRSError",
    "ConfigError",
    "ConflictError",
    "ForbiddenError",
    "HatangsoError",
    "InfeasibleError",
    "InputError",
    "NotFoundError",
    "Problem",
    "yaml_problem",
]


@dataclass(frozen=True)
class Problem:
    """One fault found in an input, with where it is and how to fix it.

    Attributes
    ----------
    file
        The file's name as the user gave it.
    message
        What is wrong.
    fix
        What the user should do about it.
    row
        1-based number of the record (feature or data line, header not counted), if any.
    column
        The column concerned, if any.
    """

    file: str
    message: str
    fix: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}. Fix: {self.fix}"


class HatangsoError(Exception):
    """Root of every error hatangso raises on purpose."""


class InputError(HatangsoError, ValueError):
    """An input file or option cannot be used as given.

    Parameters
    ----------
    problems
        Every fault found; at least one.
    """

    def __init__(self, problems: Problem | Iterable[Problem]) -> None:
        self.problems: Sequence[Problem] = (
            (problems,) if isinstance(problems, Problem) else tuple(problems)
        )
        if not self.problems:
            raise ValueError("InputError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(InputError):
    """A configuration value cannot be used as given.

    The value comes from a configuration or scenario file, a command-line option or the
    keyword of an engine function that mirrors one; each :class:`Problem` names the file (or
    ``"configuration"`` / ``"options"`` when there is none) and, in ``column``, the dotted key
    or the option.
    """


class CRSError(HatangsoError, ValueError):
    """A coordinate reference system is unknown, ambiguous or unfit for the operation."""


class InfeasibleError(HatangsoError, RuntimeError):
    """A plan or target cannot be reached with the candidates given."""


class ForbiddenError(InputError):
    """A change touches records its submitter may not change.

    An operator changes its own rows only: a change set submitted on behalf of one operator
    that adds, edits or retires a row of another (or of the province) is refused whole, every
    such row named in :attr:`InputError.problems`.
    """


class NotFoundError(HatangsoError, LookupError):
    """A record asked for by kind and id does not exist (or did not yet, at the date asked)."""


class ConflictError(HatangsoError, RuntimeError):
    """A write was made against a version of the data that has since been replaced.

    An upload sent with ``If-Match`` after its layer moved on, or a change set computed
    against a version of the record that has changed since. The message names what changed
    (the versions, and the file, time and client that replaced it, or the records changed in
    between) and how to retry: against the current version.
    """


def yaml_problem(file: str, exc: BaseException) -> Problem:
    r"""Return the problem of a YAML file that cannot be read, said on one line.

    A YAML parser's message spans several lines, quoting the text with a caret under the fault;
    an error message of hatangso is one line naming the file, where and the fix. A file that
    is not UTF-8 says so.

    Examples
    --------
    >>> import yaml
    >>> try:
    ...     yaml.safe_load("mobile:\n  rule: [point\n  model: radius\n")
    ... except yaml.YAMLError as exc:
    ...     print(yaml_problem("a.yaml", exc).message)
    is not valid YAML: line 3, column 8: expected ',' or ']', but got ':' (while parsing a flow sequence opened at line 2, column 9)
    """  # noqa: E501
    if isinstance(exc, UnicodeDecodeError):
        return Problem(file=file, message=f"is not UTF-8 text ({exc})", fix="save it as UTF-8")
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None or mark is None:
        reason = " ".join(str(exc).split())
    else:
        reason = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
        context, opened = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and opened is not None:
            reason += f" ({context} opened at line {opened.line + 1}, column {opened.column + 1})"
    return Problem(
        file=file, message=f"is not valid YAML: {reason}", fix="check indentation and colons"
    )
