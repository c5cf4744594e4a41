"""Payment providers: the small interface the order page's pay step talks to.

A provider either takes the money at once (``pays_online``: the pay button calls
``pay``, which records the payment through ``registration.services.mark_paid``)
or explains how to pay offline (``instructions``) and leaves it to an organizer
to mark the order paid once the money has arrived.

Which providers an attendee is offered is the ``SEATKEEPER_PAYMENT_PROVIDERS``
setting, a list of provider names in the order they are shown.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from conference.templatetags.money import format_money

from . import services
from .emails import bank_transfer_details
from .models import Order


class PaymentProvider:
    """What every provider offers. Subclasses set the names and implement ``pay``.

    ``label`` (translated lazily) names the provider on the pay step; ``pay_button``
    is its button's words.
    """

    name = ""
    label = ""
    pays_online = False

    def instructions(self, order: Order) -> str:
        """What the attendee should do to pay, shown next to the provider's label."""
        return ""

    def pay_button(self, order: Order) -> str:
        """The words on the button that pays ``order`` this way."""
        return _("Pay %(amount)s with %(provider)s") % {
            "amount": format_money(order.total),
            "provider": self.label,
        }

    def pay(self, order: Order) -> Order:
        """Pay ``order`` now and return it, or raise ValidationError saying why not."""
        raise ValidationError(_("%(provider)s cannot be paid online.") % {"provider": self.label})


class DemoProvider(PaymentProvider):
    """Pays at once, with no money involved. For demos and development."""

    name = "demo"
    label = gettext_lazy("Demo payment")
    pays_online = True

    def instructions(self, order):
        return _("Pays at once; no money changes hands. For trying Seatkeeper out.")

    def pay_button(self, order):
        return _("Pay %(amount)s with demo payment") % {"amount": format_money(order.total)}

    def pay(self, order):
        # A late payment (hold lapsed) is re-checked by mark_paid under the lock.
        return services.mark_paid(order, provider=self.name)


class ManualProvider(PaymentProvider):
    """Bank transfer: the attendee transfers the money, an organizer marks the order paid."""

    name = "manual"
    label = gettext_lazy("Bank transfer")
    pays_online = False

    def instructions(self, order):
        days = order.conference.bank_transfer_days
        return ngettext(
            "Transfer %(amount)s to %(details)s, quoting %(reference)s. The organizer "
            "marks your order paid when the money arrives. Choosing bank transfer holds "
            "your seats for %(days)s day.",
            "Transfer %(amount)s to %(details)s, quoting %(reference)s. The organizer "
            "marks your order paid when the money arrives. Choosing bank transfer holds "
            "your seats for %(days)s days.",
            days,
        ) % {
            "amount": format_money(order.total),
            "details": bank_transfer_details(),
            "reference": order.reference,
            "days": days,
        }

    def pay_button(self, order):
        return _("Pay by bank transfer")

    def pay(self, order):
        # Nothing is paid yet: the hold is lengthened to the transfer's deadline.
        return services.choose_bank_transfer(order)


PROVIDERS = {provider.name: provider for provider in (DemoProvider(), ManualProvider())}


def enabled_providers() -> list[PaymentProvider]:
    """The providers the pay step offers, as configured; unknown names are a setup error."""
    names = settings.SEATKEEPER_PAYMENT_PROVIDERS
    unknown = [name for name in names if name not in PROVIDERS]
    if unknown:
        raise ImproperlyConfigured(
            f"SEATKEEPER_PAYMENT_PROVIDERS names unknown providers {unknown}; "
            f"known are {sorted(PROVIDERS)}."
        )
    return [PROVIDERS[name] for name in names]


def get_provider(name) -> PaymentProvider | None:
    """The enabled provider called ``name``, or None when it is not offered."""
    return next((provider for provider in enabled_providers() if provider.name == name), None)
