"""Where the tests find things: the project root and Bitcoin's public test vectors.

The vectors sit in ../shared/vectors beside the checkout and are never copied into
the project. Import from here (not from a conftest, whose module name is ambiguous
once several test folders have one).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT.parent / "shared" / "vectors"
