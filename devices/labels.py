"""What a factory batch prints: the CSV of its lights and a sheet of labels with QR codes.

Each label carries a QR code (segno) that opens `<portal>/claim/<code>` on a phone, the code in
letters for typing, the serial, and the setup access point's password. The sheet is an A4 PDF
(fpdf2) of 3 × 8 labels of 70 × 37 mm, the common self-adhesive layout.
"""

from __future__ import annotations

import csv
import io
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


def qr_png(url: str) -> bytes:
    # Error correction "M" (15 %): a label survives a scratch; the URL stays a small version.
    buffer = io.BytesIO()
    segno.make_qr(url, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


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
        pdf.image(io.BytesIO(qr_png(label.claim_url)), x=x + 2, y=y + (LABEL_H - QR_SIZE) / 2,
                  w=QR_SIZE, h=QR_SIZE, alt_text=label.claim_url)
        text_x = x + QR_SIZE + 4
        pdf.set_xy(text_x, y + 5)
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(text=f"Smart Light {label.serial}")
        pdf.set_xy(text_x, y + 12)
        pdf.set_font("Courier", "B", 11)
        pdf.cell(text=label.claim_code)
        pdf.set_font("Helvetica", "", 6.5)
        pdf.set_xy(text_x, y + 19)
        pdf.cell(text="Scan, or type the code in")
        pdf.set_xy(text_x, y + 22.5)
        pdf.cell(text="Add a light")
        if label.ap_password:
            pdf.set_xy(text_x, y + 28)
            pdf.cell(text=f"Setup Wi-Fi: {label.ap_password}")
    pdf.output(str(path))
