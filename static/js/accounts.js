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
        await removeConnection(del.dataset.deleteConnection, del.dataset.label);
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

    // Delete: an empty connection goes; one with traders or history is archived after the
    // trader saw what it affects (the server answers 409 with the list).
    const removeConnection = async function (id, label) {
      if (!window.confirm("Delete " + label + " and its accounts?")) return;
      const url = "/api/accounts/" + id + "/";
      try {
        await JT.api(url, { method: "DELETE" });
        JT.toast(label + " deleted", "success");
      } catch (err) {
        const extra = (err.data && err.data.extra) || {};
        if (err.status !== 409 || extra.code !== "has_history") {
          JT.toast(err.message, "error");
          return;
        }
        if (!window.confirm(describeUsage(label, extra.affected))) return;
        try {
          await JT.api(url + "?archive=true", { method: "DELETE" });
          JT.toast(label + " archived: its history is kept", "success");
        } catch (again) {
          JT.toast(again.message, "error");
        }
      }
    };
    const describeUsage = function (label, usage) {
      const lines = [label + " has history, so it will be archived instead of deleted:"];
      (usage.traders || []).forEach(function (t) {
        lines.push("• trader " + t.strategy + " on " + t.account + (t.enabled ? " (on)" : " (off)"));
      });
      (usage.recorders || []).forEach(function (r) { lines.push("• recorder of " + r.strategy); });
      if (usage.orders) lines.push("• " + usage.orders + " order(s)");
      if (usage.fills) lines.push("• " + usage.fills + " fill(s)");
      lines.push("", "It disappears from your pages and pickers; its trades stay in your history.");
      return lines.join("\n");
    };

    // A broker position moved (a fill, a new last price): its account's open P&L with it.
    document.addEventListener("jt:event", function (event) {
      const d = event.detail;
      if (!d) return;
      if (d.type === "account" || (d.type === "position" && d.data && d.data.source === "broker")) reload();
    });
    document.addEventListener("jt:reconnected", reload);
  }

  // --- Test Connection (Add Account and Edit): what is typed, blank secrets kept on edit ------
  const CREDENTIAL_FIELDS = ["username", "password", "app_id", "cid", "sec"];

  // ``start()`` → the request body (the form's typed credentials added to it); ``said(data)`` →
  // the line shown when the broker accepted the login.
  function wireTestConnection(form, start, said) {
    const result = document.getElementById("test-result");
    document.getElementById("test-connection").addEventListener("click", async function (event) {
      const button = event.currentTarget;
      const body = start();
      CREDENTIAL_FIELDS.forEach(function (name) {
        const input = form.querySelector("[name=" + name + "]");
        if (input) body[name] = input.value;
      });
      button.disabled = true;
      result.className = "muted";
      result.textContent = "Testing…";
      try {
        const data = await JT.api("/api/accounts/test-connection/", { method: "POST", body: body });
        result.className = "pos";
        result.textContent = said(data);
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

  const edit = document.getElementById("connection-edit-form");
  if (edit && document.getElementById("test-connection")) {
    wireTestConnection(
      edit,
      function () { return { connection_id: Number(edit.dataset.connectionId) }; },
      function (data) { return data.message; }
    );
  }

  // --- Add Account --------------------------------------------------------------------------
  const form = document.getElementById("connection-form");
  if (form) {
    const kind = form.querySelector("[name=kind]");
    const syncKind = function () {
      const paper = kind.value === "paper";
      CREDENTIAL_FIELDS.forEach(function (name) {
        const box = form.querySelector("[data-field=" + name + "]");
        if (box) box.hidden = paper;
      });
      form.querySelector("[data-paper-note]").hidden = !paper;
    };
    kind.addEventListener("change", syncKind);
    syncKind();
    wireTestConnection(
      form,
      function () { return { kind: kind.value }; },
      function (data) { return kind.value === "paper" ? "The paper broker is running." : data.message; }
    );
  }
})();
