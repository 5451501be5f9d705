// Loaded by base.html on every page, before any page script. Three jobs:
// 1. `huanxin.escapeHtml`, the one escaper for text a script puts into HTML (ECharts tooltip formatters return
//    HTML strings, so a site or department name must be escaped before it goes in).
// 2. The small behaviours templates ask for with data- attributes, because the Content-Security-Policy forbids
//    inline handlers (onclick=…) and javascript: links. Listeners sit on the document, so content swapped in by
//    htmx works too.
// 3. The large-text mode (大字模式) for older readers, at the end.
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

  // 大字模式 (适老化): a class on <html> that the stylesheet enlarges text by, kept in localStorage across pages and
  // visits. Set here, before the body is drawn (this file is not deferred), so a page never flashes small first.
  // A page may carry its own <button data-large-text>; otherwise one is put in the page's top bar.
  const LARGE = "huanxin.largeText";
  const stored = () => {
    try {
      return window.localStorage.getItem(LARGE) === "1";
    } catch {
      return false; // storage refused (private mode): the mode simply does not persist
    }
  };
  document.documentElement.classList.toggle("large-text", stored());

  function showLargeText(on) {
    document.documentElement.classList.toggle("large-text", on);
    document.querySelectorAll("[data-large-text]").forEach((button) => {
      button.setAttribute("aria-pressed", String(on));
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!document.querySelector("[data-large-text]")) {
      const bar = document.querySelector("header .user") || document.querySelector("header");
      if (bar) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "large-text-toggle";
        button.dataset.largeText = "";
        button.textContent = "大字模式";
        bar.prepend(button);
      }
    }
    showLargeText(document.documentElement.classList.contains("large-text"));
  });

  document.addEventListener("click", (event) => {
    if (!event.target.closest("[data-large-text]")) return;
    const on = !document.documentElement.classList.contains("large-text");
    try {
      window.localStorage.setItem(LARGE, on ? "1" : "0");
    } catch {
      // not stored: the mode still applies to this page
    }
    showLargeText(on);
  });
})();
