"""Telling people a run has ended, or that their copy is about to be deleted, in plain words
with a link to the portal. A notification that fails is logged, never fatal."""

from __future__ import annotations

import logging

import httpx
from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from staging.models import Operation, Run, RunStatus, StagingEnvironment

logger = logging.getLogger("staging.notify")

DOING: dict[str, str] = {
    Operation.CLONE: "Creating",
    Operation.REFRESH: "Refreshing",
    Operation.TEARDOWN: "Deleting",
}
DONE: dict[str, str] = {
    Operation.CLONE: "is ready",
    Operation.REFRESH: "was refreshed from production",
    Operation.TEARDOWN: "was deleted",
}


def portal_link(path: str) -> str:
    """An absolute address of a portal page (``PORTAL_URL``), for e-mail and Slack."""
    return settings.PORTAL_URL.rstrip("/") + path


def _date(moment: object) -> str:
    return f"{timezone.localtime(moment):%-d %B %Y at %H:%M}"  # type: ignore[arg-type]


def describe(run: Run) -> tuple[str, str]:
    """The subject and the body of the message about ``run``; the subject is never cut."""
    environment = run.environment
    copy = f"the staging copy {environment.name} of {environment.site}"
    link = portal_link(reverse("portal:run", args=[run.pk]))
    if run.status == RunStatus.SUCCEEDED:
        subject = f"{copy[0].upper()}{copy[1:]} {DONE[run.operation]}"
        lines = [f"{subject}."]
        if run.operation != Operation.TEARDOWN:
            # A deleted copy's address leads nowhere: only live copies carry it.
            if environment.url:
                lines.append(f"Open it: {environment.url}")
            lines.append(f"It will be deleted on {_date(environment.expires_at)} unless extended.")
        lines.append(f"Details: {link}")
    elif run.status == RunStatus.CANCELLED:
        subject = f"{DOING[run.operation]} {copy} was cancelled"
        lines = [f"{subject}; anything already made was removed.", f"Details: {link}"]
    else:
        subject = f"{DOING[run.operation]} {copy} did not work"
        lines = [
            f"{subject}. Understudy undid what it had done.",
            f"What happened and what to do: {link}",
        ]
        if run.error_code:
            lines.append(f"(For the web team: error code {run.error_code}.)")
    return subject, "\n\n".join(lines)


def run_finished(run: Run) -> None:
    subject, body = describe(run)
    _slack(body, run_id=run.pk)
    _mail(run.triggered_by, subject, body, run_id=run.pk)


def expiry_warning(environment: StagingEnvironment) -> bool:
    """Tell the person who made ``environment`` that it will be deleted soon; True when an
    e-mail or a Slack message went out."""
    extend = portal_link(reverse("portal:extend", args=[environment.pk]))
    subject = (
        f"The staging copy {environment.name} of {environment.site} will be deleted on "
        f"{_date(environment.expires_at)}"
    )
    owner = environment.created_by
    greeting = f"Hello {owner.get_username()},\n\n" if owner is not None else ""
    body = (
        f"{greeting}{subject}, with its copy of {environment.site}'s customers' data.\n\n"
        f"Still need it? Keep it longer with one click: {extend}\n\n"
        "Nothing to do if you are done with it."
    )
    sent = _slack(body, environment_id=environment.pk)
    return _mail(owner, subject, body, environment_id=environment.pk) or sent


def _slack(text: str, **context: object) -> bool:
    if not settings.SLACK_WEBHOOK_URL:
        return False
    try:
        # https://api.slack.com/messaging/webhooks
        httpx.post(settings.SLACK_WEBHOOK_URL, json={"text": text}, timeout=10).raise_for_status()
    except httpx.HTTPError as error:
        logger.warning("Slack notification failed: %s", type(error).__name__, extra=context)
        return False
    return True


def _mail(user: User | None, subject: str, body: str, **context: object) -> bool:
    if user is None or not user.email:
        return False
    try:
        send_mail(f"Understudy: {subject}", body, None, [user.email])
    except Exception as error:  # a mail server problem must not fail the run
        logger.warning("email notification failed: %s", type(error).__name__, extra=context)
        return False
    return True
