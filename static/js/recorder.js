/* My Recorders and a recorder's detail page: start/stop/flatten/poll, settings, live updates.
 *
 * Live events: "position" (open P&L of a paper position), "recorder" (figures after a trade or
 * a start/stop), "log" (the strategy timeline). After a reconnect the figures are re-fetched.
 */
(function () {
  "use strict";
  const JT = window.JT;
  const list = document.getElementById("recorders");
  const detail = document.getElementById("recorder");

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function badge(running) {
    return running ? el("span", "badge badge-green", "running") : el("span", "badge badge-gray", "stopped");
  }

  function price(x) {
    if (x === null || x === undefined || x === "") return "—";
    return String(Number(x));
  }

  function sparkPoints(equity, width, height) {
    const values = (equity || []).map(Number);
    if (values.length < 2) return "";
    const low = Math.min.apply(null, values);
    const high = Math.max.apply(null, values);
    const span = (high - low) || 1;
    const step = width / (values.length - 1);
    return values.map(function (v, i) {
      const y = (height - 2) - (v - low) / span * (height - 4);
      return (step * i).toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
  }

  function setMoney(node, value) {
    if (!node) return;
    node.textContent = JT.money(value);
    node.classList.remove("pos", "neg");
    const cls = JT.signClass(value);
    if (cls) node.classList.add(cls);
  }

  function scopes(recorderId) {
    if (list) return Array.from(list.querySelectorAll('tr[data-recorder-id="' + recorderId + '"]'));
    if (detail && String(detail.dataset.recorderId) === String(recorderId)) return [document];
    return [];
  }

  function applyStats(scope, stats) {
    if (!stats) return;
    setMoney(scope.querySelector('[data-field="today_pnl"]'), stats.today_pnl);
    setMoney(scope.querySelector('[data-field="total_pnl"]'), stats.total_pnl);
    const trades = scope.querySelector('[data-field="trades"]');
    if (trades) trades.textContent = stats.trades;
    const rate = scope.querySelector('[data-field="win_rate"]');
    if (rate) rate.textContent = stats.win_rate === null || stats.win_rate === undefined ? "—" : stats.win_rate + "%";
    const line = scope.querySelector('[data-field="spark"] polyline, svg[data-field="spark"] polyline');
    if (line) {
      line.setAttribute("points", sparkPoints(stats.equity, 120, 32));
      line.setAttribute("stroke", Number(stats.total_pnl) < 0 ? "#ef4444" : "#22c55e");
    }
  }

  function applyRecorder(data) {
    scopes(data.id).forEach(function (scope) {
      if (data.deleted) {
        if (scope !== document) scope.remove();
        return;
      }
      const status = scope.querySelector('[data-field="status"]');
      if (status) status.replaceChildren(badge(data.running));
      const button = scope.querySelector('[data-action="start"], [data-action="stop"]');
      if (button) {
        button.dataset.action = data.running ? "stop" : "start";
        button.textContent = data.running ? "Stop" : "Start";
      }
      applyStats(scope, data.stats);
    });
  }

  function positionLine(p) {
    return p.side + " " + Math.abs(p.net_pos) + " " + p.symbol + " @ " + price(p.avg_price);
  }

  function applyPosition(p) {
    scopes(p.recorder_id).forEach(function (scope) {
      if (list) {
        const posCell = scope.querySelector('[data-field="position"]');
        const pnlCell = scope.querySelector('[data-field="open_pnl"]');
        let line = posCell.querySelector('[data-symbol="' + p.symbol + '"]');
        let pnl = pnlCell.querySelector('[data-symbol="' + p.symbol + '"]');
        if (!p.net_pos) {
          if (line) line.remove();
          if (pnl) pnl.remove();
          if (!posCell.querySelector("[data-symbol]")) posCell.replaceChildren(el("span", "muted", "flat"));
          if (!pnlCell.querySelector("[data-symbol]")) pnlCell.textContent = "—";
          return;
        }
        if (!line) {
          posCell.querySelectorAll(".muted").forEach(function (n) { n.remove(); });
          line = el("div");
          line.dataset.symbol = p.symbol;
          posCell.appendChild(line);
        }
        if (!pnl) {
          if (!pnlCell.querySelector("[data-symbol]")) pnlCell.textContent = "";
          pnl = el("div");
          pnl.dataset.symbol = p.symbol;
          pnlCell.appendChild(pnl);
        }
        line.textContent = positionLine(p);
        setMoney(pnl, p.open_pnl);
        return;
      }
      const body = document.querySelector("#positions tbody");
      if (!body) return;
      let row = body.querySelector('tr[data-symbol="' + p.symbol + '"]');
      if (!p.net_pos) {
        if (row) row.remove();
        if (!body.querySelector("tr[data-symbol]") && !body.querySelector(".empty-row")) {
          const empty = el("tr", "empty-row");
          const td = el("td", "empty", "Flat.");
          td.colSpan = 7;
          empty.appendChild(td);
          body.appendChild(empty);
        }
        return;
      }
      body.querySelectorAll(".empty-row").forEach(function (n) { n.remove(); });
      if (!row) {
        row = el("tr");
        row.dataset.symbol = p.symbol;
        body.appendChild(row);
      }
      const cells = [
        el("td", "mono", p.symbol), el("td", "", p.side), el("td", "num", String(Math.abs(p.net_pos))),
        el("td", "num", price(p.avg_price)), el("td", "num", price(p.last_price)),
        el("td", "num", ""), el("td", "", JT.fmtTime(p.opened_at)),
      ];
      cells[4].dataset.field = "last_price";
      cells[5].dataset.field = "open_pnl";
      setMoney(cells[5], p.open_pnl);
      row.replaceChildren.apply(row, cells);
    });
  }

  function applyLog(entry) {
    if (!detail || String(entry.strategy_id) !== String(detail.dataset.strategyId)) return;
    const body = document.querySelector("#log tbody");
    if (!body) return;
    body.querySelectorAll(".empty-row").forEach(function (n) { n.remove(); });
    const row = el("tr");
    const kindCls = entry.kind === "error" ? "badge badge-red" : (entry.kind === "filtered" || entry.kind === "drift") ? "badge badge-yellow" : entry.kind === "target" ? "badge badge-green" : "badge badge-gray";
    const msg = el("td", "", entry.message);
    msg.style.whiteSpace = "normal";
    const kindTd = el("td");
    kindTd.appendChild(el("span", kindCls, entry.kind));
    row.append(el("td", "", JT.fmtTime(entry.created_at)), kindTd, msg);
    body.prepend(row);
    while (body.children.length > 100) body.lastElementChild.remove();
  }

  async function refetch() {
    try {
      if (list) {
        const data = await JT.api("/api/recorders/?page_size=500");
        data.results.forEach(function (r) {
          applyRecorder(r);
          r.positions.forEach(function (p) { applyPosition(Object.assign({ recorder_id: r.id }, p)); });
        });
      } else if (detail) {
        const r = await JT.api("/api/recorders/" + detail.dataset.recorderId + "/");
        applyRecorder(r);
        r.positions.forEach(function (p) { applyPosition(Object.assign({ recorder_id: r.id }, p)); });
      }
    } catch (err) {
      JT.toast("Could not refresh the recorders: " + err.message, "error");
    }
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-action][data-id]");
    if (!button || !(list || detail)) return;
    const action = button.dataset.action;
    if (["start", "stop", "flatten", "poll"].indexOf(action) < 0) return;
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const data = await JT.api("/api/recorders/" + button.dataset.id + "/" + action + "/", { method: "POST" });
      applyRecorder(data);
      data.positions.forEach(function (p) { applyPosition(Object.assign({ recorder_id: data.id }, p)); });
      const done = { start: "Recorder started", stop: "Recorder stopped", flatten: "Recorded position flattened", poll: "Account polled" };
      JT.toast(done[action], "success");
      if (detail && (action === "flatten" || action === "poll")) window.location.reload();
    } catch (err) {
      JT.toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  const form = document.getElementById("recorder-settings");
  if (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const body = {
        source: form.elements.source.value,
        broker_account: form.elements.broker_account.value ? Number(form.elements.broker_account.value) : null,
        fill_mode: form.elements.fill_mode.value,
        commission_per_side: form.elements.commission_per_side.value || "0",
        poll_interval_seconds: Number(form.elements.poll_interval_seconds.value || 60),
        symbols: form.elements.symbols.value,
      };
      try {
        await JT.api("/api/recorders/" + form.dataset.id + "/", { method: "PUT", body: body });
        JT.toast("Settings saved", "success");
        window.location.reload();
      } catch (err) {
        const fields = err.data && err.data.extra && err.data.extra.fields;
        const detailText = fields ? " — " + Object.keys(fields).map(function (k) { return k + ": " + fields[k]; }).join("; ") : "";
        JT.toast(err.message + detailText, "error");
      }
    });
  }

  document.addEventListener("jt:event", function (event) {
    const type = event.detail.type;
    const data = event.detail.data || {};
    if (type === "recorder") applyRecorder(data);
    else if (type === "position" && data.source === "recorder") applyPosition(data);
    else if (type === "log") applyLog(data);
  });
  document.addEventListener("jt:reconnected", refetch);
})();
