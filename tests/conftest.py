import sys
from pathlib import Path

# Lets tests import the fixture builders as `fixtures.*`.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def package(tmp_path_factory):
    """The Python package built from this checkout and installed into fresh venvs (see package_env.py)."""
    from package_env import build_package
    return build_package(tmp_path_factory.mktemp("package"))
