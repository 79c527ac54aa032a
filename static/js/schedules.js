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
    // The cron trigger sits behind the "Advanced" switch (shown while it is the one chosen).
    var advanced = form.querySelector("[data-advanced]");
    var cron = form.querySelector('input[name="trigger"][value="cron"]');
    if (advanced && cron) {
      var option = cron.closest("div") || cron.closest("label");
      option.hidden = !advanced.checked && !cron.checked;
    }
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
