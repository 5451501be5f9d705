// Review page of an imported plan document: clicking a draft item marks its source span in the original text.
// Offsets are code points (Python's str indices), so the text is sliced as an array of code points, not UTF-16.
(function () {
  "use strict";
  const source = document.getElementById("imp-source");
  const outline = document.getElementById("imp-outline");
  if (source && outline) {
    const chars = Array.from(source.textContent);

    function mark(start, end) {
      const hit = document.createElement("mark");
      hit.id = "imp-hit";
      hit.className = "imp-hit";
      hit.textContent = chars.slice(start, end).join("");
      source.replaceChildren(
        document.createTextNode(chars.slice(0, start).join("")),
        hit,
        document.createTextNode(chars.slice(end).join("")),
      );
      // scroll the text pane only, not the page: the outline stays where the reviewer is
      source.scrollTop = Math.max(0, hit.offsetTop - source.clientHeight / 3);
    }

    function select(item) {
      outline.querySelectorAll(".imp-item.active").forEach((el) => el.classList.remove("active"));
      item.classList.add("active");
      const start = Number(item.dataset.start);
      const end = Number(item.dataset.end);
      if (Number.isInteger(start) && Number.isInteger(end) && end >= start && end <= chars.length) {
        mark(start, end);
      }
    }

    outline.addEventListener("click", (event) => {
      const item = event.target.closest(".imp-item[data-start]");
      if (item) select(item);
    });
    outline.addEventListener("keydown", (event) => {
      const item = event.target.closest(".imp-item[data-start]");
      if (item && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        select(item);
      }
    });
    // the 需人工核对 list: bring the item into view in the outline pane and mark its source
    document.querySelectorAll(".imp-jump").forEach((link) => {
      link.addEventListener("click", (event) => {
        const item = document.getElementById(link.dataset.item);
        if (!item) return;
        event.preventDefault();
        outline.closest(".imp-panes").scrollIntoView({ block: "start" });
        outline.scrollTop = Math.max(0, item.offsetTop - outline.clientHeight / 3);
        if (item.dataset.start !== undefined) select(item);
        else {
          outline.querySelectorAll(".imp-item.active").forEach((el) => el.classList.remove("active"));
          item.classList.add("active");
        }
        item.focus({ preventScroll: true });
      });
    });
  }
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
