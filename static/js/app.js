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
