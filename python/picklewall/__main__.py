"""`python -m picklewall ...` runs the picklewall command installed with the package."""

import os
import sys
import sysconfig
from pathlib import Path


def find_command() -> str:
    """The native command pip put in this environment's scripts folder (or the user scheme's)."""
    names = [sysconfig.get_path("scripts")]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        names.append(sysconfig.get_path("scripts", scheme=user_scheme))
    for folder in names:
        candidate = Path(folder) / "picklewall"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError("the picklewall command is not installed beside this package")


if __name__ == "__main__":
    command = find_command()
    os.execv(command, [command, *sys.argv[1:]])
