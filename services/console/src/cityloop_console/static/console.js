"use strict";
// Command forms: each is sent as JSON through the console's /api proxy with the
// Idempotency-Key it was rendered with, so a double submit is applied once. A refusal is
// shown on the form in plain words with the field it names; on success the page reloads.
(function () {
  const labels = JSON.parse(document.getElementById("labels").textContent);

  function localIso(value) {
    // A datetime-local value is the person's wall clock: send it with their UTC offset.
    const date = new Date(value);
    const offset = -date.getTimezoneOffset();
    const sign = offset >= 0 ? "+" : "-";
    const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
    return `${value.length === 16 ? value + ":00" : value}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
  }

  async function upload(file) {
    const data = new FormData();
    data.append("file", file);
    const response = await fetch("/media", { method: "POST", body: data, credentials: "same-origin" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw { status: response.status, body };
    return body;
  }

  async function collect(form) {
    const body = {};
    for (const element of form.elements) {
      const name = element.name;
      if (!name || name.startsWith("_")) continue;
      const type = element.dataset.type || "text";
      if (type === "photos") {
        const photos = [];
        for (const file of element.files) photos.push(await upload(file));
        if (photos.length) body[name] = photos;
      } else if (element.type === "checkbox") {
        body[name] = element.checked;
      } else if (element.value === "") {
        continue;
      } else if (type === "bool") {
        body[name] = element.value === "true";
      } else if (type === "int") {
        body[name] = Number(element.value);
      } else if (type === "datetime") {
        body[name] = localIso(element.value);
      } else {
        body[name] = element.value;
      }
    }
    return body;
  }

  function explain(status, body) {
    if (status === 401) return labels.signed_out_answer;
    if (status >= 502) return `${labels.service_down} (${(body && body.detail) || status})`;
    const detail = body && body.detail;
    if (Array.isArray(detail)) {
      return detail
        .map((item) => {
          const field = (item.loc || []).filter((part) => part !== "body").join(".");
          return field ? `${labels.field} ${field}: ${item.msg}` : item.msg;
        })
        .join("; ");
    }
    return typeof detail === "string" ? detail : `HTTP ${status}`;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.command) return;
    event.preventDefault();
    const answer = form.querySelector(".answer");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    answer.className = "answer";
    answer.textContent = labels.submitting;
    let status = 0;
    let body = {};
    try {
      const payload = await collect(form);
      const response = await fetch(form.dataset.command, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Idempotency-Key": form.elements._key.value },
        body: JSON.stringify(payload),
      });
      status = response.status;
      body = await response.json().catch(() => ({}));
    } catch (error) {
      status = error.status || 502;
      body = error.body || { detail: String(error) };
    }
    if (status >= 200 && status < 300) {
      answer.classList.add("ok");
      answer.textContent = labels.done;
      form.dataset.done = "true";
      setTimeout(() => window.location.reload(), 700);
      return;
    }
    answer.classList.add("error");
    answer.textContent = `${labels.refused}: ${explain(status, body)}`;
    form.dataset.refused = String(status);
    button.disabled = false;
  });
})();
