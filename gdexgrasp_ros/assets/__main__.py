"""python -m gdexgrasp_ros.assets: the same as the console script gdexgrasp-build."""

import sys

from .cli import main

sys.exit(main())
