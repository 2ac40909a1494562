"use strict";
// The audit log's live tail: every few seconds, the events newer than the newest row shown
// are put on top (rows are built as text, never as markup). Only on the first page.
(() => {
  const table = document.getElementById("rows");
  const params = new URLSearchParams(location.search);
  if (!table || params.get("before")) return;
  const body = table.tBodies[0];
  const newest = () => Number(body.querySelector("tr[data-key]")?.dataset.key || 0);
  async function poll() {
    const query = new URLSearchParams({ after: String(newest()) });
    for (const name of ["kind", "actor"]) if (params.get(name)) query.set(name, params.get(name));
    try {
      const response = await fetch(`/admin/audit/tail?${query}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const { rows } = await response.json();
      for (const row of rows.reverse()) {
        if (Number(row.id) <= newest()) continue;
        const tr = document.createElement("tr");
        tr.dataset.key = row.id;
        tr.className = "fresh";
        for (const cell of row.cells) tr.insertCell().textContent = cell;
        body.querySelector("tr:not([data-key])")?.remove();
        body.prepend(tr);
      }
    } finally {
      setTimeout(poll, Number(table.dataset.every || 2000));
    }
  }
  setTimeout(poll, 2000);
})();
