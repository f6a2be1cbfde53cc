// Live refresh: an element with data-refresh="<partial url>" and data-live="true" is replaced by
// a fresh copy of its partial every 1.5 s until the partial says data-live="false".
function poll(element) {
  if (element.dataset.live !== "true") return;
  setTimeout(async () => {
    let next = element;
    try {
      const response = await fetch(element.dataset.refresh, { headers: { Accept: "text/html" } });
      if (response.redirected && new URL(response.url).pathname === "/ui/login") {
        window.location.href = response.url; // signed out meanwhile
        return;
      }
      if (response.ok) {
        const template = document.createElement("template");
        template.innerHTML = (await response.text()).trim();
        next = template.content.firstElementChild;
        element.replaceWith(next);
      }
    } catch (error) {
      // the server is restarting: keep the page, try again
    }
    poll(next);
  }, 1500);
}

// The upload form: send the file with fetch, go to the new import, or show the problem.
function upload(form) {
  const box = document.getElementById("upload-error");
  form.addEventListener("submit", async (event) => {
    if (event.submitter && event.submitter.id === "preview-button") return; // a plain post
    event.preventDefault();
    const button = form.querySelector("#import-now");
    button.disabled = true;
    button.textContent = "Uploading…";
    box.hidden = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json", "X-CSRFToken": form.elements._csrf_token.value },
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 202) {
        window.location.href = "/ui/imports/" + body.importId;
        return;
      }
      const details = (body.errors || []).map((e) => "• " + (e.pointer || e.parameter || "") + " " + e.detail);
      box.textContent = [body.detail || body.title || "Upload failed (" + response.status + ").", ...details].join("\n");
    } catch (error) {
      box.textContent = "The upload did not reach the server: " + error;
    }
    box.hidden = false;
    button.disabled = false;
    button.textContent = "Upload and import";
  });
}

// The preview: once the mapping or an option changes, the counts shown are stale, so importing
// waits for "Preview again".
function previewForm(form) {
  const importButton = document.getElementById("import-button");
  form.addEventListener("change", () => {
    if (importButton) importButton.disabled = true;
    document.getElementById("stale-hint").hidden = false;
  });
}

document.querySelectorAll("[data-refresh]").forEach(poll);
const preview = document.getElementById("preview-form");
if (preview) previewForm(preview);
const uploadForm = document.getElementById("upload-form");
if (uploadForm) upload(uploadForm);
