"""What a benchmarked tool is: files to generate, and two commands."""

from importlib import metadata


class Tool:
    """One row of the tables.

    ``prepare`` writes the tool's files into the workspace (once per run);
    ``apply`` is the command that migrates an empty database to the head;
    ``status`` is the command that reports on a database that is up to date.
    Either returns None when the tool has no such command for that dialect.
    """

    key = ""  # used on the command line (--tools) and in the JSON
    label = ""  # shown in the apply table
    status_label = None  # shown in the status table (default: label)
    dialects = ("postgresql", "sqlite")
    # The status tables need a migrated database: tools without an apply command of
    # their own (the floors) are given one migrated by this tool instead.
    migrated_by = None

    def __init__(self, ws):
        self.ws = ws

    def prepare(self):
        pass

    def apply(self, db):
        return None

    def status(self, db):
        return None

    def check_command(self, db):
        """The command whose output ``check_status`` reads (default: ``status``)."""
        return self.status(db)

    def check_status(self, output):
        """What is wrong with the status output of an up-to-date database, or None."""
        return None

    def versions(self):
        return {}


def dist_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
