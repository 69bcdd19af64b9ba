// Every form that posts does so once: while its request runs, a second click, a double click or
// Enter does nothing and its buttons are disabled. A form (or the button pressed) with
// data-confirm first asks, saying what will happen; cancelling sends nothing. No inline handlers:
// the Content-Security-Policy allows the app's own scripts only.
(function () {
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
    if (form.dataset.submitting) {
      e.preventDefault();
      return;
    }
    const question = (e.submitter && e.submitter.dataset.confirm) || form.dataset.confirm;
    if (question && !window.confirm(question)) {
      e.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    // After this event: a button disabled now would leave its name and value out of the post.
    setTimeout(() => {
      form.querySelectorAll("button, input[type=submit]").forEach((b) => { b.disabled = true; });
    }, 0);
  });
  // A filter or a type chosen from a list (data-submit-on-change) applies at once.
  document.addEventListener("change", (e) => {
    if (e.target.dataset && e.target.dataset.submitOnChange !== undefined && e.target.form) {
      e.target.form.requestSubmit();
    }
  });
  // Date fields in the page's language. The browser's <input type=date> writes and reads dates as the
  // browser's language does, not the page's; where flatpickr has loaded, each one becomes a text field
  // that shows and reads the date as the pages write it (<body data-date-format>, from
  // hub/ui/date_picker.py), with a calendar in the page's language. The field the form sends is the
  // original one, hidden, and keeps ISO (2026-03-09). Without JavaScript the browser's field stays.
  const lang = document.documentElement.lang;
  const settings = document.body.dataset;
  const shown = settings.dateFormat || "Y-m-d";
  const digits = settings.dateDigits || "";  // the locale's own 0-9 (Bengali's), read as typed
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

  // "17.03.2026" in ru, "17/3/2026" or "১৭/৩/২০২৬" in bn; ISO in every language, as the server reads
  // them (hub/locale_numbers.py, parse_date_text). null for other text, a day that does not exist or
  // a year not written in full.
  function readDate(text) {
    const latin = Array.from(text.trim(), (c) => (digits.includes(c) ? String(digits.indexOf(c)) : c)).join("");
    for (const format of [shown, "Y-m-d"]) {
      const fields = format.match(/[djnmY]/g);
      const pattern = format.split(/[djnmY]/).map(escape).join("([0-9]{1,4})");
      const found = new RegExp("^" + pattern + "$").exec(latin);
      if (!found) continue;
      const part = {};
      fields.forEach((f, i) => { part[f === "Y" ? "y" : "dj".includes(f) ? "d" : "m"] = found[i + 1]; });
      if (part.y.length !== 4) return null;
      const [y, m, d] = [Number(part.y), Number(part.m), Number(part.d)];
      const day = new Date(y, m - 1, d);
      day.setFullYear(y);  // years 0-99 are not 1900-1999
      return day.getFullYear() === y && day.getMonth() === m - 1 && day.getDate() === d ? day : null;
    }
    return null;
  }

  function datePicker(input) {
    const typed = input.getAttribute("value") || "";
    const names = window.flatpickr.l10ns[lang] || {};
    const picker = window.flatpickr(input, {
      locale: Object.assign({}, names, {
        monthAriaLabel: settings.dateMonthLabel || "Month",
        yearAriaLabel: settings.dateYearLabel || "Year",
        firstDayOfWeek: Number(settings.dateFirstDay || names.firstDayOfWeek || 0),
      }),
      dateFormat: "Y-m-d",
      altInput: true,
      altFormat: shown,
      altInputClass: "date-input",
      ariaDateFormat: shown,  // a day of the calendar is read out as the field writes it
      allowInput: true,
      disableMobile: true,  // a phone's own picker would speak the phone's language again
      parseDate: (text) => readDate(text) || undefined,
    });
    const field = picker.altInput;
    // What the page's label, error message and tests point at is the field the user types into.
    for (const name of ["id", "aria-invalid", "aria-describedby"]) {
      if (input.hasAttribute(name)) {
        field.setAttribute(name, input.getAttribute(name));
        input.removeAttribute(name);
      }
    }
    field.autocomplete = "off";
    field.size = 12;  // a date's width, as the browser's date field had, where the layout leaves it
    // Text that is no date is kept and sent as typed, for the server to refuse with a message saying
    // how to write it (flatpickr would empty the field without a word).
    const keep = (text) => {
      picker.selectedDates = [];
      picker.latestSelectedDateObj = undefined;
      input.value = text.trim();
      field.value = text;
    };
    const setDate = picker.setDate;
    picker.setDate = (value, triggerChange, format) =>
      typeof value === "string" && value.trim() !== "" && !readDate(value)
        ? keep(value)
        : setDate(value, triggerChange, format);
    if (typed.trim() && !picker.selectedDates.length) keep(typed);
    // Enter in the field takes the typed date and sends the form, as in any text field (flatpickr
    // would take the date and drop the focus, and the form would never be sent).
    field.parentElement.addEventListener(
      "keydown",
      (e) => {
        if (e.target !== field || e.key !== "Enter") return;
        e.stopPropagation();
        picker.setDate(field.value, true, shown);
        picker.close();
      },
      true,
    );
    // Keyboard: Down from the field into the calendar (the arrow keys then move by day and week,
    // Enter picks, Escape goes back); Escape in the field closes it.
    field.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && picker.isOpen) {
        picker.close();
      } else if (e.key === "ArrowDown" && !e.altKey && !e.ctrlKey) {
        if (!picker.isOpen) picker.open();
        const days = picker.daysContainer;
        const day =
          days.querySelector(".flatpickr-day.selected") ||
          days.querySelector(".flatpickr-day.today") ||
          days.querySelector(".flatpickr-day:not(.prevMonthDay)");
        if (day) {
          e.preventDefault();
          day.focus();
        }
      }
    });
  }

  function datePickers(scope) {
    if (!window.flatpickr || !scope.querySelectorAll) return;
    scope.querySelectorAll("input[type=date]").forEach(datePicker);
  }
  datePickers(document);
  document.addEventListener("htmx:load", (e) => datePickers(e.detail.elt));

  // Back to a page the browser kept: its forms can be used again.
  window.addEventListener("pageshow", (e) => {
    if (!e.persisted) return;
    document.querySelectorAll("form[data-submitting]").forEach((form) => {
      delete form.dataset.submitting;
      form.querySelectorAll("button, input[type=submit]").forEach((b) => { b.disabled = false; });
    });
  });
})();
