// Loaded by base.html on every page, before any page script. Two jobs:
// 1. `huanxin.escapeHtml`, the one escaper for text a script puts into HTML (ECharts tooltip formatters return
//    HTML strings, so a site or department name must be escaped before it goes in).
// 2. The small behaviours templates ask for with data- attributes, because the Content-Security-Policy forbids
//    inline handlers (onclick=…) and javascript: links. Listeners sit on the document, so content swapped in by
//    htmx works too.
(function () {
  "use strict";
  const entities = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => entities[c]);
  }

  window.huanxin = Object.freeze({ escapeHtml });

  // <input type="checkbox" data-check-all="input[name=ids]">: ticks or clears every box the selector matches.
  document.addEventListener("change", (event) => {
    const box = event.target.closest("input[data-check-all]");
    if (!box) return;
    document.querySelectorAll(box.dataset.checkAll).forEach((other) => {
      other.checked = box.checked;
    });
  });

  // <select data-autosubmit>: submits its form as soon as a choice is made (a <noscript> button covers no-JS).
  document.addEventListener("change", (event) => {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.requestSubmit();
  });

  // <input data-select-on-focus>: selects the whole value, for a token the user is meant to copy.
  document.addEventListener("focusin", (event) => {
    const field = event.target.closest("input[data-select-on-focus]");
    if (field) field.select();
  });

  // <button data-print>: opens the browser's print dialogue (a certificate's printable page).
  document.addEventListener("click", (event) => {
    if (event.target.closest("button[data-print]")) window.print();
  });

  // <a href="/fallback/" data-history-back>: goes back a page; the href is where it goes without history.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-history-back]");
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
})();
