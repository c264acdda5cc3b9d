"""Our Python runtime, started as a script: the form a wrapper script (AWS_LAMBDA_EXEC_WRAPPER)
is given, whose last argument is the runtime's script, as on Lambda. (Without a wrapper the
runtime starts with ``-c`` and imports ``bootstrap``, whose bytecode is cached.)"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bootstrap  # noqa: E402

del sys.path[0]
bootstrap.start()
