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
