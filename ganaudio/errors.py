"""The one exception type for user mistakes, shared by every stage of the data flow.

Raised where the mistake is found and naming the file, key or label; the CLI turns it
into one line on stderr and exit code 2. Anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input (recipe, data, paths, arguments), not in ganaudio."""
