"""``python -m mlgcn_core.book``: execute the chapters and build the HTML book (see :mod:`.build`);
bad input ends as one line ``error: …`` and exit status 2, as every subcommand of ``python -m mlgcn_core``."""

import sys

from ..__main__ import one_line_errors
from .build import main

raise SystemExit(one_line_errors(main, sys.argv[1:]))
