"""`python -m gateway.cli`: the old name of `workstream-admin credentials` (kept working)."""

import sys

from gateway.admin.credentials import main

if __name__ == "__main__":
    sys.exit(main())
