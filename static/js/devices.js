// The lights dashboard: sends each control change as it happens and redraws every light from
// the live feed once a second, so changes made elsewhere show without a reload within 2 s
// (docs/decisions.md, "The dashboard's live feed").
(function () {
  "use strict";
  const root = document.getElementById("lights");
  if (!root) return;
  const liveUrl = root.dataset.liveUrl;
  const pollMs = parseInt(root.dataset.pollMs || "1000", 10);
  // A control the user just moved keeps its value for this long, so a poll answered before the
  // light reported cannot snap the slider back under the user's finger.
  const HOLD_MS = 2500;
  const touched = new Map();

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; }
    catch (e) { return ""; }
  }

  function showError(card, text) {
    const box = card && card.querySelector("[data-role=error]");
    if (!box) { if (text) window.alert(text); return; }
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function post(url, body, card) {
    showError(card, "");
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      });
    } catch (e) {
      showError(card, "The network is unreachable; nothing was changed.");
      return;
    }
    if (response.status === 403) { showError(card, "You may not change this light."); return; }
    let data = {};
    try { data = await response.json(); } catch (e) { /* an HTML error page */ }
    if (!response.ok) {
      const errors = (data.errors || []).map((e) => e.field + ": " + e.reason);
      showError(card, errors.join("; ") || "That did not work (" + response.status + ").");
      return;
    }
    if (data.device) draw(data.device, true);
    (data.devices || []).forEach((d) => draw(d, true));
    const failed = Object.entries(data.failed || {});
    if (failed.length) showError(card, failed.map(([n, r]) => n + ": " + r).join("; "));
  }

  function since(iso) {
    if (!iso) return "never seen";
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 5) return "seen just now";
    if (seconds < 60) return "seen " + seconds + " s ago";
    if (seconds < 3600) return "seen " + Math.round(seconds / 60) + " min ago";
    if (seconds < 86400) return "seen " + Math.round(seconds / 3600) + " h ago";
    return "seen " + Math.round(seconds / 86400) + " days ago";
  }

  function shownText(s) {
    if (!s.on) return "shows off";
    return "shows on · " + Math.round((s.brightness || 0) * 100 / 255) + " % · " + s.color + " · " + s.effect;
  }

  function held(card, name) {
    const control = card.querySelector("[data-control=" + name + "]");
    if (!control) return null;
    const at = touched.get(card.dataset.code + ":" + name) || 0;
    if (document.activeElement === control && control.type === "range") return null;
    if (Date.now() - at < HOLD_MS) return null;
    return control;
  }

  function draw(d, fromOwnChange) {
    const card = document.getElementById("light-" + d.code);
    if (!card) return;
    card.classList.toggle("is-offline", !d.connected);
    card.classList.toggle("is-pending", d.pending.length > 0);
    const status = card.querySelector("[data-role=status]");
    status.textContent = d.connected ? "Online" : "Offline";
    status.className = "status " + (d.connected ? "online" : "offline");
    const pending = card.querySelector("[data-role=pending]");
    pending.hidden = d.pending.length === 0;
    pending.title = d.pending.length ? "Waiting for the light to show: " + d.pending.join(", ") : "";
    const seen = card.querySelector("[data-role=last-seen]");
    seen.dataset.ts = d.last_seen || "";
    seen.textContent = since(d.last_seen);
    card.querySelector("[data-role=shown]").textContent = shownText(d.shown);
    card.querySelector("[data-role=strip]").style.background = d.strip;
    if (fromOwnChange) return;
    const effect = held(card, "effect");
    if (effect && effect.options.length !== d.effects.length) {
      effect.replaceChildren(...d.effects.map((name) => new Option(name, name)));
    }
    const values = { on: d.look.on, brightness: d.look.brightness, color: d.look.color,
                     effect: d.look.effect, speed: d.look.speed };
    for (const [name, value] of Object.entries(values)) {
      const control = held(card, name);
      if (!control) continue;
      if (control.type === "checkbox") control.checked = !!value;
      else if (String(control.value) !== String(value)) control.value = value;
    }
    const out = card.querySelector("[data-role=brightness-out]");
    const range = card.querySelector("[data-control=brightness]");
    if (out && range) out.textContent = range.value + " %";
  }

  root.addEventListener("input", (event) => {
    const input = event.target;
    if (input.dataset.control === "brightness") {
      const out = input.closest(".light").querySelector("[data-role=brightness-out]");
      if (out) out.textContent = input.value + " %";
    }
  });

  root.addEventListener("change", (event) => {
    const input = event.target;
    const card = input.closest(".light");
    if (card && input.dataset.control) {
      touched.set(card.dataset.code + ":" + input.dataset.control, Date.now());
      const body = new FormData();
      body.append(input.name, input.type === "checkbox" ? String(input.checked) : input.value);
      post(input.form.action, body, card);
      return;
    }
    const roomForm = input.closest("form.js-post");
    if (roomForm && input.dataset.send === "change") {
      const body = new FormData();
      body.append(input.name, input.value);
      post(roomForm.action, body, null);
    }
  });

  root.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.classList.contains("js-post") && !form.closest(".light")) return;
    event.preventDefault();
    const body = new FormData();
    if (event.submitter && event.submitter.name) body.append(event.submitter.name, event.submitter.value);
    post(form.action, body, form.closest(".light"));
  });

  async function poll() {
    try {
      const response = await fetch(liveUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (response.ok) {
        const data = await response.json();
        data.devices.forEach((d) => draw(d, false));
      }
    } catch (e) { /* offline for a moment: try again on the next tick */ }
    window.setTimeout(poll, document.hidden ? pollMs * 5 : pollMs);
  }
  window.setTimeout(poll, pollMs);
  root.dataset.live = "on";  // controls are wired: tests (and curious people) can tell
})();
