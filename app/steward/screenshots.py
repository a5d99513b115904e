"""`python -m steward.screenshots OUTDIR` (`make screenshots`): every page of the app as it runs
for a user — embedded servers and the gateway hosted — saved as PNGs."""

from __future__ import annotations

import sys

from steward.desktop import desktop_factory
from steward.gui.screenshots import main
from steward.runtime import RuntimeOptions

if __name__ == "__main__":
    sys.exit(main(factory=desktop_factory(RuntimeOptions(embedded=True, discover=False))))
