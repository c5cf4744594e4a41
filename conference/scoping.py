"""What an organizer may see in the admin: the conferences they organize, and
everything that belongs to them.

Superusers see everything. Anyone else sees, opens, chooses in a form and acts
on only the rows of conferences they organize; a user who organizes nothing
sees nothing.
"""

from django.contrib import admin

from .models import Conference


def organized_conferences(user):
    """The conferences ``user`` organizes (every conference for a superuser)."""
    if user.is_superuser:
        return Conference.objects.all()
    if not user.is_authenticated:
        return Conference.objects.none()
    return Conference.objects.filter(organizers=user.pk)


class OrganizerScopedAdminMixin:
    """Limits a ModelAdmin (or inline) to the organizer's conferences.

    ``conference_lookup`` is the path from the model to its conference (``"pk"``
    for Conference itself). The change list, the change and delete pages (an
    object of another conference is "not found"), the actions (which run on the
    change list's rows) and the choices of every conference, ticket type and
    add-on field follow from ``get_queryset`` and ``formfield_for_foreignkey``.
    """

    conference_lookup = "conference"
    # Foreign keys to these models offer only rows of the organizer's
    # conferences, through the path given.
    scoped_choices = {
        "conference.conference": "pk",
        "registration.tickettype": "conference",
        "registration.addon": "conference",
        "registration.order": "conference",
    }

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            **{f"{self.conference_lookup}__in": organized_conferences(request.user)}
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model._meta.label_lower
        lookup = self.scoped_choices.get(related)
        if lookup is not None and not request.user.is_superuser:
            queryset = kwargs.get("queryset", db_field.related_model._default_manager.all())
            kwargs["queryset"] = queryset.filter(
                **{f"{lookup}__in": organized_conferences(request.user)}
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class OrganizedChoicesFilter(admin.RelatedFieldListFilter):
    """A list filter on a conference, ticket type or add-on field that offers only
    those of the organizer's conferences."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        lookup = OrganizerScopedAdminMixin.scoped_choices.get(field.related_model._meta.label_lower)
        limit = None
        if lookup is not None and not request.user.is_superuser:
            limit = {f"{lookup}__in": organized_conferences(request.user)}
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)


def scoped_conference_filter(field_name="conference"):
    """A list filter on ``field_name`` offering only the organizer's own."""
    return (field_name, OrganizedChoicesFilter)
