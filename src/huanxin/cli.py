"""`huanxin`: the console script. It is manage.py under a name people can remember.

huanxin plan load src/huanxin/plans/data/zhangjiakou-2024.yaml
huanxin demo
huanxin audit verify
huanxin runserver
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huanxin.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["huanxin", *sys.argv[1:]])


if __name__ == "__main__":
    main()
