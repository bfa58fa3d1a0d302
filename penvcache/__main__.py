from __future__ import annotations

import sys

from ._fastpath import main  # a hit is answered before argparse is imported

if __name__ == "__main__":
    sys.exit(main())
