// The home screen: tiles that toggle with one tap, one detail sheet for the light being adjusted,
// and every tile redrawn from the live feed once a second, so changes made elsewhere show without
// a reload within 2 s (docs/decisions.md, "The dashboard's live feed"). The feed's entries are
// devices.views.live_state; the words on the page (shown_text) come from the server too.
(function () {
  "use strict";
  const root = document.getElementById("lights");
  if (!root) return;
  const liveUrl = root.dataset.liveUrl;
  const pollMs = parseInt(root.dataset.pollMs || "1000", 10);
  const sheet = document.getElementById("sheet");
  const sheetForm = sheet && sheet.querySelector("[data-role=sheet-form]");
  // A control the person just changed keeps its value for this long, so a poll answered before
  // the light reported cannot snap it back under their finger.
  const HOLD_MS = 2500;
  const LONG_PRESS_MS = 500;
  const RECENT_KEY = "smartlight.recent-colours";
  const touched = new Map();
  const lights = new Map();  // code -> the light's last live state
  let openCode = null;

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; }
    catch (e) { return ""; }
  }

  // A part of a tile's status line the server leaves out while it would be hidden.
  function part(tile, role, className) {
    let span = tile.querySelector("[data-role=" + role + "]");
    if (!span) {
      span = document.createElement("span");
      span.dataset.role = role;
      if (className) span.className = className;
      span.hidden = true;
      tile.querySelector(".tile-meta").append(" ", span);
    }
    return span;
  }

  function codeOf(tile) { return tile.id.slice("light-".length); }

  // A tile's error line is made when there is something to say.
  function errorBox(tile) {
    let box = tile.querySelector("[data-role=error]");
    if (!box) {
      box = document.createElement("p");
      box.className = "error";
      box.dataset.role = "error";
      box.setAttribute("role", "alert");
      box.hidden = true;
      tile.append(box);
    }
    return box;
  }

  function showError(box, text) {
    if (!box) { if (text) window.alert(text); return; }
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function post(url, body, errorBox) {
    showError(errorBox, "");
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      });
    } catch (e) {
      showError(errorBox, "The network is unreachable; nothing was changed.");
      return;
    }
    if (response.status === 401) { window.smartlight.sessionLost(401); return; }
    let data = null;
    try { data = await response.json(); } catch (e) { /* an HTML error page */ }
    if (response.status === 403) {
      // Ours answers JSON; Django's form-token check answers HTML: the session changed.
      if (data) showError(errorBox, "You may not change this light.");
      else window.smartlight.sessionLost(403);
      return;
    }
    data = data || {};
    if (!response.ok) {
      const errors = (data.errors || []).map((e) => e.field + ": " + e.reason);
      showError(errorBox, errors.join("; ") || "That did not work (" + response.status + ").");
      return;
    }
    if (data.device) draw(data.device, true);
    (data.devices || []).forEach((d) => draw(d, true));
    followRooms();
    const failed = Object.entries(data.failed || {});
    if (failed.length) showError(errorBox, failed.map(([n, r]) => n + ": " + r).join("; "));
  }

  function since(iso) {
    if (!iso) return "never seen";
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 5) return "last seen just now";
    if (seconds < 60) return "last seen " + seconds + " s ago";
    if (seconds < 3600) return "last seen " + Math.round(seconds / 60) + " min ago";
    if (seconds < 86400) return "last seen " + Math.round(seconds / 3600) + " h ago";
    return "last seen " + Math.round(seconds / 86400) + " days ago";
  }

  // --- following the light: never while dragged or just changed --------------------------
  let dragging = null;
  document.addEventListener("pointerdown", (event) => {
    if (event.target.type === "range" || event.target.dataset.role === "wheel") dragging = event.target;
  });
  for (const name of ["pointerup", "pointercancel"]) {
    window.addEventListener(name, () => { dragging = null; });
  }
  function followable(control, key) {
    if (!control || control === dragging) return null;
    if (Date.now() - (touched.get(key) || 0) < HOLD_MS) return null;
    return control;
  }
  function touch(key) { touched.set(key, Date.now()); }

  // --- tiles ------------------------------------------------------------------------------
  function rgbOf(hex) {
    return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }

  function tint(tile, d) {
    // The tile glows in the light's real colour, as bright as the light is; off is untinted.
    const first = d.strip.match(/#[0-9a-f]{6}/i);
    const level = d.shown.on ? Math.max(0.15, (d.shown.brightness || 0) / 255) : 0;
    if (!first || level === 0) {
      tile.style.removeProperty("--tint");
      tile.style.removeProperty("--glow");
      return;
    }
    const [r, g, b] = rgbOf(first[0]);
    tile.style.setProperty("--tint", "rgba(" + r + ", " + g + ", " + b + ", " + (0.06 + 0.2 * level).toFixed(2) + ")");
    tile.style.setProperty("--glow", "rgba(" + r + ", " + g + ", " + b + ", " + (0.7 * level).toFixed(2) + ")");
  }

  function draw(d, fromOwnChange) {
    lights.set(d.code, d);
    const tile = document.getElementById("light-" + d.code);
    if (!tile) return;
    tile.classList.toggle("is-offline", !d.connected);
    tile.classList.toggle("is-pending", d.pending.length > 0);
    tile.classList.toggle("is-on", !!d.shown.on);
    tile.querySelector("[data-role=status]").textContent = d.connected ? "Online" : "Offline";
    const pending = part(tile, "pending", "pending-badge");
    pending.hidden = d.pending.length === 0;
    pending.textContent = d.connected ? "pending" : "applies when the light is back";
    // Last seen matters only while the light is away: an online light is seen right now.
    const seen = part(tile, "last-seen", "");
    seen.textContent = d.connected ? "" : since(d.last_seen);
    seen.hidden = d.connected;
    tile.querySelector("[data-role=shown]").textContent = d.shown_text;
    tile.querySelector("[data-role=strip]").style.background = d.strip;
    tint(tile, d);
    const toggle = followable(tile.querySelector("[data-control=on]"), d.code + ":on");
    if (toggle) {
      toggle.setAttribute("aria-pressed", d.look.on ? "true" : "false");
      toggle.value = d.look.on ? "false" : "true";
    }
    if (openCode === d.code) fillSheet(d, fromOwnChange);
  }

  // A room's slider shows the mean brightness of its lights; its toggle turns them all off
  // while any is on.
  function followRooms() {
    for (const section of root.querySelectorAll("section.room[id]")) {
      const states = [...section.querySelectorAll(".tile")]
        .map((tile) => lights.get(codeOf(tile))).filter(Boolean);
      if (!states.length) continue;
      const slider = followable(section.querySelector(".room-brightness"), "room:" + section.id);
      if (slider) {
        const mean = Math.round(states.reduce((a, d) => a + d.look.brightness, 0) / states.length);
        if (String(slider.value) !== String(mean)) slider.value = mean;
      }
      const toggle = followable(section.querySelector("[data-room-toggle]"), "room-on:" + section.id);
      if (toggle) {
        const anyOn = states.some((d) => d.look.on);
        toggle.value = anyOn ? "false" : "true";
        toggle.setAttribute("aria-pressed", anyOn ? "true" : "false");
        toggle.firstChild.textContent = anyOn ? "All off" : "All on";
      }
    }
  }

  root.addEventListener("submit", (event) => {
    const form = event.target;
    const submitter = event.submitter;
    const tile = submitter && submitter.closest(".tile");
    const roomToggle = submitter && submitter.hasAttribute("data-room-toggle");
    if (!tile && !roomToggle) return;
    event.preventDefault();
    const body = new FormData();
    if (submitter && submitter.name) body.append(submitter.name, submitter.value);
    if (tile && submitter && submitter.dataset.control === "on") {
      // Show the tap at once; the light's report confirms it.
      touch(codeOf(tile) + ":on");
      const on = submitter.value === "true";
      submitter.setAttribute("aria-pressed", on ? "true" : "false");
      submitter.value = on ? "false" : "true";
    }
    if (roomToggle) {
      touch("room-on:" + submitter.closest("section.room").id);
      const on = submitter.value === "true";
      submitter.value = on ? "false" : "true";
      submitter.setAttribute("aria-pressed", on ? "true" : "false");
      submitter.firstChild.textContent = on ? "All off" : "All on";
    }
    post(submitter.formAction, body, tile ? errorBox(tile) : null);
  });

  root.addEventListener("change", (event) => {
    const input = event.target;
    if (input.classList.contains("room-brightness")) {
      touch("room:" + input.closest("section.room").id);
      const body = new FormData();
      body.append(input.name, input.value);
      post(input.dataset.url, body, null);
    }
  });

  // A long press on a tile opens its sheet (a tap toggles); "Adjust" opens it too.
  let pressTimer = null;
  let longPressed = false;
  root.addEventListener("pointerdown", (event) => {
    const tile = event.target.closest(".tile");
    if (!tile || event.button > 0) return;
    longPressed = false;
    pressTimer = window.setTimeout(() => { longPressed = true; openSheet(codeOf(tile)); }, LONG_PRESS_MS);
  });
  for (const name of ["pointerup", "pointercancel", "pointerleave"]) {
    root.addEventListener(name, () => window.clearTimeout(pressTimer), true);
  }
  root.addEventListener("click", (event) => {
    if (longPressed) { event.preventDefault(); event.stopPropagation(); longPressed = false; return; }
    const more = event.target.closest("[data-open-sheet]");
    if (more) openSheet(codeOf(more.closest(".tile")));
  }, true);
  root.addEventListener("contextmenu", (event) => { if (event.target.closest(".tile")) event.preventDefault(); });

  // --- the detail sheet -----------------------------------------------------------------
  function control(name) { return sheetForm.querySelector("[data-control=" + name + "]"); }

  function fillSheet(d, fromOwnChange) {
    sheetForm.querySelector("[data-role=sheet-shown]").textContent = d.shown_text;
    if (fromOwnChange) return;
    const key = (name) => d.code + ":" + name;
    const brightness = followable(control("brightness"), key("brightness"));
    if (brightness) brightness.value = d.look.brightness;
    sheetForm.querySelector("[data-role=brightness-out]").textContent = control("brightness").value + " %";
    const color = followable(control("color"), key("color"));
    if (color) color.value = d.look.color;
    const effect = followable(control("effect"), key("effect"));
    if (effect) {
      const names = d.effects.includes(d.look.effect) ? d.effects : [...d.effects, d.look.effect];
      if ([...effect.options].map((o) => o.value).join() !== names.join()) {
        effect.replaceChildren(...names.map((name) => new Option(effectName(name), name)));
      }
      effect.value = d.look.effect;
    }
    const speed = followable(control("speed"), key("speed"));
    if (speed) speed.value = d.look.speed;
    // Only the controls the effect uses: solid has no speed.
    sheetForm.querySelector("[data-role=speed-row]").hidden = control("effect").value === "solid";
    if (!dragging || dragging.dataset.role !== "wheel") placeWheel(d.look.color);
  }

  function effectName(name) {
    const words = name.replace(/[_-]/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function openSheet(code) {
    const tile = document.getElementById("light-" + code);
    const d = lights.get(code);
    if (!sheet || !tile || !d) return;
    openCode = code;
    sheetForm.action = tile.querySelector("[data-control=on]").formAction;
    sheetForm.querySelector("[data-role=sheet-title]").textContent =
      tile.querySelector("[data-control=on]").textContent;
    const edit = sheetForm.querySelector("[data-role=edit-link]");
    const editUrl = root.dataset.editUrl;
    edit.hidden = !editUrl;
    edit.href = editUrl ? editUrl.replace("CODE", code) : "#";
    showError(sheetForm.querySelector("[data-role=error]"), "");
    drawRecent();
    fillSheet(d, false);
    if (!sheet.open) sheet.showModal();
  }

  function sendFromSheet(name, value) {
    if (!openCode) return;
    touch(openCode + ":" + name);
    const body = new FormData();
    body.append(name, value);
    if (name === "color") remember(value);
    post(sheetForm.action, body, sheetForm.querySelector("[data-role=error]"));
  }

  if (sheet) {
    sheet.addEventListener("click", (event) => {
      if (event.target.closest("[data-close-sheet]") || event.target === sheet) sheet.close();
    });
    sheet.addEventListener("close", () => { openCode = null; });
    sheetForm.addEventListener("input", (event) => {
      const input = event.target;
      if (input.dataset.control) touch(openCode + ":" + input.dataset.control);
      if (input.dataset.control === "brightness") {
        sheetForm.querySelector("[data-role=brightness-out]").textContent = input.value + " %";
      }
    });
    sheetForm.addEventListener("change", (event) => {
      const input = event.target;
      if (!input.dataset.control) return;
      if (input.dataset.control === "effect") {
        sheetForm.querySelector("[data-role=speed-row]").hidden = input.value === "solid";
      }
      sendFromSheet(input.name, input.value);
    });
    sheetForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const submitter = event.submitter;
      if (submitter && submitter.name) sendFromSheet(submitter.name, submitter.value);
    });
  }

  // --- the colour wheel: hue around, saturation outwards; arrow keys turn it ---------------
  const wheel = sheet && sheet.querySelector("[data-role=wheel]");
  const HUE_NAMES = [[15, "Red"], [40, "Orange"], [70, "Yellow"], [160, "Green"], [195, "Cyan"],
                     [255, "Blue"], [285, "Purple"], [320, "Magenta"], [345, "Pink"], [360, "Red"]];

  function hsvToHex(h, s, v) {
    const f = (n) => {
      const k = (n + h / 60) % 6;
      return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
    };
    return "#" + [f(5), f(3), f(1)].map((x) => x.toString(16).padStart(2, "0")).join("");
  }

  function hexToHs(hex) {
    const [r, g, b] = rgbOf(hex).map((x) => x / 255);
    const max = Math.max(r, g, b), min = Math.min(r, g, b), c = max - min;
    let h = 0;
    if (c) {
      if (max === r) h = 60 * (((g - b) / c) % 6);
      else if (max === g) h = 60 * ((b - r) / c + 2);
      else h = 60 * ((r - g) / c + 4);
    }
    return [(h + 360) % 360, max ? c / max : 0];
  }

  function placeWheel(hex) {
    if (!wheel) return;
    const [h, s] = hexToHs(hex);
    const dot = wheel.querySelector("[data-role=wheel-dot]");
    const radians = (h - 90) * Math.PI / 180;
    dot.style.left = (50 + 50 * s * Math.cos(radians)).toFixed(1) + "%";
    dot.style.top = (50 + 50 * s * Math.sin(radians)).toFixed(1) + "%";
    wheel.setAttribute("aria-valuenow", String(Math.round(h)));
    wheel.setAttribute("aria-valuetext", (HUE_NAMES.find(([limit]) => h < limit) || HUE_NAMES[0])[1]);
    wheel.dataset.color = hex;
  }

  function wheelColour(event) {
    const box = wheel.getBoundingClientRect();
    const x = event.clientX - (box.left + box.width / 2);
    const y = event.clientY - (box.top + box.height / 2);
    const hue = (Math.atan2(y, x) * 180 / Math.PI + 90 + 360) % 360;
    const saturation = Math.min(1, Math.hypot(x, y) / (box.width / 2));
    return hsvToHex(hue, saturation, 1);
  }

  if (wheel) {
    wheel.addEventListener("pointerdown", (event) => {
      wheel.setPointerCapture(event.pointerId);
      placeWheel(wheelColour(event));
    });
    wheel.addEventListener("pointermove", (event) => {
      if (wheel.hasPointerCapture(event.pointerId)) placeWheel(wheelColour(event));
    });
    wheel.addEventListener("pointerup", (event) => {
      const hex = wheelColour(event);
      placeWheel(hex);
      control("color").value = hex;
      sendFromSheet("color", hex);
    });
    wheel.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 15, ArrowUp: 15, ArrowLeft: -15, ArrowDown: -15 }[event.key];
      if (!step) return;
      event.preventDefault();
      const [h] = hexToHs(wheel.dataset.color || "#ff0000");
      const hex = hsvToHex((h + step + 360) % 360, 1, 1);
      placeWheel(hex);
      control("color").value = hex;
      sendFromSheet("color", hex);
    });
  }

  // --- recent colours, kept in this browser ---------------------------------------------
  function recent() {
    try { return JSON.parse(window.localStorage.getItem(RECENT_KEY)) || []; } catch (e) { return []; }
  }
  function remember(hex) {
    const list = [hex, ...recent().filter((c) => c !== hex)].slice(0, 6);
    try { window.localStorage.setItem(RECENT_KEY, JSON.stringify(list)); } catch (e) { /* private mode */ }
    drawRecent();
  }
  function drawRecent() {
    const box = sheet && sheet.querySelector("[data-role=recent]");
    if (!box) return;
    const list = recent();
    box.replaceChildren(...list.map((hex, i) => {
      const button = document.createElement("button");
      button.type = "submit";
      button.name = "color";
      button.value = hex;
      button.className = "swatch";
      button.style.background = hex;
      button.setAttribute("aria-label", "Recent colour " + (i + 1));
      return button;
    }));
    box.hidden = list.length === 0;
  }

  // --- the live feed ---------------------------------------------------------------------
  // The strip pictures come as data: the Content-Security-Policy allows no inline styles.
  for (const strip of root.querySelectorAll("[data-strip]")) strip.style.background = strip.dataset.strip;

  async function poll() {
    try {
      const response = await fetch(liveUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (response.status === 401) { window.smartlight.sessionLost(401); return; }
      if (response.ok) {
        const data = await response.json();
        data.devices.forEach((d) => draw(d, false));
        followRooms();
        root.dataset.live = "on";  // drawn from the feed and wired: tests can tell
      }
    } catch (e) { /* offline for a moment: try again on the next tick */ }
    window.setTimeout(poll, document.hidden ? pollMs * 5 : pollMs);
  }
  poll();
})();
