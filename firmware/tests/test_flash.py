"""python -m firmware.flash with only the serial port faked: esptool and ampy run unchanged
over a fake ESP32 bootloader and a fake MicroPython raw REPL (tests/fakeserial.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import serial
from esptool import loader
from esptool.bin_image import ELFSection, ESP32FirmwareImage, ESP32S3FirmwareImage

from firmware import flash
from firmware.host import harness

from .fakeserial import FakeESP32Port, FakeMicroPythonPort

PORT = "socket://esp32:4000"  # an esptool URL port: no DTR/RTS reset lines to drive
DEVICE_MODULES = sorted(p.stem for p in harness.DEVICE.glob("*.py") if p.name != "main.py")


def image(tmp_path: Path, cls=ESP32FirmwareImage, name="ESP32_GENERIC.bin") -> Path:
    img = cls()
    img.segments = [ELFSection(b".dram0.data", 0x3FFB0000, bytes(range(256)) * 4, 0)]
    img.entrypoint = 0x40080000
    path = tmp_path / name
    img.save(str(path))
    return path


def bundle(tmp_path: Path, claim: bool = False) -> Path:
    folder = tmp_path / "bundle"
    certs = folder / "certs"
    certs.mkdir(parents=True)
    (certs / "AmazonRootCA1.pem").write_text("-----BEGIN CERTIFICATE-----\nca\n")
    config = {"thing": "sl-0123456789ab", "endpoint": "x-ats.iot.eu-west-1.amazonaws.com",
              "port": 8883, "led_count": 30}  # fmt: skip
    if claim:
        (certs / "claim.pem.crt").write_text("-----BEGIN CERTIFICATE-----\nclaim\n")
        (certs / "claim.private.pem.key").write_text("-----BEGIN RSA PRIVATE KEY-----\nk\n")
        config |= {"serial": "0123456789ab", "template": "smartlight-fleet"}
    else:
        (certs / "certificate.pem.crt").write_text("-----BEGIN CERTIFICATE-----\nown\n")
        (certs / "private.pem.key").write_text("-----BEGIN RSA PRIVATE KEY-----\nkey\n")
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def board(tmp_path, monkeypatch):
    """The two serial ports a flash run opens: esptool's, then ampy's."""
    fs = tmp_path / "board-fs"
    fs.mkdir()
    ports = {"esp": FakeESP32Port(PORT), "repl": FakeMicroPythonPort(PORT, fs)}
    opened = []

    def serial_for_url(url, *args, **kwargs):
        opened.append(("esptool", url))
        return ports["esp"]

    def serial_class(device, *args, **kwargs):
        opened.append(("ampy", device))
        return ports["repl"]

    monkeypatch.setattr(loader.serial, "serial_for_url", serial_for_url)
    monkeypatch.setattr(serial, "Serial", serial_class)
    ports["fs"] = fs
    ports["opened"] = opened
    return ports


def test_it_writes_the_image_uploads_everything_main_last_and_verifies(board, tmp_path, capsys):
    img = image(tmp_path)
    runs = flash.esptool_runs(PORT, img, erase=True)
    assert runs == [
        ["--chip", "esp32", "--port", PORT, "erase-flash"],
        ["--chip", "esp32", "--port", PORT, "--baud", "460800", "write-flash", "-z", "0x1000",
         str(img)],
    ]  # fmt: skip

    uploads = flash.flash(PORT, bundle(tmp_path), img, erase=True, settle_s=0)

    esp = board["esp"]
    assert esp.erased is True
    assert esp.commands.count("ERASE_FLASH") == 1 and "FLASH_DEFL_BEGIN" in esp.commands
    assert esp.baudrate == 460800  # write-flash ran at the seed's baud rate
    (offset, size), = esp.written
    assert offset == 0x1000
    # the image is in the flash at 0x1000 (esptool may rewrite the header's flash params)
    written = bytes(esp.flash[offset : offset + size])
    assert written[16:] == img.read_bytes()[16:]
    assert [who for who, _ in board["opened"]] == ["esptool", "esptool", "ampy"]

    paths = [u.board_path for u in uploads]
    assert paths[:4] == [
        "/certs/certificate.pem.crt",
        "/certs/private.pem.key",
        "/certs/AmazonRootCA1.pem",
        "/config.json",
    ]
    assert paths[-1] == "/main.py"
    assert sorted(p for p in paths if p.endswith(".mpy")) == [f"/{m}.mpy" for m in DEVICE_MODULES]
    fs = board["fs"]
    for u in uploads:
        on_board = (fs / u.board_path.lstrip("/")).read_bytes()
        assert on_board == u.data
    assert (fs / "main.py").read_bytes() == (harness.DEVICE / "main.py").read_bytes()
    assert (fs / "app.mpy").read_bytes()[:1] == b"M"  # mpy-cross output, not source
    assert not list(fs.rglob("*.tmp"))
    # main.py was the last file written on the board
    writes = [c for c in board["repl"].executed if c.startswith("import os, binascii\nf = open(")]
    assert writes[-1] == "import os, binascii\nf = open('/main.py.tmp', 'wb')"
    out = capsys.readouterr().out
    # what esptool.main was given, in order, as the tool logs it
    assert [line for line in out.splitlines() if line.startswith("esptool --chip")] == [
        "esptool " + " ".join(argv) for argv in runs
    ]
    assert f"[{len(uploads)}/{len(uploads)}] /main.py" in out
    assert f"verified {len(uploads)} files (size and SHA-256)" in out


def test_a_claim_bundle_uploads_the_claim_certificate(board, tmp_path):
    uploads = flash.flash(PORT, bundle(tmp_path, claim=True))
    paths = [u.board_path for u in uploads]
    assert "/certs/claim.pem.crt" in paths and "/certs/claim.private.pem.key" in paths
    assert "/certs/certificate.pem.crt" not in paths
    assert board["esp"].commands == []  # no --image: esptool never ran


def test_a_file_that_differs_on_the_board_fails_verification(board, tmp_path, capsys):
    board["repl"].corrupt = "/config.json"
    code = flash.main(["--port", PORT, "--bundle", str(bundle(tmp_path))])
    assert code == 1
    err = capsys.readouterr().err
    assert "flash: verification failed:\n  /config.json: SHA-256 differs from what was sent" in err


def test_an_image_for_another_chip_is_refused(board, tmp_path, capsys):
    img = image(tmp_path, ESP32S3FirmwareImage, "ESP32_GENERIC_S3.bin")
    code = flash.main(["--port", PORT, "--bundle", str(bundle(tmp_path)), "--image", str(img)])
    assert code == 1
    err = capsys.readouterr().err
    assert "ESP32_GENERIC_S3.bin is not an image for this board's chip" in err
    assert "is not an ESP32 image" in err
    assert board["esp"].written == []


def test_a_board_in_no_bootloader_says_it_does_not_answer(board, tmp_path, capsys):
    board["esp"].silent = True
    code = flash.main(
        ["--port", PORT, "--bundle", str(bundle(tmp_path)), "--image", str(image(tmp_path))]
    )
    assert code == 1
    assert "the board does not answer on the serial port" in capsys.readouterr().err


def test_a_board_without_micropython_says_it_does_not_answer(board, tmp_path, capsys):
    board["repl"].silent = True
    code = flash.main(["--port", PORT, "--bundle", str(bundle(tmp_path))])
    assert code == 1
    assert f"MicroPython does not answer on {PORT}" in capsys.readouterr().err


def test_a_missing_port_is_named(tmp_path, capsys):
    code = flash.main(["--port", "/dev/ttyUSB97", "--bundle", str(bundle(tmp_path))])
    assert code == 1
    assert "no serial port /dev/ttyUSB97: is the board plugged in?" in capsys.readouterr().err


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda b: (b / "config.json").unlink(), "has no config.json"),
        (lambda b: (b / "config.json").write_text("{"), "config.json is not valid JSON"),
        (lambda b: (b / "certs" / "AmazonRootCA1.pem").unlink(), "has no certs/AmazonRootCA1.pem"),
        (lambda b: (b / "certs" / "private.pem.key").unlink(), "has neither certs/certificate"),
    ],
)
def test_a_bundle_that_cannot_boot_is_refused_before_the_board_is_touched(
    board, tmp_path, capsys, breakage, message
):
    b = bundle(tmp_path)
    breakage(b)
    assert flash.main(["--port", PORT, "--bundle", str(b)]) == 1
    assert message in capsys.readouterr().err
    assert board["opened"] == []


def test_erase_without_an_image_is_refused(board, tmp_path, capsys):
    assert flash.main(["--port", PORT, "--bundle", str(bundle(tmp_path)), "--erase"]) == 1
    assert "--erase needs --image" in capsys.readouterr().err
