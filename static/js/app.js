/* Shared page helpers: API calls with CSRF, toasts, number formatting. */
(function () {
  "use strict";

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function api(url, options) {
    const opts = options || {};
    const init = {
      method: opts.method || "GET",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (opts.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    }
    if (init.method !== "GET" && init.method !== "HEAD") {
      init.headers["X-CSRFToken"] = cookie("csrftoken");
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!response.ok) {
      const message = (data && data.message) || (data && data.detail) || response.statusText || "Request failed";
      const error = new Error(message);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  // Toasts: at most two, each with a close button, in a strip of their own under the top bar
  // (the page moves down to make room), so they never cover a table.
  const MAX_TOASTS = 2;
  function toastBox() { return document.getElementById("toasts"); }
  function makeRoomForToasts() {
    const box = toastBox();
    if (!box) return;
    document.body.style.setProperty("--toast-space", (box.childElementCount ? box.offsetHeight + 8 : 0) + "px");
  }
  function toastRemove(el) {
    el.remove();
    makeRoomForToasts();
  }
  function toastDress(el, timeoutMs) {
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");  // the × is drawn by CSS: not part of the text
    close.addEventListener("click", function () { toastRemove(el); });
    el.appendChild(close);
    setTimeout(function () { toastRemove(el); }, timeoutMs || 6000);
  }
  function toastsCapped() {
    const box = toastBox();
    while (box.childElementCount > MAX_TOASTS) box.firstElementChild.remove();
    makeRoomForToasts();
  }
  function toast(message, kind, timeoutMs) {
    const box = toastBox();
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast toast-" + (kind || "info");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    const text = document.createElement("span");
    text.className = "toast-text";
    text.textContent = message;
    el.appendChild(text);
    toastDress(el, timeoutMs);
    box.appendChild(el);
    toastsCapped();
  }

  // A 400's field errors on the form: each field marked and its reason under it; returns the
  // reasons as one line for a toast ("Ticker: Give a ticker, or choose a strategy.").
  function fieldErrors(form, error) {
    form.querySelectorAll(".field-error").forEach(function (node) { node.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    const fields = error && error.data && error.data.extra && error.data.extra.fields;
    if (!fields || typeof fields !== "object" || Array.isArray(fields)) return error ? error.message : "";
    const lines = [];
    Object.keys(fields).forEach(function (name) {
      const reason = [].concat(fields[name]).join(" ");
      const input = form.querySelector('[name="' + name + '"]');
      const label = input && input.id ? form.querySelector('label[for="' + input.id + '"]') : null;
      if (input) {
        input.setAttribute("aria-invalid", "true");
        const note = document.createElement("span");
        note.className = "field-error";
        note.textContent = reason;
        input.insertAdjacentElement("afterend", note);
      }
      lines.push(label ? label.textContent + ": " + reason : reason);
    });
    return lines.join(" · ");
  }

  const moneyFormat = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" });
  function money(value) {
    if (value === null || value === undefined || value === "") return "—";
    const n = Number(value);
    return Number.isFinite(n) ? moneyFormat.format(n) : "—";
  }
  function signClass(value) {
    const n = Number(value);
    return n > 0 ? "pos" : n < 0 ? "neg" : "";
  }
  // One clock: every time on every page in the zone chosen in Settings (<body data-tz>), as the
  // server writes it (justtrades/clock.py): "2025-01-09 10:15:03 UTC-5".
  function clockIn(zone) {
    return new Intl.DateTimeFormat("en-US", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "shortOffset",
    });
  }
  let clockFormat;
  try { clockFormat = clockIn((document.body && document.body.dataset.tz) || "UTC"); }
  catch (e) { clockFormat = clockIn("UTC"); }  // a zone this browser does not know
  // "GMT-5" → "UTC-5", "GMT" or "GMT+0" → "UTC": the label the server writes.
  function offsetLabel(name) { return name.replace(/^GMT([+-]0)?$/, "UTC").replace(/^GMT/, "UTC"); }
  function fmtTime(iso) {
    if (!iso) return "—";
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return "—";
    const part = {};
    clockFormat.formatToParts(moment).forEach(function (p) { part[p.type] = p.value; });
    return part.year + "-" + part.month + "-" + part.day + " " + part.hour + ":" + part.minute + ":" +
      part.second + " " + offsetLabel(part.timeZoneName);
  }
  // The calendar day of a moment in the user's zone ("2025-01-09"), for "today" and ranges.
  const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: clockFormat.resolvedOptions().timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  function localDay(moment) { return dayFormat.format(moment || new Date()); }
  // A <time> element holding a moment, as the server's |local_time writes it.
  function timeElement(iso) {
    const node = document.createElement("time");
    if (iso) node.setAttribute("datetime", iso);
    node.textContent = fmtTime(iso);
    return node;
  }

  // Server-rendered flash messages behave like live toasts.
  document.querySelectorAll("#toasts .toast[data-server]").forEach(function (el) { toastDress(el); });
  if (toastBox()) toastsCapped();

  // Copy buttons: <button data-copy="#selector"> or data-copy-text="...".
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy], [data-copy-text]");
    if (!button) return;
    const target = button.dataset.copy ? document.querySelector(button.dataset.copy) : null;
    const text = button.dataset.copyText || (target ? (target.value || target.textContent) : "");
    navigator.clipboard.writeText(text.trim()).then(
      function () { toast("Copied", "success", 1500); },
      function () { toast("Copy failed: select the text and copy it by hand", "error"); }
    );
  });

  // Confirmation for dangerous forms/buttons: <form data-confirm="Are you sure?">.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  window.JT = {
    api: api, toast: toast, money: money, signClass: signClass, fmtTime: fmtTime, timeElement: timeElement,
    fieldErrors: fieldErrors, localDay: localDay, zone: clockFormat.resolvedOptions().timeZone, cookie: cookie,
  };
})();
