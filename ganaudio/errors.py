"""The one exception type for user mistakes, shared by every stage of the data flow.

Raised where the mistake is found and naming the file, key or label; the CLI turns it
into one line on stderr and exit code 2. Anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input (recipe, data, paths, arguments), not in ganaudio."""


class TrainingStopped(UserError):
    """Training stopped early with its run intact: diverged, out of disk, or a signal. The CLI
    prints it as one line; `exit_code` is 128 + the signal's number for SIGINT and SIGTERM."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
