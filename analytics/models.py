"""Analytics reads other apps' rows; it owns none."""

from django.db import models  # noqa: F401  (analytics reads the other apps; it owns no table)
