"""Errors a user can cause and fix: reported as one clear line, never as a stack trace."""


class UserError(RuntimeError):
    """Bad input, missing prerequisite or failed gate: the message says what and where."""


class SparkSetupError(UserError):
    """The runtime is not set up (e.g. Delta's JARs not fetched): the message says what to run."""


class InputContractError(UserError):
    """An input file breaks the contract (missing file or mandatory column); nothing was written."""


class GateFailed(UserError):  # noqa: N818 - reads as what happened
    """A quality gate stopped publication; the published tables keep their previous version."""
