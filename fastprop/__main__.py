"""python -m fastprop: the same as the `fastprop` command."""
from fastprop.cli import main

raise SystemExit(main())
