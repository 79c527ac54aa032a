from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from zoneinfo import available_timezones

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as dj_timezone

from smartlight.outbox import OutboxEntry
from smartlight.text import validate_plain_text

INVITATION_TTL = timedelta(days=7)


def validate_timezone(value: str) -> None:
    if value not in _timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. Europe/Berlin)")


def _timezones() -> set[str]:
    global _TZ_CACHE
    if _TZ_CACHE is None:
        _TZ_CACHE = available_timezones()
    return _TZ_CACHE


_TZ_CACHE: set[str] | None = None


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


def _new_iot_user_id() -> str:
    return str(uuid.uuid4())


class User(AbstractUser):
    """A person. Signs in with an e-mail address (locally or through Cognito)."""

    username = None
    email = models.EmailField("e-mail address", unique=True)
    # The `user_id` of the iot_cookie mirror: the Cognito `sub` for Cognito users, a UUID otherwise.
    iot_user_id = models.CharField(max_length=64, unique=True, default=_new_iot_user_id)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email


class Home(models.Model):
    """The tenant: every device, room, scene and schedule belongs to one home."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, validators=[validate_plain_text])
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    created = models.DateTimeField(default=dj_timezone.now)

    def __str__(self) -> str:
        return self.name

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


# What each role may do, from least to most.
ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.OWNER: 2}


class Membership(models.Model):
    # Public URLs (role change, removal) name a membership by this UUID, never the integer id.
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, models.CASCADE, related_name="memberships")
    home = models.ForeignKey(Home, models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "home"], name="one_membership_per_home"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.home} ({self.role})"

    def can(self, role: str) -> bool:
        """True when this membership's role is at least `role`."""
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]

    @property
    def can_control(self) -> bool:
        return self.can(Role.MEMBER)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


class Invitation(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    home = models.ForeignKey(Home, models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(User, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=dj_timezone.now)
    accepted = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["home", "email"],
                condition=models.Q(accepted__isnull=True),
                name="one_open_invitation_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.home}"

    @property
    def expires(self):
        return self.created + INVITATION_TTL

    @property
    def is_expired(self) -> bool:
        return dj_timezone.now() >= self.expires


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token. Only its hash is stored; the raw value is shown once."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, validators=[validate_plain_text])
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=dj_timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        """Create a token and return it with its raw value (never stored)."""
        raw = "sl_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, prefix=raw[:10], token_hash=hash_token(raw)
        )
        return token, raw


class IotCookieOutbox(OutboxEntry):
    """An `iot_cookie` item (docs/architecture.md) that must be brought up to date.

    Written in the same transaction as the membership change that makes the item stale, keyed by
    the DynamoDB partition key (`user_id` = `User.iot_user_id`, kept even after the user is
    gone so the item can be deleted). The push task removes the row only if `version` did not
    move meanwhile; rows left behind are retried by the flush task and reconcile_iot_cookie.
    """

    user_id = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return f"iot_cookie {self.user_id} v{self.version}"


class RateCounter(models.Model):
    """Hits of one rate-limit key in one fixed time window (see accounts/ratelimit.py).

    In the database so that every worker process counts into the same row.
    """

    key = models.CharField(max_length=200, unique=True)
    expires = models.BigIntegerField(db_index=True, help_text="end of the window, Unix seconds")
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
