import sys

from report.pipeline import main

sys.exit(main())
