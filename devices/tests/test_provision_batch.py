"""provision_batch: unclaimed lights for the factory, with claim codes, a CSV and labels."""

from __future__ import annotations

import csv
import io
import json
import re
import zlib

import pytest
from django.core.management import CommandError, call_command

from devices import claims
from devices.models import Serial
from devices.tests.conftest import EXPECTED_CLAIM_POLICY, certificates, policies_of


def make(tmp_path, count=3, method="fleet", out="batch", **extra):
    args = ["--count", str(count), "--out", str(tmp_path / out), "--method", method,
            "--portal", "https://lights.example.com"]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("provision_batch", *args, stdout=stdout, stderr=stderr)
    return tmp_path / out, stderr.getvalue()


def rows_of(folder):
    with (folder / "lights.csv").open() as handle:
        return list(csv.DictReader(handle))


def serial_items(aws, settings):
    items = aws.client("dynamodb").scan(TableName=settings.SERIALS_TABLE)["Items"]
    return {i["serial"]["S"]: {k: v["S"] for k, v in i.items()} for i in items}


def pdf_text(path) -> str:
    """The decompressed content streams of a PDF (fpdf2 deflates them)."""
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    chunks = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            chunks.append(zlib.decompress(match.group(1)).decode("latin-1"))
        except zlib.error:
            continue
    return "\n".join(chunks)


def test_a_fleet_batch_makes_serials_codes_labels_and_one_claim_certificate(iot, aws, settings,
                                                                           tmp_path):
    out, _ = make(tmp_path, count=3)

    rows = rows_of(out)
    assert len(rows) == 3
    serials = Serial.objects.order_by("serial")
    assert sorted(r["serial"] for r in rows) == [s.serial for s in serials]
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{12}", row["serial"])
        assert row["thing"] == f"sl-{row['serial']}"
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", row["claim_code"])
        assert row["claim_url"] == f"https://lights.example.com/claim/{row['claim_code']}"
        stored = Serial.objects.get(serial=row["serial"])
        # Only a keyed hash of the code is kept.
        assert stored.code_hash == claims.code_hash(row["claim_code"])
        assert row["claim_code"] not in json.dumps(
            list(Serial.objects.values()), default=str)
        assert stored.method == "fleet" and stored.device is None

    # One claim certificate for the batch, with the claim policy only and no thing.
    assert len(certificates(iot)) == 1
    (claim_id, status), = certificates(iot).items()
    assert status == "ACTIVE"
    claim_arn = iot.describe_certificate(
        certificateId=claim_id)["certificateDescription"]["certificateArn"]
    assert policies_of(iot, claim_arn) == ["smartlight-claim"]
    assert json.loads(iot.get_policy(policyName="smartlight-claim")["policyDocument"]) == (
        EXPECTED_CLAIM_POLICY)
    assert not iot.list_things()["things"]

    items = serial_items(aws, settings)
    assert set(items) == {r["serial"] for r in rows}
    for row in rows:
        item = items[row["serial"]]
        assert item["status"] == "made" and item["thing"] == row["thing"]
        assert item["made_at"]

    bundle = out / rows[0]["serial"]
    assert sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()) == [
        "certs/AmazonRootCA1.pem", "certs/claim.pem.crt", "certs/claim.private.pem.key",
        "config.json"]
    config = json.loads((bundle / "config.json").read_text())
    assert config == {
        "thing": rows[0]["thing"], "endpoint": "iot.example.test", "port": 8883,
        "led_count": 150, "pin": 19, "max_ma": 850, "serial": rows[0]["serial"],
        "template": "smartlight-fleet", "claim_code": rows[0]["claim_code"],
        "ap_password": rows[0]["ap_password"],
    }
    assert len(config["ap_password"]) >= 8  # WPA2's minimum
    text = pdf_text(out / "labels.pdf")
    for row in rows:
        assert row["claim_code"] in text and row["serial"] in text


