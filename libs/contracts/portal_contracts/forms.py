"""The base of request bodies typed into forms: the gateway's own and the services' wire contracts."""
from marshmallow import RAISE, Schema, pre_load


class Input(Schema):
    """Unknown fields are errors (a typo is not silently ignored); strings are trimmed; an empty optional
    string counts as absent."""

    class Meta:
        unknown = RAISE

    @pre_load
    def trim_strings(self, data, **kwargs):
        if not isinstance(data, dict):
            return data  # marshmallow answers "Invalid input type."
        cleaned = {}
        for key, value in data.items():
            if isinstance(value, str):
                value = value.strip()
                field = self.fields.get(key)
                if value == "" and field is not None and not field.required:
                    value = None
            cleaned[key] = value
        return cleaned
