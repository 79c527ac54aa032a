// Schedules pages: show the fields of the chosen trigger and action (app.js confirms deletes).
// The form works without this script (every field is shown); it only tidies it.
(function () {
  "use strict";

  function checked(form, name) {
    var input = form.querySelector('input[name="' + name + '"]:checked');
    return input ? input.value : "";
  }

  function sync(form) {
    var trigger = checked(form, "trigger");
    form.querySelectorAll("[data-trigger]").forEach(function (el) {
      el.hidden = el.dataset.trigger.split(" ").indexOf(trigger) === -1;
    });
    var action = checked(form, "action") || "state";
    form.querySelectorAll("[data-action]").forEach(function (el) {
      el.hidden = el.dataset.action !== action;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("schedule-form");
    if (form) {
      sync(form);
      form.addEventListener("change", function () { sync(form); });
    }
  });
})();
