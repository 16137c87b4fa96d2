"""``python -m densespace``: the command line."""

from densespace._cli import main

raise SystemExit(main())
