"""``python -m mlgcn_core.book``: execute the chapters and build the HTML book (see :mod:`.build`)."""

from .build import main

raise SystemExit(main())
