"""``python -m tools.decision_eval``: see the package's docstring."""

from tools.decision_eval.run import main

raise SystemExit(main())
