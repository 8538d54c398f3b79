from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ims", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="roll",
            name="sealed_at",
            field=models.DateTimeField(null=True),
        ),
    ]
