"""What the dispatcher itself needs (argparse only): the errors shown as one line, the parser
that reports them so, and :func:`option`, one ``add_argument`` call of a subcommand."""

from __future__ import annotations

import argparse

USER_ERRORS = (ValueError, KeyError, OSError)  # what bad input raises in the package


class CLIError(Exception):
    """A mistake in the command line, reported as one line."""


def option(*names, **kwargs) -> tuple:
    """One ``parser.add_argument(*names, **kwargs)``, for a subcommand's ``OPTIONS``."""
    return names, kwargs


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and status 2, without argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
