import sys
from pathlib import Path

# Lets tests import the fixture builders as `fixtures.*`.
sys.path.insert(0, str(Path(__file__).resolve().parent))
