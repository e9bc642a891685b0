"""Where the tests find the repository, their own data files and the shared public data sets."""

from pathlib import Path

#: the repository's root
REPO = Path(__file__).resolve().parents[1]
#: the tests' own data files (the malformed corpus, models of an earlier release)
TEST_DATA = REPO / "tests" / "data"
#: the public data sets (AI4I 2020, SECOM) beside the checkout, when present
SHARED_DATA = REPO.parent / "shared" / "data"
