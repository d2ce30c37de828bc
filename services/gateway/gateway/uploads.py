"""CSV files uploaded to the gateway (the roster's census, the old portal's users): the body as `text/csv`, or
the `file` field of a `multipart/form-data` form, up to 10 MB, in UTF-8 (with or without the byte-order mark a
spreadsheet writes) or the charset the Content-Type names. An empty or unreadable file is a 422 on `errors.file`,
another media type a 415; the text then goes to the service as one string, which checks every row itself."""
from flask import request

from gateway.problems import Problem

MAX_BYTES = 10 * 1024 * 1024


class CsvUpload:
    """One kind of upload: `noun` names it in messages ("census", "user list"), `schema` is the RPC's wire
    input ({field: text}) whose own checks of the text run here too."""

    def __init__(self, noun, schema, field="csv_text"):
        self.noun, self.schema, self.field = noun, schema, field
        self.columns = schema.fields[field].metadata.get("description", "CSV with a header row.")

    @property
    def media_types(self):
        """The OpenAPI request body's content ({media type: schema}) for Route(upload=...)."""
        return {
            "text/csv": {"type": "string", "description": self.columns + " UTF-8 (a byte-order mark is fine), or "
                                                                         "the charset the Content-Type names."},
            "multipart/form-data": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": self.columns}},
            },
        }

    def text(self):
        """The uploaded file as text, or a 415/422 problem."""
        if request.mimetype == "text/csv":
            raw, charset = request.get_data(cache=False), request.mimetype_params.get("charset")
        elif request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is not None:
                raw, charset = upload.read(), upload.mimetype_params.get("charset")
            elif request.form.get("file") is not None:  # a plain form field (curl -F 'file=<users.csv')
                return self._checked(request.form["file"])
            else:
                raise self.problem("Attach the %s CSV as the 'file' field of the form." % self.noun)
        else:
            raise Problem(415, "unsupported_media_type", "Unsupported Media Type",
                          "Send the %s as 'Content-Type: text/csv', or as the 'file' field of a "
                          "multipart/form-data form." % self.noun)
        try:
            text = raw.decode(_codec(charset))
        except (UnicodeDecodeError, LookupError):
            raise self.problem("The file is not readable as %s text: save it as 'CSV UTF-8'."
                               % (charset or "UTF-8")) from None
        return self._checked(text)

    def _checked(self, text):
        if not text.strip():
            raise self.problem("The file is empty.")
        errors = self.schema.validate({self.field: text})  # the contract's own checks of the text, if any
        if errors:
            raise self.problem(*[str(message) for message in errors.get(self.field, errors)])
        return text

    @staticmethod
    def problem(*messages):
        return Problem(422, "validation_failed", "The request has invalid fields",
                       "Correct the fields listed in errors.", errors={"file": list(messages)})


def _codec(charset):
    if charset is None or charset.lower().replace("-", "").replace("_", "") == "utf8":
        return "utf-8-sig"  # spreadsheet programs start "CSV UTF-8" with a byte-order mark
    return charset
