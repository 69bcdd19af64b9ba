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
  // Back to a page the browser kept: its forms can be used again.
  window.addEventListener("pageshow", (e) => {
    if (!e.persisted) return;
    document.querySelectorAll("form[data-submitting]").forEach((form) => {
      delete form.dataset.submitting;
      form.querySelectorAll("button, input[type=submit]").forEach((b) => { b.disabled = false; });
    });
  });
})();
