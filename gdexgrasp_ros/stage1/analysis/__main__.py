"""python -m gdexgrasp_ros.stage1.analysis: the gdexgrasp-analyze command."""

import sys

from .cli import main

sys.exit(main())
