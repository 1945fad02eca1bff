"""The one kind of error that is the user's to fix, not a bug."""


class UserError(Exception):
  """A mistake in what was asked: a config field, an input file, a workdir that is not a run.

  `main.py` prints its one-line message as `error: ...` and exits with status 2,
  in every mode; anything else is a bug and keeps its traceback.
  """
