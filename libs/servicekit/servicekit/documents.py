"""Text on PDF documents (ID cards, statements) drawn with reportlab's standard fonts: what they can print, and
a line that fits its width. Only services that make documents import this (they depend on reportlab)."""
from reportlab.pdfbase.pdfmetrics import stringWidth

ELLIPSIS = "..."


def printable(text):
    """What the standard fonts can draw (Latin-1): any other character becomes '?' rather than a blank box."""
    return "".join(ch if ch.isprintable() and ord(ch) < 256 else "?" for ch in str(text))


def draw_line(pdf, x, y, text, font, size, max_width=None, min_size=None):
    """Draw `text` on one line at (x, y): within `max_width` (if given) by shrinking the font down to `min_size`
    (if given), then cutting the text with an ellipsis."""
    text = printable(text)
    if max_width is not None:
        while min_size is not None and size > min_size and stringWidth(text, font, size) > max_width:
            size -= 0.5
        if stringWidth(text, font, size) > max_width:
            while text and stringWidth(text + ELLIPSIS, font, size) > max_width:
                text = text[:-1]
            text += ELLIPSIS
    pdf.setFont(font, size)
    pdf.drawString(x, y, text)