def test_a_manual_batch_makes_each_thing_and_certificate_now(iot, aws, settings, tmp_path):
    out, _ = make(tmp_path, count=2, method="manual")
    rows = rows_of(out)
    for row in rows:
        thing = iot.describe_thing(thingName=row["thing"])
        assert thing["thingTypeName"] == "smartlight"
        assert thing["attributes"] == {"serial": row["serial"]}
        (arn,) = iot.list_thing_principals(thingName=row["thing"])["principals"]
        assert policies_of(iot, arn) == ["smartlight-device"]
        stored = Serial.objects.get(serial=row["serial"])
        assert arn.endswith("/" + stored.certificate_id)
        assert (out / row["serial"] / "certs/private.pem.key").exists()
        assert not (out / row["serial"] / "certs/claim.pem.crt").exists()
    assert set(certificates(iot).values()) == {"ACTIVE"}
    assert {i["status"] for i in serial_items(aws, settings).values()} == {"provisioned"}


def test_codes_expire_after_the_days_given(iot, tmp_path):
    from django.utils import timezone

    make(tmp_path, count=1, expires_days=30)
    left = Serial.objects.get().code_expires - timezone.now()
    assert 29 < left.total_seconds() / 86400 <= 30


def test_a_big_batch_shows_its_progress_and_a_sheet_per_24_labels(iot, tmp_path):
    out, stderr = make(tmp_path, count=30)
    lines = stderr.strip().splitlines()
    assert lines[0] == "made 1/30 lights (3 %)"
    assert lines[-1] == "made 30/30 lights (100 %)"
    assert len(lines) == 30  # every light: 30 // 20 is a step of 1
    assert (out / "labels.pdf").read_bytes().count(b"/Type /Page\n") == 2


@pytest.mark.parametrize("args, message", [
    (["--count", "0"], "--count"),
    (["--count", "10001"], "--count"),
    (["--count", "2", "--expires-days", "0"], "--expires-days"),
    (["--count", "2", "--portal", "lights.example.com"], "--portal"),
])
def test_it_refuses_bad_input_and_makes_nothing(iot, aws, settings, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("provision_batch", *args, "--out", str(tmp_path / "out"),
                     *([] if "--portal" in args else ["--portal", "https://x.example"]))
    assert not (tmp_path / "out").exists()
    assert certificates(iot) == {}
    assert serial_items(aws, settings) == {}
    assert not Serial.objects.exists()


def test_a_failure_halfway_leaves_no_serial_certificate_thing_or_folder(iot, aws, settings,
                                                                        tmp_path, monkeypatch):
    from devices import labels

    def printer_jam(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(labels, "write_sheet", printer_jam)
    for method in ("fleet", "manual"):
        with pytest.raises(CommandError, match="Input/output error"):
            make(tmp_path, count=3, method=method)
        assert not (tmp_path / "batch").exists()
        assert certificates(iot) == {}
        assert not iot.list_things()["things"]
        assert serial_items(aws, settings) == {}
        assert not Serial.objects.exists()


def test_the_drawn_qr_code_has_exactly_the_dark_modules_of_the_url():
    """The squares on the page, read back from the PDF, are the QR code's matrix."""
    from fpdf import FPDF

    from devices import labels

    url = "https://lights.example.com/claim/ABCDE-FGHJK"
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    pdf.set_compression(False)
    labels.draw_qr(pdf, url, 10, 10, 30)
    content = bytes(pdf.output()).decode("latin-1")
    matrix = labels.qr_code(url).matrix
    modules = len(matrix) + 4  # a 2-module quiet zone on each side
    unit = 30 * 72 / 25.4 / modules  # points
    page_h = 297 * 72 / 25.4
    dark = set()
    for x, y, w, h in re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) (-[\d.]+) re f", content):
        col = round((float(x) - 10 * 72 / 25.4) / unit) - 2
        row = round((page_h - float(y) - 10 * 72 / 25.4) / unit) - 2
        dark.update((row, col + i) for i in range(round(float(w) / unit)))
    expected = {(r, c) for r, line in enumerate(matrix) for c, v in enumerate(line) if v}
    assert dark == expected


def test_every_line_of_a_label_fits_beside_its_qr_code():
    from fpdf import FPDF

    from devices import labels

    label = labels.Label(serial="0123456789ab", thing="sl-0123456789ab", method="fleet",
                         claim_code="WWWWW-MMMMM", claim_url="https://x/claim/WWWWW-MMMMM",
                         ap_password="wwwwwwwwwwww", code_expires="2028-01-01T00:00:00+00:00")
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    lines = labels.label_lines(label)
    assert len(lines) == 6
    for font, style, size, text in lines:
        pdf.set_font(font, style, size)
        assert pdf.get_string_width(text) <= labels.TEXT_W, text
