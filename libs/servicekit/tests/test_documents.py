"""Lines on PDF documents: characters the standard fonts cannot draw, and text too wide for its place."""
from reportlab.pdfbase.pdfmetrics import stringWidth

from servicekit.documents import draw_line, printable


class Page:
    """Records what would be drawn."""

    def __init__(self):
        self.drawn = []

    def setFont(self, font, size):
        self.font = (font, size)

    def drawString(self, x, y, text):
        self.drawn.append((text, self.font))


def test_characters_outside_latin_1_become_question_marks():
    assert printable("Peña Łukasz 佐藤\n") == "Peña ?ukasz ???"


def test_a_line_too_wide_shrinks_to_its_minimum_and_is_then_cut_with_an_ellipsis():
    page = Page()
    name = "Maximiliana Worthington-Featherstonehaugh"
    draw_line(page, 0, 0, name, "Helvetica", 10, max_width=100, min_size=8)
    text, (font, size) = page.drawn[0]
    assert size == 8 and text.endswith("...") and name.startswith(text[:-3])
    assert stringWidth(text, "Helvetica", 8) <= 100 < stringWidth(text[:-3] + name[len(text) - 3] + "...",
                                                                  "Helvetica", 8)

    draw_line(page, 0, 0, "Short", "Helvetica", 10, max_width=100, min_size=8)
    assert page.drawn[1] == ("Short", ("Helvetica", 10))
