# Heap in use after importing every device module (MicroPython only). The steps run as
# separate calls so gc.collect() between them sees only live objects (see run_mp.mjs).
import gc

import hostcheck

gc.collect()
START = gc.mem_alloc()
# --- step ---
import asyncio  # noqa: E402, F401  (frozen into the ESP32 image, shared by every program)

# --- step ---
gc.collect()
BEFORE = gc.mem_alloc()
# --- step ---
import app  # noqa: E402, F401  (app imports every module main.py needs but board/wifimgr)
import board  # noqa: E402, F401
import wifimgr  # noqa: E402, F401

# --- step ---
gc.collect()
AFTER = gc.mem_alloc()
hostcheck.results["heap after import"] = {"ok": True, "value": AFTER - BEFORE}
hostcheck.results["asyncio import"] = {"ok": True, "value": BEFORE - START}
hostcheck.done()
