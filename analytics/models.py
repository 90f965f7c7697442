from django.db import models  # noqa: F401  (analytics reads the other apps; it owns no table)
