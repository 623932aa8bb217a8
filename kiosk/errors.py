"""Errors a user can meet. Each carries a one-line message that says what happened and
what to do; the command line prints it (never a traceback) and exits with ``exit_code``."""


class KioskError(Exception):
    """Base class: a problem the user can understand and act on."""

    exit_code = 2


class InputError(KioskError):
    """Bad input: an unreadable image, no face, an unknown person, a bad argument."""

    exit_code = 2


class ModelFileError(KioskError):
    """A weight file is missing or corrupted; the message names the package to install."""

    exit_code = 3


class ConfigError(KioskError):
    """The configuration file or an environment variable is invalid."""

    exit_code = 2
