from __future__ import annotations

from ._fastpath import launch  # a hit is answered before argparse is imported, and exits at once

if __name__ == "__main__":
    launch()
