"""`python -m kapisup`."""

from kapisup.cmd.apiserver import main

raise SystemExit(main())
