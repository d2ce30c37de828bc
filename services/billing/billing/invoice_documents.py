"""Invoices as files: the statement history as CSV (one row per statement) and one statement as a PDF.

Both take the statements as the wire schemas dump them (portal_contracts.billing_invoice: text dates, Money as
"1234.50"), so a file always says what the JSON answer says. The PDF is built with reportlab's standard
Helvetica and left uncompressed, like roster's ID cards: its text stays plainly searchable (and checkable by tests
without a PDF reader).
"""
import base64
import csv
import io
from decimal import Decimal

from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from servicekit.documents import draw_line, printable

CSV_TYPE = "text/csv"
PDF_TYPE = "application/pdf"
CSV_COLUMNS = ("statement_number", "account_number", "subgroup_number", "coverage_month", "cut_date", "due_date",
               "balance_forward", "payments", "charges", "adjustments", "amount_due", "status", "paid",
               "open_amount", "supersedes", "superseded_by")

MARGIN = 0.75 * inch
BAND = Color(0.05, 0.25, 0.45)
LINE_HEIGHT = 14


def as_file(filename, content_type, content, rows=None):
    """What the gateway answers as a download (routes_roster.download)."""
    return {"filename": filename, "content_type": content_type,
            "content_base64": base64.b64encode(content).decode("ascii"), "rows": rows}


# --- CSV --------------------------------------------------------------------------------------------------

def csv_filename(group_number, today):
    return "invoices-%s-%s.csv" % (group_number, today.strftime("%Y%m%d"))


