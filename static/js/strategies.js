/* Strategy pages: test-alert buttons and the live signal table. */
(function () {
  "use strict";

  const STATUS_BADGE = {
    processed: "badge-green", rejected: "badge-red", failed: "badge-red",
    filtered: "badge-yellow", accepted: "badge-gray", processing: "badge-gray",
  };

  function text(tag, value, className) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    el.textContent = value === null || value === undefined ? "" : String(value);
    return el;
  }

  function row(s) {
    const tr = document.createElement("tr");
    tr.dataset.signal = s.id;
    tr.appendChild(text("td", s.id));
    const received = text("td", s.received_at ? JT.fmtTime(s.received_at) : "");
    received.title = s.received_at || "";
    tr.appendChild(received);
    const status = document.createElement("td");
    status.appendChild(text("span", s.status, "badge " + (STATUS_BADGE[s.status] || "badge-gray")));
    if (s.origin && s.origin !== "webhook") status.appendChild(text("span", " (" + s.origin.replace("_", "-") + ")", "muted"));
    tr.appendChild(status);
    tr.appendChild(text("td", s.action || "—"));
    tr.appendChild(text("td", s.contract || s.symbol || "—", "mono"));
    // As the server writes it: the sizing note when the size differs from the alert's, else
    // the number, "all" for an exit of the whole position.
    const qty = text("td", s.sizing_note || (s.quantity ? s.quantity : s.action === "exit" ? "all" : "—"), "num");
    qty.dataset.field = "quantity";
    tr.appendChild(qty);
    tr.appendChild(text("td", s.price === null || s.price === undefined ? "" : String(Number(s.price)), "num"));
    tr.appendChild(text("td", s.latency_ms !== null && s.latency_ms !== undefined ? s.latency_ms + " ms" : "—", "num"));
    tr.appendChild(text("td", s.reason, "wrap"));
    const body = document.createElement("td");
    body.className = "wrap";
    const details = document.createElement("details");
    details.appendChild(text("summary", "raw"));
    details.appendChild(text("pre", s.raw_body));
    body.appendChild(details);
    tr.appendChild(body);
    return tr;
  }

  const table = document.getElementById("signal-table");
  const strategyId = table ? Number(table.dataset.strategy) : null;

  async function refreshSignal(id) {
    if (!table) return;
    try {
      const s = await JT.api("/api/signals/" + id + "/");
      const tbody = table.querySelector("tbody");
      const empty = tbody.querySelector(".empty-row");
      if (empty) empty.remove();
      const fresh = row(s);
      const old = tbody.querySelector('tr[data-signal="' + id + '"]');
      if (old) old.replaceWith(fresh); else tbody.insertBefore(fresh, tbody.firstChild);
    } catch (err) { /* the next event or a reload shows it */ }
  }

  async function refreshAll() {
    if (!table) return;
    try {
      const page = await JT.api("/api/strategies/" + strategyId + "/signals/?page_size=10");
      const tbody = table.querySelector("tbody");
      tbody.replaceChildren.apply(tbody, page.results.map(row));
    } catch (err) { /* keep what is shown */ }
  }

  document.addEventListener("jt:event", function (event) {
    const detail = event.detail || {};
    if (detail.type === "signal" && detail.data && detail.data.strategy_id === strategyId) {
      refreshSignal(detail.data.id);
    }
  });
  document.addEventListener("jt:reconnected", refreshAll);

  const tester = document.getElementById("test-signal");
  if (tester) {
    tester.addEventListener("click", async function (event) {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const qtyInput = document.getElementById("test-qty");
      const body = { action: button.dataset.action };
      if (body.action !== "exit" && qtyInput && qtyInput.value) body.quantity = Number(qtyInput.value);
      button.disabled = true;
      try {
        const result = await JT.api(tester.dataset.url, { method: "POST", body: body });
        JT.toast("Test alert #" + result.signal_id + " " + result.status, "success");
        refreshSignal(result.signal_id);
      } catch (err) {
        JT.toast(err.message || String(err), "error");
      } finally {
        button.disabled = false;
      }
    });
  }
})();
