"""Hot reload: a save on disk becomes the function's new ``$LATEST``."""

from __future__ import annotations
