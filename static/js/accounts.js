/* Account Management (refresh, delete, live updates) and Add Account (Test Connection). */
(function () {
  "use strict";

  // --- Account Management -------------------------------------------------------------------
  const list = document.getElementById("connections");
  if (list) {
    let reloading = null;
    const reload = function () {
      if (reloading) return reloading;
      reloading = fetch(list.dataset.partialUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error(r.statusText)); })
        .then(function (html) { list.innerHTML = html; })
        .catch(function () { /* the next event or reconnect tries again */ })
        .finally(function () { reloading = null; });
      return reloading;
    };

    document.addEventListener("click", async function (event) {
      const refresh = event.target.closest("[data-refresh-connection]");
      const del = event.target.closest("[data-delete-connection]");
      const paper = event.target.closest("[data-add-paper]");
      if (refresh) {
        refresh.disabled = true;
        try {
          await JT.api("/api/accounts/" + refresh.dataset.refreshConnection + "/refresh/", { method: "POST" });
          JT.toast("Balances refreshed", "success");
        } catch (err) {
          JT.toast(err.message, "error");
        }
        await reload();
      } else if (del) {
        if (!window.confirm("Delete " + del.dataset.label + " and its accounts?")) return;
        try {
          await JT.api("/api/accounts/" + del.dataset.deleteConnection + "/", { method: "DELETE" });
          JT.toast(del.dataset.label + " deleted", "success");
        } catch (err) {
          JT.toast(err.message, "error");
        }
        await reload();
      } else if (paper) {
        paper.disabled = true;
        try {
          await JT.api("/api/accounts/", { method: "POST", body: { kind: "paper", label: "Paper" } });
          paper.remove();
        } catch (err) {
          JT.toast(err.message, "error");
          paper.disabled = false;
        }
        await reload();
      }
    });

    document.addEventListener("jt:event", function (event) {
      if (event.detail && event.detail.type === "account") reload();
    });
    document.addEventListener("jt:reconnected", reload);
  }

  // --- Add Account --------------------------------------------------------------------------
  const form = document.getElementById("connection-form");
  if (form) {
    const kind = form.querySelector("[name=kind]");
    const credentialFields = ["username", "password", "app_id", "cid", "sec"];
    const syncKind = function () {
      const paper = kind.value === "paper";
      credentialFields.forEach(function (name) {
        const box = form.querySelector("[data-field=" + name + "]");
        if (box) box.hidden = paper;
      });
      form.querySelector("[data-paper-note]").hidden = !paper;
    };
    kind.addEventListener("change", syncKind);
    syncKind();

    const result = document.getElementById("test-result");
    document.getElementById("test-connection").addEventListener("click", async function (event) {
      const button = event.currentTarget;
      const body = { kind: kind.value };
      credentialFields.forEach(function (name) {
        const input = form.querySelector("[name=" + name + "]");
        if (input) body[name] = input.value;
      });
      button.disabled = true;
      result.className = "muted";
      result.textContent = "Testing…";
      try {
        const data = await JT.api("/api/accounts/test-connection/", { method: "POST", body: body });
        result.className = "pos";
        result.textContent = kind.value === "paper" ? "The paper broker is running." : data.message;
      } catch (err) {
        result.className = "neg";
        const fields = err.data && err.data.extra && err.data.extra.fields;
        result.textContent = fields
          ? Object.keys(fields).map(function (k) { return k + ": " + fields[k]; }).join("; ")
          : err.message;
      } finally {
        button.disabled = false;
      }
    });
  }
})();
