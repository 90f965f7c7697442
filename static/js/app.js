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

  function toast(message, kind, timeoutMs) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast toast-" + (kind || "info");
    el.textContent = message;
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, timeoutMs || 6000);
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
  function fmtTime(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString();
  }

  // Server-rendered flash messages fade away like live toasts.
  document.querySelectorAll("#toasts .toast[data-server]").forEach(function (el) {
    setTimeout(function () { el.remove(); }, 6000);
  });

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

  window.JT = { api: api, toast: toast, money: money, signClass: signClass, fmtTime: fmtTime, cookie: cookie };
})();
