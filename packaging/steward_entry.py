"""Entry script of the frozen bundle: the same `steward` command as the wheel's console script."""

from steward.cli import main

raise SystemExit(main())
