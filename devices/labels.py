"""What a factory batch prints: the CSV of its lights and a sheet of labels with QR codes.

Each label carries a QR code (segno, drawn as vector squares) that opens
`<portal>/claim/<code>` on a phone, the code in letters for typing, the serial, and the setup
access point's password. The sheet is an A4 PDF (fpdf2) of 3 × 8 labels of 70 × 37 mm, the
common self-adhesive layout.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import segno
from fpdf import FPDF

CSV_FIELDS = ["serial", "thing", "method", "claim_code", "claim_url", "ap_password",
              "code_expires"]

COLUMNS, ROWS = 3, 8
LABEL_W, LABEL_H = 70.0, 37.0
QR_SIZE = 30.0


@dataclass
class Label:
    serial: str
    thing: str
    method: str
    claim_code: str
    claim_url: str
    ap_password: str
    code_expires: str


def write_csv(path: Path, labels: Iterable[Label]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for label in labels:
            writer.writerow({name: getattr(label, name) for name in CSV_FIELDS})


def qr_code(url: str) -> segno.QRCode:
    # Error correction "M" (15 %): a label survives a scratch; the URL stays a small version.
    return segno.make_qr(url, error="m")


def draw_qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """The QR code as vector squares (one rectangle per run of dark modules in a row): sharp at
    any printer resolution, and far cheaper than embedding an image per label."""
    qr = qr_code(url)
    border = 2
    modules = len(qr.matrix) + 2 * border
    unit = size / modules
    pdf.set_fill_color(0, 0, 0)
    for row, line in enumerate(qr.matrix):
        start = None
        for col, dark in enumerate([*line, 0]):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                pdf.rect(x + (start + border) * unit, y + (row + border) * unit,
                         (col - start) * unit, unit, style="F")
                start = None


TEXT_W = LABEL_W - QR_SIZE - 6  # mm beside the QR code, inside the label


def label_lines(label: Label) -> list[tuple[str, str, float, str]]:
    """(font, style, size in pt, text) of each line printed beside the QR code."""
    lines = [
        ("Helvetica", "B", 9, "Smart Light"),
        ("Helvetica", "", 6.5, f"Serial {label.serial}"),
        ("Courier", "B", 11, label.claim_code),
        ("Helvetica", "", 6.5, "Scan, or type the code in"),
        ("Helvetica", "", 6.5, "Add a light"),
    ]
    if label.ap_password:
        lines.append(("Helvetica", "", 6.5, f"Setup Wi-Fi: {label.ap_password}"))
    return lines


def write_sheet(path: Path, labels: list[Label]) -> None:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title("Smart Light claim labels")
    margin_x = (210 - COLUMNS * LABEL_W) / 2
    margin_y = (297 - ROWS * LABEL_H) / 2
    per_page = COLUMNS * ROWS
    for index, label in enumerate(labels):
        if index % per_page == 0:
            pdf.add_page()
        slot = index % per_page
        x = margin_x + (slot % COLUMNS) * LABEL_W
        y = margin_y + (slot // COLUMNS) * LABEL_H
        draw_qr(pdf, label.claim_url, x + 2, y + (LABEL_H - QR_SIZE) / 2, QR_SIZE)
        pdf.link(x + 2, y + (LABEL_H - QR_SIZE) / 2, QR_SIZE, QR_SIZE, label.claim_url)
        text_x = x + QR_SIZE + 4
        for offset, (font, style, size, text) in zip(
                (4, 9, 15, 21, 24.5, 30), label_lines(label), strict=False):
            pdf.set_font(font, style, size)
            pdf.set_xy(text_x, y + offset)
            pdf.cell(text=text)
    pdf.output(str(path))
