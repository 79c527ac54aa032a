// Runs one Python script under real MicroPython (the WebAssembly port) in Node.
//
// stdin: {"mounts": [["/device", "<host dir>"], ...], "path": ["/device", ...],
//         "script": "<python source>" | ["<step 1>", ...], "heapsize": <bytes>, "async": bool}
// stdout: one JSON object {"ok", "stdout": [lines], "error": {"type", "message"} | null}.
// Host directories are copied (*.py, *.mpy, *.json, recursively) into the in-memory filesystem first.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const mjs = path.join(
  root, "node_modules", "@micropython", "micropython-webassembly-pyscript", "micropython.mjs",
);
const { loadMicroPython } = await import(pathToFileURL(mjs).href);

const job = JSON.parse(fs.readFileSync(0, "utf8"));
const lines = [];
const mp = await loadMicroPython({
  heapsize: job.heapsize || 8 * 1024 * 1024,
  stdout: (line) => lines.push(line),
  stderr: (line) => lines.push(line),
});

function copyTree(src, dst) {
  mp.FS.mkdirTree(dst);
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    const to = dst + "/" + entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__" && entry.name !== "node_modules") copyTree(from, to);
    } else if (/\.(py|mpy|json)$/.test(entry.name)) {
      mp.FS.writeFile(to, fs.readFileSync(from));
    }
  }
}

for (const [dst, src] of job.mounts || []) copyTree(src, dst);
mp.FS.mkdirTree("/flash");

const preamble = "import sys\n" +
  (job.path || []).slice().reverse().map((p) => `sys.path.insert(0, ${JSON.stringify(p)})\n`).join("");
let error = null;
try {
  mp.runPython(preamble);
  // Steps share __main__'s globals. Between steps control returns to JS, which is the only
  // moment the WebAssembly port's gc.collect() can free everything (inside a running script
  // stale values on the wasm stack keep garbage alive), so heap figures are taken that way.
  // "async": steps may `await` at top level (asyncio checks); they run on JS's event loop.
  for (const step of Array.isArray(job.script) ? job.script : [job.script]) {
    if (job.async) await mp.runPythonAsync(step);
    else mp.runPython(step);
  }
} catch (e) {
  error = { type: e.type || e.name, message: String(e.message) };
}
process.stdout.write(JSON.stringify({ ok: error === null, stdout: lines, error }) + "\n");