def invoices_csv(summaries):
    """One row per statement (InvoiceSummary, dumped), in the order given, with a header row; UTF-8 with a BOM
    so a spreadsheet opens it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for summary in summaries:
        writer.writerow([_csv_value(summary.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # A cell starting with = + - @ would run as a formula in a spreadsheet; amounts are left as numbers.
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text):
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


# --- PDF --------------------------------------------------------------------------------------------------

def pdf_filename(invoice):
    return "invoice-%s.pdf" % invoice["statement_number"]


def invoice_pdf(invoice, carrier_name):
    """The statement (Invoice, dumped) as PDF bytes: the header, then its lines, on as many letter pages as
    they need."""
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=LETTER, pageCompression=0)
    pdf.setTitle("Invoice %s" % invoice["statement_number"])
    pdf.setAuthor(carrier_name)
    pdf.setSubject("%s, account %s, coverage %s" % (invoice["group_name"], invoice["account_number"],
                                                    _month(invoice["coverage_month"])))
    y = _header(pdf, invoice, carrier_name)
    y = _summary(pdf, invoice, y)
    _lines(pdf, invoice, y)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _header(pdf, invoice, carrier_name):
    width, height = LETTER
    pdf.setFillColor(BAND)
    pdf.rect(0, height - 0.9 * inch, width, 0.9 * inch, stroke=0, fill=1)
    pdf.setFillColor(Color(1, 1, 1))
    draw_line(pdf, MARGIN, height - 0.45 * inch, carrier_name, "Helvetica-Bold", 16)
    draw_line(pdf, MARGIN, height - 0.7 * inch, "Premium invoice %s" % invoice["statement_number"], "Helvetica", 11)
    pdf.setFillColor(black)
    y = height - 1.3 * inch
    rows = [("Group", "%s  %s" % (invoice["group_number"], invoice["group_name"])),
            ("Billing account", "%s  %s (subgroup %s)" % (invoice["account_number"], invoice["account_name"],
                                                          invoice["subgroup_number"])),
            ("Coverage month", _month(invoice["coverage_month"])),
            ("Statement date", invoice["cut_date"]),
            ("Due date", invoice["due_date"]),
            ("Status", _status(invoice))]
    if invoice.get("supersedes"):
        rows.append(("Replaces", invoice["supersedes"]))
    if invoice.get("superseded_by"):
        rows.append(("Replaced by", invoice["superseded_by"]))
    for label, value in rows:
        draw_line(pdf, MARGIN, y, label, "Helvetica", 10)
        draw_line(pdf, MARGIN + 1.6 * inch, y, value, "Helvetica-Bold", 10)
        y -= LINE_HEIGHT
    return y - LINE_HEIGHT


def _summary(pdf, invoice, y):
    width, _height = LETTER
    right = width - MARGIN
    rows = [("Balance forward", invoice["balance_forward"]), ("Payments and returns", invoice["payments"]),
            ("Premium for %s" % _month(invoice["coverage_month"]), invoice["charges"]),
            ("Adjustments", invoice["adjustments"])]
    for label, amount in rows:
        draw_line(pdf, MARGIN, y, label, "Helvetica", 10)
        _amount(pdf, right, y, amount, "Helvetica", 10)
        y -= LINE_HEIGHT
    pdf.line(MARGIN, y + LINE_HEIGHT - 4, right, y + LINE_HEIGHT - 4)
    draw_line(pdf, MARGIN, y - 2, "Amount due by %s" % invoice["due_date"], "Helvetica-Bold", 12)
    _amount(pdf, right, y - 2, invoice["amount_due"], "Helvetica-Bold", 12)
    return y - 2.4 * LINE_HEIGHT


COLUMNS = ((0, "Type"), (0.9, "Month"), (1.7, "Member"), (2.75, "Subscriber"), (3.8, "Plan / rate"),
           (5.0, "Description"))


def _lines(pdf, invoice, y):
    width, _height = LETTER
    right = width - MARGIN
    y = _line_heading(pdf, y, right)
    if not invoice["lines"]:
        draw_line(pdf, MARGIN, y, "No premium lines on this statement.", "Helvetica", 9)
        return
    for line in invoice["lines"]:
        if y < MARGIN + LINE_HEIGHT:
            pdf.showPage()
            y = _line_heading(pdf, LETTER[1] - MARGIN, right)
        plan = " / ".join(part for part in (line.get("plan_code"), line.get("rate_key")) if part)
        cells = (line["kind"], _month(line["coverage_month"]) if line.get("coverage_month") else "",
                 line.get("member_id") or "", line.get("subscriber_member_id") or "", plan)
        for (offset, _title), value in zip(COLUMNS, cells):
            draw_line(pdf, MARGIN + offset * inch, y, value, "Helvetica", 8, max_width=1.0 * inch)
        draw_line(pdf, MARGIN + COLUMNS[-1][0] * inch, y, line.get("description") or "", "Helvetica", 8,
              max_width=right - MARGIN - COLUMNS[-1][0] * inch - 0.9 * inch)
        _amount(pdf, right, y, line["amount"], "Helvetica", 8)
        y -= LINE_HEIGHT - 2


def _line_heading(pdf, y, right):
    for offset, title in COLUMNS:
        draw_line(pdf, MARGIN + offset * inch, y, title, "Helvetica-Bold", 8)
    _text_right(pdf, right, y, "Amount", "Helvetica-Bold", 8)
    pdf.line(MARGIN, y - 4, right, y - 4)
    return y - LINE_HEIGHT


def _status(invoice):
    if invoice["status"] == "superseded":
        return "superseded by a rebill"
    return "paid" if invoice["paid"] else "open (%s still due for the month)" % money_text(invoice["open_amount"])


def money_text(amount):
    """"1234.50" -> "$1,234.50"; a credit shows as -$12.00."""
    value = Decimal(amount)
    return "%s$%s" % ("-" if value < 0 else "", "{:,.2f}".format(abs(value)))


def _month(iso_date):
    year, month = str(iso_date).split("-")[:2]
    return "%s-%s" % (year, month)


def _amount(pdf, right, y, amount, font, size):
    _text_right(pdf, right, y, money_text(amount), font, size)


def _text_right(pdf, right, y, text, font, size):
    text = printable(text)
    pdf.setFont(font, size)
    pdf.drawRightString(right, y, text)
