import sys

from course.showdown.cli import main

sys.exit(main())
