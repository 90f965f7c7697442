"""Analytics has no models of its own to administer."""

# Register your models here.
