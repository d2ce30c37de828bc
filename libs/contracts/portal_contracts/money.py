"""Money on the wire (API.md): a string with two decimals ("1234.50"), loaded as a Decimal; never a float."""
from decimal import Decimal, InvalidOperation

from marshmallow import fields


class Money(fields.Decimal):
    """A Decimal amount with at most 2 decimal places, dumped as a string with exactly 2. Accepts "12.5",
    "12.50" or 12.5 from JSON; refuses 12.505, NaN and Infinity with a message a form can show."""

    default_error_messages = {
        "invalid": "Enter an amount such as 1234.50.",
        "too_precise": "An amount has at most 2 decimal places.",
        "special": "Enter an amount such as 1234.50.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("as_string", True)
        kwargs.setdefault("places", 2)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            raw = Decimal(str(value).strip()) if not isinstance(value, bool) else None
        except (InvalidOperation, ValueError):
            raw = None
        if raw is None or not raw.is_finite():
            raise self.make_error("invalid")
        if raw.as_tuple().exponent < -2:
            raise self.make_error("too_precise")
        return super()._deserialize(value, attr, data, **kwargs)
