// The composer's live preview: while an editor types, the draft is saved
// (after a pause of a second) and the previews of every channel are
// replaced by those of the saved version. Without JavaScript the
// "Speichern und Vorschau zeigen" button does the same.
"use strict";
(function () {
  const form = document.getElementById("compose");
  if (!form || !window.fetch || !window.DOMParser) return;
  let timer = null;
  let running = false;
  let again = false;
  const status = document.createElement("p");
  status.className = "hint";
  status.setAttribute("role", "status");
  form.before(status);

  async function save() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    const data = new FormData(form);
    data.set("action", "preview");
    const file = form.querySelector("input[type=file]");
    if (file && file.files.length === 0) data.delete("image");
    try {
      // Not form.action: the buttons named "action" shadow it.
      // Not form.action: the buttons named "action" shadow that property.
      const response = await fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin" });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const draft = page.querySelector("#compose input[name=draft]");
      if (draft) {
        let mine = form.querySelector("input[name=draft]");
        if (!mine) {
          mine = document.createElement("input");
          mine.type = "hidden";
          mine.name = "draft";
          form.prepend(mine);
        }
        mine.value = draft.value;
        if (file && file.files.length > 0) file.value = "";
      }
      for (const id of ["status-area", "draft-tail"]) {
        const fresh = page.getElementById(id);
        const here = document.getElementById(id);
        if (fresh && here) here.replaceWith(fresh);
      }
      status.textContent = form.dataset.live;
    } catch (e) {
      status.textContent = "";
    }
    running = false;
    if (again) {
      again = false;
      save();
    }
  }

  form.addEventListener("input", (e) => {
    if (e.target.type === "file") return;
    clearTimeout(timer);
    timer = setTimeout(save, 1000);
  });
  form.addEventListener("change", (e) => {
    if (e.target.type !== "file" && e.target.tagName !== "SELECT" && e.target.type !== "checkbox") return;
    clearTimeout(timer);
    timer = setTimeout(save, 300);
  });
})();
