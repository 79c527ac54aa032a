"""Fakes of the serial port, the only thing the flashing tool's tests replace.

FakeESP32Port speaks the ESP32 serial bootloader protocol (SLIP frames, the ROM's and the
flasher stub's commands as esptool's documentation describes them) and keeps a flash image;
FakeMicroPythonPort is MicroPython's raw REPL over a board filesystem kept in a folder.
esptool and ampy run unchanged above them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

ESP32_MAGIC = 0x00F01D83  # the ESP32's chip detection register value (UART_DATE_REG)
CHIP_DETECT_MAGIC_REG = 0x40001000
UART_CLKDIV_REG = 0x3FF40014


class SerialBase:
    def __init__(self, port: str) -> None:
        self.port = port
        self.name = port
        self.baudrate = 115200
        self.timeout = 3
        self.is_open = True
        self.out = b""  # bytes waiting for the host
        self.dtr = False
        self.rts = False
        self.write_timeout = None

    # pyserial's API, as esptool and ampy use it
    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def isOpen(self) -> bool:  # noqa: N802 (pyserial's name)
        return self.is_open

    def fileno(self) -> int:
        raise OSError("not a real port")

    def inWaiting(self) -> int:  # noqa: N802 (pyserial's name)
        return len(self.out)

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def read(self, n: int = 1) -> bytes:
        data, self.out = self.out[:n], self.out[n:]
        return data

    def flushInput(self) -> None:  # noqa: N802
        self.out = b""

    reset_input_buffer = flushInput

    def flushOutput(self) -> None:  # noqa: N802
        pass

    reset_output_buffer = flushOutput

    def flush(self) -> None:
        pass

    def setDTR(self, value: bool) -> None:  # noqa: N802
        self.dtr = value

    def setRTS(self, value: bool) -> None:  # noqa: N802
        self.rts = value


class FakeESP32Port(SerialBase):
    """An ESP32 in its serial bootloader: ROM first, the flasher stub once uploaded."""

    FLASH_SIZE = 4 * 1024 * 1024

    def __init__(self, port: str, magic: int = ESP32_MAGIC, silent: bool = False) -> None:
        super().__init__(port)
        self.magic = magic
        self.silent = silent  # no bootloader answers: BOOT not held, or a power-only cable
        self.flash = bytearray(b"\xff" * self.FLASH_SIZE)
        self.stub = False
        self.commands: list[str] = []
        self.erased = False
        self.written: list[tuple[int, int]] = []  # (offset, uncompressed size)
        self._frame = b""
        self._in_frame = False
        self._defl: dict = {}

    def write(self, data: bytes) -> int:
        if self.silent:
            return len(data)
        for b in data:
            if b == 0xC0:
                if self._in_frame and self._frame:
                    frame = self._frame.replace(b"\xdb\xdc", b"\xc0")
                    self._packet(frame.replace(b"\xdb\xdd", b"\xdb"))
                    self._frame = b""
                    self._in_frame = False
                else:
                    self._in_frame = True
                    self._frame = b""
            elif self._in_frame:
                self._frame += bytes([b])
        return len(data)

    def _send(self, payload: bytes) -> None:
        escaped = payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
        self.out += b"\xc0" + escaped + b"\xc0"

    def _reply(self, op: int, val: int = 0, data: bytes = b"", error: int = 0) -> None:
        status = bytes([1 if error else 0, error]) + (b"" if self.stub else b"\x00\x00")
        body = data + status
        self._send(struct.pack("<BBHI", 1, op, len(body), val) + body)

    def _packet(self, p: bytes) -> None:
        if len(p) < 8 or p[0] != 0:
            return
        _, op, size, _chk = struct.unpack("<BBHI", p[:8])
        data = p[8 : 8 + size]
        names = {
            0x08: "SYNC", 0x0A: "READ_REG", 0x09: "WRITE_REG", 0x05: "MEM_BEGIN",
            0x07: "MEM_DATA", 0x06: "MEM_END", 0x0F: "CHANGE_BAUDRATE", 0x0B: "SPI_SET_PARAMS",
            0x0D: "SPI_ATTACH", 0xD0: "ERASE_FLASH", 0x10: "FLASH_DEFL_BEGIN",
            0x11: "FLASH_DEFL_DATA", 0x12: "FLASH_DEFL_END", 0x13: "SPI_FLASH_MD5",
            0x14: "GET_SECURITY_INFO",
        }  # fmt: skip
        name = names.get(op, hex(op))
        self.commands.append(name)
        if op == 0x08:
            for _ in range(8):  # the ROM answers a SYNC eight times, with a non-zero value
                self._reply(op, 0x20120707)
        elif op == 0x0A:
            (addr,) = struct.unpack("<I", data[:4])
            self._reply(op, self._read_reg(addr))
        elif op == 0x05 or op == 0x07 or op == 0x09 or op == 0x0B or op == 0x0D:
            self._reply(op)
        elif op == 0x06:  # MEM_END: the stub starts and greets
            self._reply(op)
            self.stub = True
            self._send(b"OHAI")
        elif op == 0x0F:
            (baud,) = struct.unpack("<I", data[:4])
            self._reply(op)
            self.baudrate = baud
        elif op == 0xD0:
            if not self.stub:
                self._reply(op, error=0x05)
                return
            self.flash[:] = b"\xff" * self.FLASH_SIZE
            self.erased = True
            self._reply(op)
        elif op == 0x10:
            size, _blocks, _block_size, offset = struct.unpack("<IIII", data[:16])
            self._defl = {"offset": offset, "size": size, "z": zlib.decompressobj(), "buf": b""}
            self._reply(op)
        elif op == 0x11:
            n = struct.unpack("<I", data[:4])[0]
            self._defl["buf"] += self._defl["z"].decompress(data[16 : 16 + n])
            self._reply(op)
        elif op == 0x12:
            buf = self._defl["buf"] + self._defl["z"].flush()
            off = self._defl["offset"]
            self.flash[off : off + len(buf)] = buf
            self.written.append((off, len(buf)))
            self._reply(op)
        elif op == 0x13:
            offset, size = struct.unpack("<II", data[:8])
            digest = hashlib.md5(self.flash[offset : offset + size]).digest()  # noqa: S324
            self._reply(op, data=digest if self.stub else digest.hex().encode())
        else:  # not in the ESP32 ROM (GET_SECURITY_INFO and others)
            self._reply(op, error=0x05)

    def _read_reg(self, addr: int) -> int:
        if addr == CHIP_DETECT_MAGIC_REG:
            return self.magic
        if addr == UART_CLKDIV_REG:
            return 40_000_000 // 115200  # 40 MHz crystal at the ROM's baud rate
        return 0


class FakeMicroPythonPort(SerialBase):
    """MicroPython's raw REPL (Ctrl-A, Ctrl-D, Ctrl-B, "OK", output, EOF markers) running the
    code it receives on CPython, with the board's filesystem in a folder."""

    def __init__(
        self, port: str, root: Path, corrupt: str | None = None, silent: bool = False
    ) -> None:
        super().__init__(port)
        self.silent = silent
        self.root = root
        self.raw = False
        self.code = b""
        self.corrupt = corrupt  # a board path whose written bytes come back altered
        self.globals: dict = {}
        self.executed: list[str] = []

    def board_path(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def write(self, data: bytes) -> int:
        if self.silent:
            return len(data)
        for b in data:
            c = bytes([b])
            if c == b"\x01":
                self.raw = True
                self.code = b""
                self.out += b"raw REPL; CTRL-B to exit\r\n>"
            elif c == b"\x02":
                self.raw = False
                self.out += b"\r\nMicroPython v1.24.1; ESP32 module with ESP32\r\n>>> "
            elif c == b"\x03":
                self.code = b""
                if not self.raw:
                    self.out += b"\r\n>>> "
            elif c == b"\x04" and self.raw:
                if self.code.strip():
                    self._run(self.code.decode())
                else:  # soft reboot in the raw REPL
                    self.globals = {}
                    self.out += b"soft reboot\r\nraw REPL; CTRL-B to exit\r\n>"
                self.code = b""
            elif self.raw and c != b"\r" or (self.raw and self.code):
                self.code += c
        return len(data)

    def _run(self, code: str) -> None:
        self.executed.append(code)
        stdout = io.StringIO()
        err = ""
        g = self.globals
        g["__builtins__"] = self._builtins()
        with contextlib.redirect_stdout(stdout):
            try:
                exec(code, g)  # noqa: S102 (the fake board runs what the tool sends it)
            except Exception as e:  # noqa: BLE001
                err = f"Traceback (most recent call last):\r\n{type(e).__name__}: {e}\r\n"
        self.out += b"OK" + stdout.getvalue().encode() + b"\x04" + err.encode() + b"\x04>"

    def _builtins(self) -> dict:
        """CPython's builtins with open() and `import os` bound to the board's folder."""
        import builtins

        port = self

        def board_open(path, mode="r", *args, **kwargs):
            f = open(port.board_path(path), mode, *args, **kwargs)  # noqa: SIM115
            if "w" in mode and port.corrupt == path.removesuffix(".tmp"):
                return _Corrupting(f)
            return f

        class BoardOS:
            @staticmethod
            def mkdir(path):
                try:
                    os.mkdir(port.board_path(path))
                except FileExistsError:
                    raise OSError(17, "EEXIST") from None

            @staticmethod
            def remove(path):
                try:
                    os.remove(port.board_path(path))
                except FileNotFoundError:
                    raise OSError(2, "ENOENT") from None

            @staticmethod
            def rename(a, b):
                os.rename(port.board_path(a), port.board_path(b))

            @staticmethod
            def listdir(path="/"):
                return os.listdir(port.board_path(path))

        def board_import(name, *args, **kwargs):
            if name in ("os", "uos"):
                return BoardOS
            return __import__(name, *args, **kwargs)

        return dict(vars(builtins), open=board_open, __import__=board_import)


class _Corrupting:
    def __init__(self, f):
        self.f = f

    def write(self, data):
        return self.f.write(bytes(b ^ 1 for b in data))

    def close(self):
        self.f.close()

    def __getattr__(self, name):
        return getattr(self.f, name)
