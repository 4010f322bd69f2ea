"""``python -m chaos`` (with scripts/lib on sys.path): what ``scripts/chaos`` runs."""

from __future__ import annotations

import sys

from chaos.run import main

sys.exit(main())
