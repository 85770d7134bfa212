"""`python -m proxy` starts the relay."""
from proxy.cli import main

raise SystemExit(main())
