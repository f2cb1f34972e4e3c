import sys

from modelship.kubectl.main import main

sys.exit(main())
