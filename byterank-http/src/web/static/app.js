// ByteRank's web app: the job form (quote, create, upload with progress) and
// the self-refreshing job page. Plain script, no inline code (the page's
// Content-Security-Policy allows only this file); every value is shown with
// textContent, never parsed as HTML.
"use strict";

function csrf() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.content : "";
}

function jobPath(id) {
  return "/jobs/" + encodeURIComponent(id);
}

// The job file the form describes.
function spec(form) {
  const f = new FormData(form);
  const app = f.get("application");
  const s = {
    id: String(f.get("id") || "").trim(),
    application: app,
    price_chips: Number(f.get("price")),
    preferences: { byte_level: f.get("byte_level") },
  };
  const regions = f.getAll("region");
  if (regions.length > 0) s.preferences.regions = regions;
  const repl = String(f.get("replication") || "");
  if (repl) {
    const [kind, value] = repl.split(":");
    s.replication = { [kind]: Number(value) };
  }
  if (app === "gzip") {
    const file = document.getElementById("f-file").files[0];
    s.input_bytes = file ? file.size : 0;
    s.chunk_bytes = Math.max(1, Number(f.get("chunk_kib"))) * 1024;
  } else {
    s.chunks = Number(f.get("chunks"));
  }
  return s;
}

async function call(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: { "content-type": "application/json", "x-csrf-token": csrf() },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  const v = await r.json().catch(() => ({ message: "the server answered " + r.status }));
  if (!r.ok) throw new Error(v.message + (v.field ? " (" + v.field + ")" : ""));
  return v;
}

function upload(id, file, bar) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open("PUT", "/web/jobs/" + encodeURIComponent(id) + "/input");
    x.setRequestHeader("content-type", "application/octet-stream");
    x.setRequestHeader("x-csrf-token", csrf());
    x.upload.onprogress = (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    };
    x.onload = () => {
      if (x.status < 300) {
        bar.value = 100;
        resolve();
      } else {
        let m = "the upload was refused (" + x.status + ")";
        try { m = JSON.parse(x.responseText).message; } catch (_) {}
        reject(new Error(m));
      }
    };
    x.onerror = () => reject(new Error("the upload failed: check the connection and retry"));
    x.send(file);
  });
}

function row(dl, label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

function setupJobForm(form) {
  const err = document.getElementById("form-error");
  const quoteBox = document.getElementById("quote");
  const submit = document.getElementById("submit-button");
  const bar = document.getElementById("upload");
  const app = document.getElementById("f-app");
  const showFields = () => {
    const gzip = app.value === "gzip";
    document.getElementById("gzip-fields").hidden = !gzip;
    document.getElementById("synthetic-fields").hidden = gzip;
  };
  const fail = (e) => {
    err.textContent = e.message;
    err.hidden = false;
  };
  const stale = () => {
    submit.disabled = true;
    quoteBox.textContent = "";
  };
  showFields();
  app.addEventListener("change", showFields);
  form.addEventListener("input", stale);
  form.addEventListener("change", stale);
  document.getElementById("quote-button").addEventListener("click", async () => {
    err.hidden = true;
    const s = spec(form);
    if (s.application === "gzip" && !s.input_bytes) return fail(new Error("choose a non-empty input file"));
    try {
      const q = await call("POST", "/web/quote", s);
      quoteBox.textContent = "";
      const h = document.createElement("h2");
      h.textContent = "Quote";
      const dl = document.createElement("dl");
      dl.className = "facts";
      dl.id = "quote-facts";
      row(dl, "Tasks", q.tasks);
      row(dl, "Copies", q.copies);
      row(dl, "Pools", q.pools);
      row(dl, "Joint failure probability", q.pjf.toExponential(2));
      row(dl, "Goal met", q.achievable ? "yes" : "no: fewer pools than the goal needs");
      row(dl, "Price", q.price + " ByteChips");
      row(dl, "Available", q.available + " ByteChips");
      quoteBox.append(h, dl);
      submit.disabled = q.price > q.available;
      if (submit.disabled) fail(new Error("the price is more than your balance: top up first"));
      else submit.focus();
    } catch (e) {
      fail(e);
    }
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    err.hidden = true;
    submit.disabled = true;
    const s = spec(form);
    try {
      await call("POST", "/web/jobs", s);
      if (s.application === "gzip") {
        bar.hidden = false;
        bar.previousElementSibling.hidden = false;
        await upload(s.id, document.getElementById("f-file").files[0], bar);
      }
      window.location.assign(jobPath(s.id));
    } catch (e) {
      fail(e);
    }
  });
}

// A page with [data-refresh] fetches itself again after that many ms and
// swaps the section in, until the fresh copy no longer asks to refresh.
function setupRefresh(section) {
  const every = Number(section.dataset.refresh);
  setTimeout(async () => {
    try {
      const r = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById(section.id);
      if (!fresh) return;
      section.replaceWith(fresh);
      if (fresh.dataset.refresh) setupRefresh(fresh);
    } catch (_) {
      setupRefresh(section);
    }
  }, every);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("job-form");
  if (form) setupJobForm(form);
  const live = document.querySelector("[data-refresh]");
  if (live) setupRefresh(live);
});
