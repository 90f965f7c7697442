/* My Trader and Control Center: switches, close, Flatten All, manual trades, live P&L and log. */
(function () {
  "use strict";
  const JT = window.JT;
  const traders = {}; // id -> last payload

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function (kv) { node.setAttribute(kv[0], kv[1]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function setMoney(cell, value) {
    if (!cell) return;
    cell.textContent = JT.money(value);
    cell.classList.remove("pos", "neg");
    const cls = JT.signClass(value);
    if (cls) cell.classList.add(cls);
  }

  function positionsText(positions) {
    const parts = Object.entries(positions || {}).map(function (kv) {
      return (kv[1] > 0 ? "+" : "") + kv[1] + " " + kv[0];
    });
    return parts.length ? parts.join(", ") : "flat";
  }

  function statusBadge(t) {
    if (t.drift) return ["badge badge-yellow", "Drift: " + t.drift_message];
    if (t.enabled && !t.active) return ["badge badge-red", "Off today: " + t.disabled_reason];
    if (t.active) return ["badge badge-green", "Trading"];
    return ["badge badge-gray", "Off"];
  }

  function renderTrader(t) {
    // Payloads of one trader come from several processes and may arrive out of order: the page
    // keeps the latest read (a late, older one would undo a flatten on the screen).
    const shown = traders[t.id];
    if (!t.deleted && shown && shown.as_of && t.as_of && t.as_of < shown.as_of) return;
    traders[t.id] = t;
    document.querySelectorAll('tr[data-trader-id="' + t.id + '"]').forEach(function (row) {
      if (t.deleted) { row.remove(); return; }
      const pos = row.querySelector('[data-field="positions"]');
      if (pos) pos.textContent = positionsText(t.positions);
      setMoney(row.querySelector('[data-field="open_pnl"]'), t.open_pnl);
      setMoney(row.querySelector('[data-field="today_pnl"]'), t.today_pnl);
      const last = row.querySelector('[data-field="last_signal_at"]');
      if (last && t.last_signal_at) {
        last.replaceChildren(JT.timeElement(t.last_signal_at));
      }
      const status = row.querySelector('[data-field="status"]');
      if (status) {
        const b = statusBadge(t);
        status.replaceChildren(el("span", { class: b[0] }, b[1]));
      }
      const toggle = row.querySelector('[data-action="toggle"]');
      if (toggle) {
        toggle.textContent = t.enabled ? "On" : "Off";
        toggle.classList.toggle("btn-primary", t.enabled);
      }
    });
  }

  function renderTotals(totals) {
    if (!totals || !document.getElementById("total-open")) return;
    setMoney(document.getElementById("total-open"), totals.open_pnl);
    setMoney(document.getElementById("total-today"), totals.today_pnl);
    document.getElementById("total-enabled").textContent = totals.enabled_traders;
    document.getElementById("total-drift").textContent = totals.drifting_traders;
  }

  // Every figure arrives worked out by the server (traders/pnl.py); the totals only add them
  // up: open P&L over the open positions, today's P&L over the accounts (each once).
  function sumCents(values) {
    return values.reduce(function (total, v) { return total + Math.round(Number(v || 0) * 100); }, 0) / 100;
  }

  function recomputeTotals() {
    const seen = {};
    const todays = [];
    let enabled = 0, drift = 0;
    Object.values(traders).forEach(function (t) {
      if (t.deleted) return;
      if (t.enabled) enabled += 1;
      if (t.drift) drift += 1;
      if (seen[t.broker_account.id]) return;
      seen[t.broker_account.id] = true;
      todays.push(t.today_pnl);
    });
    const open = Object.values(positions).filter(function (p) { return p.net_pos !== 0; })
      .map(function (p) { return p.open_pnl; });
    renderTotals({ open_pnl: sumCents(open), today_pnl: sumCents(todays), enabled_traders: enabled, drifting_traders: drift });
  }

  // --- positions ----------------------------------------------------------------------------------
  const positions = {};
  function renderPositions() {
    const table = document.getElementById("cc-positions");
    if (!table) return;
    const body = table.querySelector("tbody");
    const open = Object.values(positions).filter(function (p) { return p.net_pos !== 0; });
    if (!open.length) {
      body.replaceChildren(el("tr", {}, null));
      body.firstChild.appendChild(el("td", { colspan: "5", class: "empty" }, "No open position."));
      return;
    }
    body.replaceChildren.apply(body, open.map(function (p) {
      const row = el("tr");
      row.appendChild(el("td", {}, p.account || "—"));
      row.appendChild(el("td", {}, p.symbol));
      row.appendChild(el("td", {}, (p.net_pos > 0 ? "+" : "") + p.net_pos));
      const price = p.net_price === null || p.net_price === undefined ? NaN : Number(p.net_price);
      row.appendChild(el("td", {}, Number.isFinite(price) ? String(price) : "—"));
      const pnl = el("td");
      setMoney(pnl, p.open_pnl);
      row.appendChild(pnl);
      return row;
    }));
  }

  // --- log -----------------------------------------------------------------------------------------
  let logNext = null;
  function logFilters() {
    const form = document.getElementById("log-filters");
    const params = new URLSearchParams();
    if (!form) return params;
    new FormData(form).forEach(function (value, key) { if (value) params.set(key, value); });
    return params;
  }

  function logRow(line) {
    const row = el("tr", { "data-log-id": line.id });
    row.appendChild(el("td", {}, JT.fmtTime(line.created_at)));
    const kind = line.kind === "error" || line.kind === "risk" ? "badge badge-red"
      : line.kind === "drift" ? "badge badge-yellow"
        : line.kind === "entry" || line.kind === "target" ? "badge badge-green" : "badge badge-gray";
    const k = el("td");
    k.appendChild(el("span", { class: kind }, line.kind));
    row.appendChild(k);
    row.appendChild(el("td", {}, line.strategy || (line.strategy_id && strategyName(line.strategy_id)) || "—"));
    row.appendChild(el("td", {}, line.account || (line.data && line.data.account) || "—"));
    row.appendChild(el("td", {}, line.message));
    return row;
  }

  // A live line carries the strategy's id: its name from a trader of it, or from the log's
  // strategy filter (which lists every strategy), so a live row reads as it does after a reload.
  function strategyName(id) {
    const t = Object.values(traders).find(function (x) { return x.strategy && x.strategy.id === id; });
    if (t) return t.strategy.name;
    const option = document.querySelector('#lf-strategy option[value="' + id + '"]');
    return option ? option.textContent : "";
  }

  async function loadLog(append) {
    const table = document.getElementById("cc-log");
    if (!table) return;
    const body = table.querySelector("tbody");
    const url = append && logNext ? logNext : "/api/control-center/log/?" + logFilters().toString();
    try {
      const page = await JT.api(url);
      const rows = page.results.map(logRow);
      if (!append) body.replaceChildren();
      rows.forEach(function (r) { body.appendChild(r); });
      if (!body.children.length) {
        body.appendChild(el("tr")).appendChild(el("td", { colspan: "5", class: "empty" }, "Nothing logged for these filters."));
      }
      logNext = page.next;
      document.getElementById("log-more-bar").hidden = !logNext;
    } catch (err) {
      JT.toast("Log: " + err.message, "error");
    }
  }

  function logMatches(line) {
    const f = logFilters();
    if (f.get("strategy") && String(line.strategy_id) !== f.get("strategy")) return false;
    if (f.get("kind") && line.kind !== f.get("kind")) return false;
    if (f.get("account")) {
      const t = traders[line.trader_id];
      if (!t || String(t.broker_account.id) !== f.get("account")) return false;
    }
    if (f.get("date_to") && line.created_at.slice(0, 10) > f.get("date_to")) return false;
    return true;
  }

  // --- loading ------------------------------------------------------------------------------------
  async function loadControlCenter() {
    if (!document.getElementById("cc-traders")) return;
    try {
      const data = await JT.api("/api/control-center/");
      data.traders.forEach(renderTrader);
      renderTotals(data.totals);
      // The open positions as read at data.as_of; a live event read later stays.
      Object.keys(positions).forEach(function (k) {
        if (!(positions[k].as_of > data.as_of)) delete positions[k];
      });
      data.positions.forEach(function (p) {
        const key = p.broker_account_id + ":" + p.symbol;
        if (!positions[key]) positions[key] = Object.assign({}, p, { as_of: data.as_of });
      });
      renderPositions();
    } catch (err) {
      JT.toast("Control center: " + err.message, "error");
    }
  }

  async function loadTraders() {
    if (!document.getElementById("traders-table")) return;
    try {
      const page = await JT.api("/api/traders/?page_size=500");
      page.results.forEach(renderTrader);
    } catch (err) {
      JT.toast(err.message, "error");
    }
  }

  function reloadAll() {
    loadTraders();
    loadControlCenter();
    loadLog(false);
  }

  // --- actions -----------------------------------------------------------------------------------
  function newRequestId() {
    const bytes = new Uint8Array(10);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // Switching off a trader that holds a position or working orders asks what becomes of them:
  // close them at the broker, or keep them (entries stop; exits and auto-flatten still run).
  function askIfHolding(held) {
    if (window.confirm("This trader holds " + held + ".\n\nOK: close it at the broker and switch the trader off.\nCancel: more choices.")) {
      return "flatten";
    }
    if (window.confirm("Switch the trader off and keep " + held + "?\nEntries stop; its exits and auto-flatten still run.\n\nCancel: leave the trader on.")) {
      return "keep";
    }
    return null;
  }

  async function toggleTrader(id) {
    const url = "/api/traders/" + id + "/toggle/";
    const shown = traders[id];
    const open = Object.fromEntries(Object.entries((shown && shown.positions) || {}).filter(function (kv) { return kv[1] !== 0; }));
    const held = shown && shown.enabled ? positionsText(open) : "flat";
    if (held !== "flat") {
      const choice = askIfHolding(held);
      if (!choice) return null;
      return JT.api(url, { method: "POST", body: { enabled: false, if_holding: choice } });
    }
    try {
      return await JT.api(url, { method: "POST", body: {} });
    } catch (err) {
      // Held without the page knowing it yet (working orders, a fill a moment ago): the
      // server says what, and the same question follows.
      if (err.status !== 409 || !err.data || !err.data.extra || err.data.extra.code !== "holds_position") throw err;
      const choice = askIfHolding(err.data.extra.holding.join("; "));
      if (!choice) return null;
      return JT.api(url, { method: "POST", body: { enabled: false, if_holding: choice } });
    }
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-action], [data-manual], #flatten-all, #log-more");
    if (!button) return;
    if (button.id === "log-more") { loadLog(true); return; }
    button.disabled = true;
    try {
      if (button.dataset.action === "toggle") {
        const t = await toggleTrader(button.dataset.id);
        if (!t) return;
        renderTrader(t);
        recomputeTotals();
        JT.toast("Trader " + (t.enabled ? "on" : "off"), "success");
      } else if (button.dataset.action === "close") {
        if (!window.confirm("Close this trader's position and cancel its working orders?")) return;
        const r = await JT.api("/api/control-center/traders/" + button.dataset.id + "/close/", { method: "POST", body: {} });
        renderTrader(r.trader);
        JT.toast(r.closed.length ? "Closed " + r.closed.join(", ") : "Nothing was open", "success");
      } else if (button.id === "flatten-all") {
        if (!window.confirm("Flatten All: cancel every working order and close every position on all your accounts?")) return;
        const disable = document.getElementById("flatten-disable").checked;
        const r = await JT.api("/api/control-center/flatten-all/", { method: "POST", body: { confirm: true, disable_traders: disable } });
        if (r.errors.length) {
          JT.toast("Flatten All failed on " + r.errors.map(function (e) { return e.account + ": " + e.error; }).join("; "), "error", 12000);
        } else {
          JT.toast("Everything flat on " + r.flattened.length + " account(s)", "success");
        }
        loadControlCenter();
      } else if (button.dataset.manual) {
        const form = document.getElementById("manual-form");
        const data = Object.fromEntries(new FormData(form).entries());
        const body = { action: button.dataset.manual, quantity: Number(data.quantity || 1), request_id: newRequestId() };
        if (data.strategy_id) body.strategy_id = Number(data.strategy_id);
        else { body.symbol = data.symbol; body.broker_account_id = data.broker_account_id ? Number(data.broker_account_id) : null; }
        if (button.dataset.manual === "close" && !window.confirm("Close the position?")) return;
        let r;
        try {
          r = await JT.api("/api/control-center/manual-trade/", { method: "POST", body: body });
        } catch (err) {
          if (err.status === 400) { JT.toast(JT.fieldErrors(form, err), "error", 10000); return; }
          throw err;
        }
        JT.fieldErrors(form, null);
        const failed = r.results.filter(function (x) { return x.status === "failed"; });
        if (failed.length) JT.toast(failed.map(function (x) { return x.error; }).join("; "), "error", 10000);
        else JT.toast(button.dataset.manual + " sent", "success");
      }
    } catch (err) {
      JT.toast(err.message, "error", 10000);
    } finally {
      button.disabled = false;
    }
  });

  const filters = document.getElementById("log-filters");
  if (filters) filters.addEventListener("change", function () { loadLog(false); });

  // --- live ----------------------------------------------------------------------------------------
  document.addEventListener("jt:event", function (event) {
    const type = event.detail.type, data = event.detail.data;
    if (type === "trader") {
      renderTrader(data);
      recomputeTotals();
    } else if (type === "position") {
      // Paper track-record positions of the recorders (source "recorder") are shown on the
      // recorder pages; this table holds what the broker accounts really hold.
      if (data.source === "recorder" || data.broker_account_id === undefined) return;
      const key = data.broker_account_id + ":" + data.symbol;
      const shown = positions[key];
      if (shown && shown.as_of && data.as_of && data.as_of < shown.as_of) return;  // an older read
      positions[key] = data;
      renderPositions();
      if (document.getElementById("total-open")) recomputeTotals();
    } else if (type === "log") {
      const table = document.getElementById("cc-log");
      if (!table || !logMatches(data)) return;
      const body = table.querySelector("tbody");
      const empty = body.querySelector(".empty");
      if (empty) empty.parentNode.remove();
      body.insertBefore(logRow(data), body.firstChild);
      while (body.children.length > 200) body.lastChild.remove();
    }
  });
  document.addEventListener("jt:reconnected", reloadAll);

  const initial = document.getElementById("traders-data");
  if (initial) JSON.parse(initial.textContent).forEach(renderTrader);
  loadControlCenter();
  loadLog(false);
})();
