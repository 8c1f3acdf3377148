from django.apps import AppConfig


class RailwaySandboxConfig(AppConfig):
    """The sandbox's management commands: ``railway_sandbox`` and ``serve_demo``."""

    name = "railway_sandbox"
    verbose_name = "Railway sandbox (development)"
