// Portal behaviour on top of htmx. Everything works without it; this only keeps keyboard and
// screen-reader users oriented after htmx replaces #main (WCAG 2.4.3 focus order).
document.addEventListener("htmx:afterSettle", function () {
  var active = document.activeElement;
  if (active && active !== document.body && document.contains(active)) return;
  // The focused control was swapped away: focus the news (message list) or the page itself.
  var target = document.querySelector("#main .messages") || document.getElementById("main");
  if (!target) return;
  if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
  target.focus();
});

// Forms that ask first (`data-confirm`), and fields that select themselves when focused
// (`data-select-on-focus`): here rather than in on* attributes, which the Content-Security-Policy
// blocks.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
document.addEventListener("focusin", function (event) {
  var field = event.target;
  if (field.dataset && "selectOnFocus" in field.dataset) field.select();
});

// A signed-out session (401 from smartlight.middleware.SignedOutMiddleware) or a stale form
// token (a 403 marked X-Session-Stale, by smartlight.views.csrf_failure or the API) shows the
// banner with the sign-in link, rather than letting clicks fail without a word.
window.smartlight = window.smartlight || {};
window.smartlight.sessionLost = function (status) {
  var banner = document.getElementById("session-banner");
  if (!banner) return;
  if (status === 403) {
    banner.querySelector("[data-role=session-text]").textContent =
      "This page is out of date with your session (signed out or in again elsewhere); sign in to go on.";
  }
  if (banner.hidden) {
    banner.hidden = false;
    document.body.classList.add("session-lost");
  }
};
// A 403 is either a stale form token (smartlight.views.csrf_failure marks it: the banner) or a
// refusal of the person's role: that page ("You cannot do that here") is shown in place.
function staleSession(xhr) { return !!xhr.getResponseHeader("X-Session-Stale"); }
document.addEventListener("htmx:beforeSwap", function (event) {
  var xhr = event.detail.xhr;
  var json = (xhr.getResponseHeader("Content-Type") || "").indexOf("application/json") >= 0;
  if (xhr.status === 403 && !json && !staleSession(xhr)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
document.addEventListener("htmx:responseError", function (event) {
  var xhr = event.detail.xhr;
  if (xhr.status === 401 || (xhr.status === 403 && staleSession(xhr))) window.smartlight.sessionLost(xhr.status);
});

// Installable: the service worker keeps the app shell (smartlight.views.service_worker).
if ("serviceWorker" in navigator && window.isSecureContext) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js").catch(function () { /* the portal works without */ });
  });
}

// Strip pictures come as data (no inline styles under the Content-Security-Policy).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-strip]").forEach(function (strip) {
    strip.style.background = strip.dataset.strip;
  });
});
