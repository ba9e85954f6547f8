import os
import sys
from pathlib import Path

# scikit-learn's check_array_api_input runs only when scipy was imported with its
# array API support on; set it before anything imports scipy, so that every estimator
# check runs instead of six being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# Test helpers (the fuzz harness) import as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))
