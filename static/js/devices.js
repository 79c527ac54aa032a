// The home screen: tiles that toggle with one tap, one detail sheet for the light being adjusted,
// and every tile redrawn once a second from the JSON API's list of the home's lights, so changes
// made elsewhere show without a reload within 2 s (docs/decisions.md, "The dashboard's live
// feed"). One protocol: the page reads and changes lights only through /api/v1 (the session's
// cookie and CSRF token), in the API's shapes (devices.api.DeviceOut); the words on the page
// (`words`) and the strip's colours (`picture`) come from the server too.
(function () {
  "use strict";
  const root = document.getElementById("lights");
  if (!root) return;
  const urls = {
    devices: root.dataset.devicesUrl,
    deviceState: (code) => root.dataset.deviceStateUrl.replace("CODE", code),
    roomState: (code) => root.dataset.roomStateUrl.replace("CODE", code),
    sceneApply: (code) => root.dataset.sceneApplyUrl.replace("CODE", code),
  };
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
  // Failures of a room's or a scene's change are said here, above the rooms.
  const pageError = document.getElementById("page-error");
  const pageStatus = document.getElementById("page-status");

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

  // A form field as the API's light state: brightness is a percent on the page, 0-255 there.
  function change(name, value) {
    if (name === "on") return { on: value === "true" };
    if (name === "brightness") return { brightness: Math.round(Number(value) * 255 / 100) };
    if (name === "speed" || name === "color_temp_k") return { [name]: Number(value) };
    return { [name]: value };
  }

  // The API's reasons in words: 422 lists each field and its reason, others give one detail.
  function reasons(data, status) {
    const detail = data && data.detail;
    if (Array.isArray(detail)) {
      return detail.map((e) => (e.loc || []).slice(-1)[0] + ": " + e.msg).join("; ");
    }
    return detail || "That did not work (" + status + ").";
  }

  // One change through the API; answers its JSON, or null once the failure has been shown.
  async function send(method, url, body, box) {
    showError(box, "");
    let response;
    try {
      response = await fetch(url, {
        method: method,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json",
                   "Content-Type": "application/json" },
      });
    } catch (e) {
      showError(box, "The network is unreachable; nothing was changed.");
      return null;
    }
    if (response.status === 401) { window.smartlight.sessionLost(401); return null; }
    let data = null;
    try { data = await response.json(); } catch (e) { /* not JSON: an error page */ }
    if (response.status === 403 && response.headers.get("X-Session-Stale")) {
      // The page's form token is no longer the session's: signed out or in again elsewhere.
      window.smartlight.sessionLost(403);
      return null;
    }
    if (response.status === 403) {
      showError(box, "You may not change this light (your role in this home changed).");
      pollNow();
      return null;
    }
    if (!response.ok) { showError(box, reasons(data, response.status)); return null; }
    return data || {};
  }

  async function changeLight(code, name, value, box) {
    const d = await send("PATCH", urls.deviceState(code), change(name, value), box);
    if (!d) return;
    draw(d, true);
    followRooms();
  }

  // A room's or a scene's change answers which lights took it: the next poll draws them.
  async function changeMany(url, body, box, done) {
    if (pageStatus) pageStatus.textContent = "";
    const result = await send(body ? "PATCH" : "POST", url, body, box);
    if (!result) return;
    const failed = Object.entries(result.failed || {});
    if (failed.length) showError(box, failed.map(([n, r]) => n + ": " + r).join("; "));
    else if (done && pageStatus) pageStatus.textContent = done;
    pollNow();
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
    const first = d.picture[0];
    const level = d.shown.on ? Math.max(0.15, (d.shown.brightness || 0) / 255) : 0;
    if (!first || level === 0) {
      tile.style.removeProperty("--tint");
      tile.style.removeProperty("--glow");
      return;
    }
    const [r, g, b] = rgbOf(first);
    tile.style.setProperty("--tint", "rgba(" + r + ", " + g + ", " + b + ", " + (0.06 + 0.2 * level).toFixed(2) + ")");
    tile.style.setProperty("--glow", "rgba(" + r + ", " + g + ", " + b + ", " + (0.7 * level).toFixed(2) + ")");
  }

  function gradient(picture) {
    const stops = picture.length > 1 ? picture : [picture[0], picture[0]];
    return "linear-gradient(90deg, " + stops.join(", ") + ")";
  }

  function percent(level) { return Math.round((level || 0) * 100 / 255); }

  function draw(d, fromOwnChange) {
    lights.set(d.code, d);
    const tile = document.getElementById("light-" + d.code);
    if (!tile) return;
    const pendingKeys = Object.keys(d.pending);
    tile.classList.toggle("is-offline", !d.connected);
    tile.classList.toggle("is-pending", pendingKeys.length > 0);
    tile.classList.toggle("is-on", !!d.shown.on);
    tile.querySelector("[data-role=status]").textContent = d.connected ? "Online" : "Offline";
    const pending = part(tile, "pending", "pending-badge");
    pending.hidden = pendingKeys.length === 0;
    pending.textContent = d.connected ? "pending" : "applies when the light is back";
    // Last seen matters only while the light is away: an online light is seen right now.
    const seen = part(tile, "last-seen", "");
    seen.textContent = d.connected ? "" : since(d.last_seen);
    seen.hidden = d.connected;
    tile.querySelector("[data-role=shown]").textContent = d.words;
    tile.querySelector("[data-role=strip]").style.background = gradient(d.picture);
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
        const mean = percent(states.reduce((a, d) => a + d.look.brightness, 0) / states.length);
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
    const submitter = event.submitter;
    const tile = submitter && submitter.closest(".tile");
    const roomToggle = submitter && submitter.hasAttribute("data-room-toggle");
    const scene = submitter && submitter.dataset.scene;
    if (!tile && !roomToggle && !scene) return;
    event.preventDefault();
    if (scene) {
      const name = submitter.lastChild.textContent;
      changeMany(urls.sceneApply(scene), undefined, pageError, "Scene “" + name + "” applied.");
      return;
    }
    if (tile && submitter.dataset.control === "on") {
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
      const room = submitter.closest("section.room").id.slice("room-".length);
      changeMany(urls.roomState(room), change("on", on ? "true" : "false"), pageError);
      return;
    }
    changeLight(codeOf(tile), "on", submitter.getAttribute("aria-pressed"), errorBox(tile));
  });

  root.addEventListener("change", (event) => {
    const input = event.target;
    if (input.classList.contains("room-brightness")) {
      const section = input.closest("section.room");
      touch("room:" + section.id);
      changeMany(urls.roomState(section.id.slice("room-".length)),
                 change("brightness", input.value), pageError);
    }
  });

  // A long press on a tile opens its sheet (a tap toggles); "Adjust" opens it too. The click a
  // browser may still send when the finger lifts lands wherever is under it by then (often a
  // control of the sheet that has just opened): it is swallowed, wherever it lands. A press
  // that starts anew forgets the long press, in case the browser sent no such click.
  let pressTimer = null;
  let longPressed = false;
  document.addEventListener("pointerdown", () => { longPressed = false; }, true);
  root.addEventListener("pointerdown", (event) => {
    const tile = event.target.closest(".tile");
    if (!tile || event.button > 0) return;
    pressTimer = window.setTimeout(() => { longPressed = true; openSheet(codeOf(tile)); }, LONG_PRESS_MS);
  });
  for (const name of ["pointerup", "pointercancel", "pointerleave"]) {
    root.addEventListener(name, () => window.clearTimeout(pressTimer), true);
  }
  document.addEventListener("click", (event) => {
    if (longPressed) { event.preventDefault(); event.stopPropagation(); longPressed = false; }
  }, true);
  root.addEventListener("click", (event) => {
    const more = event.target.closest("[data-open-sheet]");
    if (more) openSheet(codeOf(more.closest(".tile")));
  });
  root.addEventListener("contextmenu", (event) => { if (event.target.closest(".tile")) event.preventDefault(); });

  // --- the detail sheet -----------------------------------------------------------------
  function control(name) { return sheetForm.querySelector("[data-control=" + name + "]"); }

  function fillSheet(d, fromOwnChange) {
    sheetForm.querySelector("[data-role=sheet-shown]").textContent = d.words;
    if (fromOwnChange) return;
    const key = (name) => d.code + ":" + name;
    const brightness = followable(control("brightness"), key("brightness"));
    if (brightness) brightness.value = percent(d.look.brightness);
    sheetForm.querySelector("[data-role=brightness-out]").textContent = control("brightness").value + " %";
    const color = followable(control("color"), key("color"));
    if (color) color.value = d.look.color || "#ffffff";
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
    if (!dragging || dragging.dataset.role !== "wheel") placeWheel(d.look.color || "#ffffff");
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
    if (name === "color") remember(value);
    changeLight(openCode, name, value, sheetForm.querySelector("[data-role=error]"));
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

  // --- the live feed: the API's list of the home's lights -----------------------------------
  // The strip pictures come as data: the Content-Security-Policy allows no inline styles.
  for (const strip of root.querySelectorAll("[data-strip]")) strip.style.background = strip.dataset.strip;

  // What the page was drawn with: which lights, in which rooms, and the person's role. When
  // that changes elsewhere (a light added, moved or removed, a role changed), the page is drawn
  // anew by the server, once nobody is dragging a control or has the sheet open.
  function layoutChanged(list) {
    const tiles = [...root.querySelectorAll(".tile")];
    if (tiles.length !== list.length) return true;
    return list.some((d) => {
      const tile = document.getElementById("light-" + d.code);
      const section = tile && tile.closest("section.room");
      return !tile || d.role !== root.dataset.myRole ||
        (section.id || null) !== (d.room ? "room-" + d.room : null);
    });
  }
  let redrawWanted = false;
  function redrawWhenIdle() {
    redrawWanted = true;
    if (dragging || (sheet && sheet.open)) return;
    window.location.reload();
  }
  if (sheet) sheet.addEventListener("close", () => { if (redrawWanted) redrawWhenIdle(); });
  window.addEventListener("pointerup", () => { if (redrawWanted) window.setTimeout(redrawWhenIdle, 0); });

  let timer = null;
  let polling = false;
  let again = false;
  async function poll() {
    window.clearTimeout(timer);
    if (polling) { again = true; return; }  // one request at a time; this one asks once more
    polling = true;
    let signedOut = false;
    try {
      const response = await fetch(urls.devices, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (response.status === 401) {
        signedOut = true;
        window.smartlight.sessionLost(401);
      } else if (response.ok) {
        const list = await response.json();
        list.forEach((d) => draw(d, false));
        followRooms();
        root.dataset.live = "on";  // drawn from the feed and wired: tests can tell
        if (layoutChanged(list)) redrawWhenIdle();
      }
    } catch (e) { /* offline for a moment: try again on the next tick */ }
    polling = false;
    if (signedOut) return;
    timer = window.setTimeout(poll, again ? 0 : (document.hidden ? pollMs * 5 : pollMs));
    again = false;
  }
  // After a change the light's new state is fetched at once rather than on the next tick.
  function pollNow() { window.setTimeout(poll, 0); }
  poll();
})();
