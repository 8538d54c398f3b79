from django.db import models


class Roll(models.Model):
    """A roll from the line: it must cool before it is released to the batching inbox, and it
    is sealed by a request that httpat signs."""

    number = models.CharField(max_length=32, unique=True)
    released_at = models.DateTimeField(null=True)
    sealed_at = models.DateTimeField(null=True)
