# Check collector shared by the MicroPython and CPython runs of the same check scripts: each
# check runs in isolation, and the results go back to pytest as one JSON line on stdout.
import json

MARK = "@@RESULT "
FLASH = "/flash"  # the device's flash root for this run (CPython runs point it elsewhere)
results = {}


def check(name):
    def wrap(fn):
        try:
            value = fn()
            results[name] = {"ok": True, "value": value}
        except Exception as e:
            results[name] = {"ok": False, "error": type(e).__name__ + ": " + str(e)}
        return fn

    return wrap


def done():
    print(MARK + json.dumps(results))


pending = []  # (name, async fn) registered by acheck, run in order by run_async()


def acheck(name):
    """Like check, for a coroutine function; run by `await hostcheck.run_async()`."""

    def wrap(fn):
        pending.append((name, fn))
        return fn

    return wrap


async def run_async():
    while pending:
        name, fn = pending.pop(0)
        try:
            value = await fn()
            results[name] = {"ok": True, "value": value}
        except Exception as e:
            results[name] = {"ok": False, "error": type(e).__name__ + ": " + repr(e)}
