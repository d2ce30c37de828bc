"""A member's ID card as a PDF: two wallet-card-sized pages (CR80, 3.375 x 2.125 in), the front with the member,
group, plan, PCP and effective date, the back with the carrier's member-services phone.

Built with reportlab's standard Helvetica (no font files to ship). Pages are left uncompressed: a card is a
few kilobytes either way, and its text stays plainly searchable (and checkable by tests without a PDF reader).
"""
import io

from reportlab.lib.colors import Color, white
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from servicekit.documents import draw_line

CARD_SIZE = (3.375 * inch, 2.125 * inch)
MARGIN = 0.14 * inch
BAND = Color(0.05, 0.25, 0.45)
MIN_FONT_SIZE = 5
CONTENT_TYPE = "application/pdf"


def filename(card):
    return "id-card-%s.pdf" % card["card_id"]


def card_pdf(card, issued_on):
    """The card (portal_contracts.roster_care.IdCard, dumped) as PDF bytes; `issued_on`: the business date."""
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=CARD_SIZE, pageCompression=0)
    pdf.setTitle("ID card %s" % card["card_id"])
    pdf.setAuthor(card["carrier_name"])
    pdf.setSubject("%s, member %s, %s" % (card["member_name"], card["member_id"], card["plan_name"]))
    _front(pdf, card)
    pdf.showPage()
    _back(pdf, card, issued_on)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _front(pdf, card):
    width, height = CARD_SIZE
    inner = width - 2 * MARGIN
    pdf.setFillColor(BAND)
    pdf.rect(0, height - 0.42 * inch, width, 0.42 * inch, stroke=0, fill=1)
    pdf.setFillColor(white)
    _line(pdf, MARGIN, height - 0.2 * inch, card["carrier_name"], "Helvetica-Bold", 10, inner)
    _line(pdf, MARGIN, height - 0.34 * inch, "%s (%s)" % (card["plan_name"], card["plan_type"]), "Helvetica", 7, inner)
    pdf.setFillColor(Color(0, 0, 0))
    y = height - 0.6 * inch
    _line(pdf, MARGIN, y, card["member_name"], "Helvetica-Bold", 10, inner)
    rows = [("Member ID", card["member_id"]),
            ("Group", "%s  %s" % (card["group_number"], card["group_name"])),
            ("Plan", "%s  network %s" % (card["plan_code"], card["network"])),
            ("Coverage", "%s  effective %s" % (card["tier"], card["effective_date"]))]
    if card["relationship"] != "subscriber":
        rows.append(("Subscriber", "%s  %s" % (card["subscriber_name"], card["subscriber_member_id"])))
    rows.append(("PCP", _pcp_line(card)))
    for label, value in rows:
        y -= 0.165 * inch
        _line(pdf, MARGIN, y, label, "Helvetica", 6.5, 0.62 * inch)
        _line(pdf, MARGIN + 0.65 * inch, y, value, "Helvetica-Bold", 7, inner - 0.65 * inch)


def _pcp_line(card):
    pcp = card.get("pcp")
    if pcp:
        return "%s  %s" % (pcp["name"], pcp["phone"] or "")
    return "Required: choose one (call member services)" if card["pcp_required"] else "None on file"


def _back(pdf, card, issued_on):
    width, height = CARD_SIZE
    inner = width - 2 * MARGIN
    y = height - 0.3 * inch
    _line(pdf, MARGIN, y, card["carrier_name"], "Helvetica-Bold", 9, inner)
    lines = [("Member services", card["carrier_phone"]),
             ("Member", "%s  %s" % (card["member_name"], card["member_id"]))]
    for label, value in lines:
        y -= 0.2 * inch
        _line(pdf, MARGIN, y, "%s: %s" % (label, value), "Helvetica", 7.5, inner)
    notes = ["Show this card whenever you receive care.",
             "Having this card does not guarantee coverage;",
             "call member services to check eligibility and benefits.",
             "Issued %s." % issued_on.isoformat()]
    y -= 0.1 * inch
    for note in notes:
        y -= 0.14 * inch
        _line(pdf, MARGIN, y, note, "Helvetica", 6, inner)


def _line(pdf, x, y, text, font, size, max_width):
    draw_line(pdf, x, y, text, font, size, max_width, min_size=MIN_FONT_SIZE)
