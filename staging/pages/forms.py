"""The portal's forms: what account managers fill in, checked the same way as ``staging.runs``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from staging.digits import parse_id
from staging.errors import InvalidName
from staging.models import AuditEvent, ClientSite, DatabaseEngine, EnvironmentStatus
from staging.names import MAX_LENGTH, validate_name
from staging.pages.display import audit_action_label
from staging.railway import Project
from staging.runs import MAX_TTL_DAYS

LIFETIME_CHOICES = (1, 3, 7, 14, 30, 60, 90)


class AsciiIntegerField(forms.IntegerField):
    """Django's integer, without the digits of other scripts that ``int()`` reads ("٣" is 3)."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and not value.isascii():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IdChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A choice of object by id, refusing ids written in other digits ("٣")."""

    def to_python(self, value: Any) -> Any:
        if value not in self.empty_values and parse_id(str(value)) is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return super().to_python(value)


def page_number(value: str | None) -> str | None:
    """``?page=`` for ``Paginator.get_page``, which reads "٣" as 3: other digits mean page 1."""
    return value if value is not None and parse_id(value) is not None else None


def name_problem(site: ClientSite, name: str) -> str | None:
    """Why ``name`` cannot be used for a new staging copy of ``site``, or None if it can."""
    try:
        validate_name(name)
    except InvalidName as error:
        return error.message
    if site.environments.filter(status__in=EnvironmentStatus.live(), name=name).exists():
        return f"{site} already has a staging copy named '{name}'. Choose another name."
    return None


def gdpr_notice(site: ClientSite) -> str:
    return (
        f"This copy will contain personal data of {site}'s customers (names, email addresses, "
        "orders and messages). Use it only to prepare and test changes for "
        f"{site}, do not share its link outside the team, and delete it as soon as you no "
        "longer need it."
    )


class CreateStagingForm(forms.Form):
    name = forms.CharField(
        label="Name of the staging copy",
        max_length=MAX_LENGTH,
        help_text="Lowercase letters, digits and hyphens. It becomes part of the web address.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    ttl_days = forms.TypedChoiceField(
        label="Keep it for",
        coerce=int,
        help_text="It is deleted automatically afterwards; you can extend it later.",
    )
    gdpr_acknowledged = forms.BooleanField(
        label="I understand, and I will handle this personal data accordingly.",
        error_messages={"required": "Tick the box to confirm you have read the notice above."},
    )

    def __init__(self, site: ClientSite, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site
        longest = min(MAX_TTL_DAYS, settings.STAGING_MAX_LIFETIME_DAYS)
        days = sorted({*LIFETIME_CHOICES, site.ttl_days} & set(range(1, longest + 1)))
        ttl_field = cast(forms.TypedChoiceField, self.fields["ttl_days"])
        ttl_field.choices = [(d, "1 day" if d == 1 else f"{d} days") for d in days]
        ttl_field.initial = site.ttl_days

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        problem = name_problem(self.site, name)
        if problem:
            raise forms.ValidationError(problem)
        return name


class AuditFilterForm(forms.Form):
    site = IdChoiceField(
        label="Client", queryset=ClientSite.objects.all(), required=False, empty_label="All"
    )
    user = IdChoiceField(
        label="User",
        queryset=User.objects.filter(is_staff=True).order_by("username"),
        required=False,
        empty_label="All",
    )
    action = forms.ChoiceField(label="Action", required=False)
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        action_field = cast(forms.ChoiceField, self.fields["action"])
        action_field.choices = [("", "All"), *((a, audit_action_label(a)) for a in actions)]

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if not self.is_valid():
            return events.none()
        data = self.cleaned_data
        if data["site"]:
            events = events.filter(site=data["site"])
        if data["user"]:
            events = events.filter(actor=data["user"])
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["date_from"]:
            events = events.filter(created_at__gte=_start_of(data["date_from"]))
        if data["date_to"]:
            events = events.filter(created_at__lt=_start_of(data["date_to"], days_after=1))
        return events


def _start_of(day: date, days_after: int = 0) -> datetime:
    """Midnight in the portal's time zone, so a date filter means the day people see."""
    moment = datetime.combine(day, time.min) + timedelta(days=days_after)
    return timezone.make_aware(moment)


def detect_wordpress(image: str | None) -> bool:
    """WordPress runs from the official image (``wordpress:6.8-php8.3-apache``) or a fork of it."""
    if not image:
        return False
    return image.rsplit("/", 1)[-1].split(":", 1)[0].startswith("wordpress")


class ImportSiteForm(forms.Form):
    """A Railway project as a client site; the choices are what the project holds."""

    name = forms.CharField(label="Client name", max_length=200)
    slug = forms.SlugField(label="Short name", max_length=60)
    production_environment_id = forms.ChoiceField(label="Production environment")
    app_service_id = forms.ChoiceField(label="Website service")
    database_service_id = forms.ChoiceField(label="Database service")
    is_wordpress = forms.BooleanField(label="It is a WordPress site", required=False)
    production_url = forms.URLField(
        label="Public address of the live site",
        required=False,
        assume_scheme="https",
        help_text="For example https://www.client.example (used for WordPress links).",
    )

    def __init__(self, project: Project, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        databases = [s for s in project.services if s.database_engine]
        apps = [s for s in project.services if not s.database_engine]
        self._choose("production_environment_id", [(e.id, e.name) for e in project.environments])
        self._choose(
            "app_service_id", [(s.id, f"{s.name} ({s.image or 'no image'})") for s in apps]
        )
        self._choose(
            "database_service_id",
            [(s.id, f"{s.name} ({_engine_label(s.database_engine)})") for s in databases],
        )
        production = project.environment_named("production") or (
            project.environments[0] if project.environments else None
        )
        self.initial.update(
            {
                "name": project.name,
                "slug": slugify(project.name)[:60],
                "production_environment_id": production.id if production else "",
                "app_service_id": apps[0].id if apps else "",
                "database_service_id": databases[0].id if databases else "",
                "is_wordpress": any(detect_wordpress(s.image) for s in apps),
            }
        )

    def _choose(self, field: str, choices: list[tuple[str, str]]) -> None:
        choice_field = cast(forms.ChoiceField, self.fields[field])
        choice_field.choices = choices

    def clean_slug(self) -> str:
        slug = str(self.cleaned_data["slug"])
        if ClientSite.objects.filter(slug=slug).exists():
            raise forms.ValidationError("Another client site has this short name.")
        return slug

    def save(self) -> ClientSite:
        data = self.cleaned_data
        services = {s.id: s for s in self.project.services}
        app = services[data["app_service_id"]]
        database = services[data["database_service_id"]]
        return ClientSite.objects.create(
            name=data["name"],
            slug=data["slug"],
            railway_project_id=self.project.id,
            production_environment_id=data["production_environment_id"],
            app_service_id=app.id,
            app_service_name=app.name,
            database_service_id=database.id,
            database_service_name=database.name,
            database_engine=DatabaseEngine(database.database_engine or ""),
            is_wordpress=data["is_wordpress"],
            production_url=data["production_url"],
        )


def _engine_label(engine: str | None) -> str:
    return DatabaseEngine(engine).label if engine else "not a database"
