"use strict";
// Small enhancements of the console's pages; every page works without them.
(() => {
  // Copy buttons: <button data-copy="ID"> copies the value (or text) of element ID.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      const text = "value" in source ? source.value : source.textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch {
        source.select?.();
        button.textContent = "Press Ctrl+C to copy";
      }
    });
  }
  // Buttons that ask first: <button data-confirm="text"> (the CLI's --yes, in a browser).
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
})();
