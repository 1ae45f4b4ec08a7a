"""python -m gdexgrasp_ros.benchmark: the same as gdexgrasp-bench."""

from .cli import main

raise SystemExit(main())
