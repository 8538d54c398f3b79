from django.db import models


class Roll(models.Model):
    """A roll from the line: it must cool before it is released to the batching inbox."""

    number = models.CharField(max_length=32, unique=True)
    released_at = models.DateTimeField(null=True)
