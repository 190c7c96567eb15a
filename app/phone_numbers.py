"""Phone numbers, parsed and formatted in one place: the clinic's own number
(content/site.yaml) and the number a patient gives on the form."""

from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberFormat
from phonenumbers import PhoneNumberType

# Numbers a receptionist can call back at no charge beyond a normal call.
# Premium-rate (1-900), shared-cost, pagers, voicemail-only and unknown kinds
# are refused: a call to them costs the clinic or reaches no one.
CALLABLE = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.VOIP,
    }
)


class PhoneNumberError(ValueError):
    """Not a phone number; ``not_callable`` when it is one the clinic cannot
    call (premium rate and the like)."""

    def __init__(self, not_callable: bool = False) -> None:
        super().__init__("not a callable phone number" if not_callable else "")
        self.not_callable = not_callable


class PhoneNumber(NamedTuple):
    """A parsed number: ``canonical`` to store and parse again, ``display``
    to read (the extension included), ``tel`` for a link that dials it."""

    canonical: str
    display: str
    tel: str

    @property
    def e164(self) -> str:
        """The number without its extension, as dialers and tel: links take it."""
        return self.canonical.partition(";")[0]


def parse_phone(text: str) -> PhoneNumber:
    """Any format phonenumbers understands, US when there is no +code; an
    extension ("x45", "ext. 45") is kept. Raises PhoneNumberError."""
    try:
        number = phonenumbers.parse(str(text), "US")
    except phonenumbers.NumberParseException:
        raise PhoneNumberError() from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError()
    if phonenumbers.number_type(number) not in CALLABLE:
        raise PhoneNumberError(not_callable=True)
    national = number.country_code == 1
    extension = f";ext={number.extension}" if number.extension else ""
    return PhoneNumber(
        phonenumbers.format_number(number, PhoneNumberFormat.E164) + extension,
        phonenumbers.format_number(
            number,
            PhoneNumberFormat.NATIONAL if national else PhoneNumberFormat.INTERNATIONAL,
        ),
        phonenumbers.format_number(number, PhoneNumberFormat.RFC3966),
    )
