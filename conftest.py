"""Root conftest: make the test harness importable and load its fixtures."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "e2e"))

pytest_plugins = ["modelship_testing.fixtures"]
