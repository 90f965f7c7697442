/* The dashboard (/) and one strategy's analytics page (/analytics/strategies/<id>/).
   Everything shown comes from the dashboard/analytics API; live events trigger a re-fetch. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("analytics-config").textContent);
  const isStrategy = config.page === "strategy";
  const params = new URLSearchParams(window.location.search);
  const state = {
    source: config.source || "recorded",  // the server reads ?source=, old names included
    start: params.get("start") || "",
    end: params.get("end") || "",
    capital: params.get("capital") || config.capital,
    range: params.get("start") || params.get("end") ? "custom" : "all",
    page: 1,
    filters: { strategy: "", account: "", symbol: "", side: "" },
  };

  const $ = function (sel) { return document.querySelector(sel); };
  const equityChart = new JTA.EquityChart($("#equity-chart"));
  const dailyChart = new JTA.DailyChart($("#daily-chart"));
  const calendar = new JTA.Calendar($("#calendar-card"));
  let loading = false;
  let dirty = false;
  let refreshTimer = null;

  function query(extra) {
    const q = new URLSearchParams();
    q.set("source", state.source);
    if (state.start) q.set("start", state.start);
    if (state.end) q.set("end", state.end);
    if (state.capital) q.set("capital", state.capital);
    Object.keys(extra || {}).forEach(function (k) {
      if (extra[k] !== "" && extra[k] !== null && extra[k] !== undefined) q.set(k, extra[k]);
    });
    return q.toString();
  }

  function syncControls() {
    document.querySelectorAll("[data-source]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.source === state.source));
    });
    document.querySelectorAll("[data-range]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.range === state.range));
    });
    $("#an-start").value = state.start;
    $("#an-end").value = state.end;
    $("#an-capital").value = state.capital;
    const url = new URL(window.location.href);
    url.search = query();
    window.history.replaceState(null, "", url);
  }

  function setText(selector, text, signValue) {
    const node = document.querySelector(selector);
    if (!node) return;
    node.textContent = text;
    node.classList.remove("pos", "neg");
    if (signValue !== undefined) {
      const cls = JT.signClass(signValue);
      if (cls) node.classList.add(cls);
    }
  }

  function trades(n) { return n === undefined || n === null ? "" : n + (n === 1 ? " trade" : " trades"); }

  function renderSummary(summary, stats) {
    if (!isStrategy && summary) {
      // Before the first closed trade the P&L cards say so, rather than show $0.00.
      const none = !summary.trades;
      ["today", "week", "month"].forEach(function (k) {
        setText('[data-stat="' + k + '_pnl"]', none ? "—" : JTA.signed(summary[k + "_pnl"]), summary[k + "_pnl"]);
        setText('[data-sub="' + k + '_trades"]', none ? "" : trades(summary[k + "_trades"]));
      });
      setText('[data-stat="all_time_pnl"]', none ? "—" : JTA.signed(summary.all_time_pnl), summary.all_time_pnl);
      setText('[data-sub="trades"]', none ? "no closed trade yet" : trades(summary.trades));
      const flat = !summary.open_positions;
      setText('[data-stat="open_pnl"]', flat ? "—" : JTA.signed(summary.open_pnl), summary.open_pnl);
      setText('[data-sub="open_positions"]', flat ? "flat" : summary.open_positions + " open");
    }
    const s = isStrategy ? stats : summary;
    if (isStrategy) {
      setText('[data-stat="net_pnl"]', JTA.signed(stats.net_pnl), stats.net_pnl);
      setText('[data-sub="trades"]', trades(stats.trades));
    }
    setText('[data-stat="win_rate"]', JTA.pct(s.win_rate));
    setText('[data-stat="profit_factor"]', JTA.profitFactor(s.profit_factor, s.gross_profit));
    const drawdownText = !s.trades ? "—" : JTA.num(s.max_drawdown) ? "−" + JT.money(s.max_drawdown) : JT.money(0);
    setText('[data-stat="max_drawdown"]', drawdownText, JTA.num(s.max_drawdown) ? -1 : 0);
    setText('[data-sub="max_drawdown_percent"]', s.max_drawdown_percent === null ? "" : JTA.pct(s.max_drawdown_percent, 2) + " of peak equity");
  }

  function renderPositions(positions) {
    const table = $("#positions-table");
    if (!table) return;
    const body = table.tBodies[0];
    body.replaceChildren();
    if (!positions.length) {
      const tr = JTA.el("tr");
      const td = JTA.cell("Flat: no open positions", "empty");
      td.colSpan = 6;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    positions.forEach(function (p) {
      const tr = JTA.el("tr", { "data-position": p.source + "-" + p.id });
      tr.appendChild(JTA.cell(p.strategy || p.account));
      tr.appendChild(JTA.cell(p.symbol));
      const side = JTA.cell("");
      side.appendChild(JTA.el("span", { className: "badge " + (p.side === "long" ? "badge-green" : "badge-red") }, p.side));
      tr.appendChild(side);
      tr.appendChild(JTA.cell(String(Math.abs(p.net_pos)), "num"));
      tr.appendChild(JTA.cell(p.avg_price, "num"));
      tr.appendChild(p.open_pnl === null ? JTA.cell("—", "num muted") : JTA.moneyCell(p.open_pnl));
      body.appendChild(tr);
    });
  }

  function fillSelect(select, options, current) {
    if (!select) return;
    const first = select.options[0];
    select.replaceChildren(first);
    options.forEach(function (o) {
      const opt = JTA.el("option", { value: String(o.value) }, o.label);
      select.appendChild(opt);
    });
    select.value = current;
    if (select.value !== current) select.value = "";
  }

  function renderFilters(choices) {
    if (!choices) return;
    fillSelect($("#f-strategy"), choices.strategies.map(function (s) { return { value: s.id, label: s.name }; }), state.filters.strategy);
    fillSelect($("#f-account"), choices.accounts.map(function (a) { return { value: a.id, label: a.name }; }), state.filters.account);
    fillSelect($("#f-symbol"), choices.symbols.map(function (s) { return { value: s, label: s }; }), state.filters.symbol);
  }

  function renderMonths(months) {
    const table = $("#by-month");
    if (!table) return;
    const body = table.tBodies[0];
    body.replaceChildren();
    months.slice().reverse().forEach(function (m) {
      const tr = JTA.el("tr");
      tr.appendChild(JTA.cell(m.date.slice(0, 7)));
      tr.appendChild(JTA.cell(String(m.trades), "num"));
      tr.appendChild(JTA.cell(String(m.wins), "num"));
      tr.appendChild(JTA.moneyCell(m.pnl));
      body.appendChild(tr);
    });
  }

  function render(data) {
    const stats = data.statistics;
    renderSummary(data.summary, stats);
    equityChart.setData(data.charts);
    dailyChart.setData(data.charts);
    calendar.setData(data.charts.calendar, JTA.isoDay(new Date()));
    JTA.statsTable($("#stats-table"), stats);
    $("#capital-note").textContent = JT.money(stats.starting_capital);
    const tzNote = $("#tz-note");  // beside the daily chart, absent without the chart library
    if (tzNote) tzNote.textContent = "Days in " + data.charts.timezone;
    $("#stats-range").textContent = stats.trades
      ? (stats.first_trade_at || "").slice(0, 10) + " → " + (stats.last_trade_at || "").slice(0, 10)
      : "";
    if ($("#by-strategy")) {
      JTA.groupTable($("#by-strategy"), data.by_strategy, function (g) {
        return g.key ? "/analytics/strategies/" + g.key + "/?source=" + state.source : null;
      });
    }
    if ($("#by-symbol")) JTA.groupTable($("#by-symbol"), data.by_symbol);
    if (data.positions) renderPositions(data.positions);
    renderFilters(data.filters);
    if (data.monthly) renderMonths(data.monthly);
  }

  async function loadAll() {
    if (loading) { dirty = true; return; }
    loading = true;
    try {
      const url = isStrategy
        ? "/api/analytics/strategy/" + config.strategy.id + "/?" + query()
        : "/api/analytics/dashboard/?" + query();
      const data = await JT.api(url);
      if (isStrategy) data.summary = null;
      render(data);
      await loadHistory();
    } catch (err) {
      JT.toast(err.message || "Could not load the dashboard", "error");
    } finally {
      loading = false;
      if (dirty) { dirty = false; scheduleRefresh(); }
    }
  }

  function historyQuery(extra) {
    const f = Object.assign({}, state.filters, extra || {});
    if (isStrategy) f.strategy = config.strategy.id;
    return query(f);
  }

  async function loadHistory() {
    const data = await JT.api("/api/dashboard/trade-history/?" + historyQuery({ page: state.page }));
    const body = $("#history-table").tBodies[0];
    body.replaceChildren();
    if (!data.results.length) {
      const tr = JTA.el("tr");
      const td = JTA.cell("No trades match these filters.", "empty");
      td.colSpan = 13;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    data.results.forEach(function (t) {
      const tr = JTA.el("tr", { "data-trade": t.id });
      tr.appendChild(JTA.cell(JT.fmtTime(t.exit_time)));
      tr.appendChild(JTA.cell(t.strategy));
      tr.appendChild(JTA.cell(t.account));
      tr.appendChild(JTA.cell(t.symbol));
      const side = JTA.cell("");
      side.appendChild(JTA.el("span", { className: "badge " + (t.side === "long" ? "badge-green" : "badge-red") }, t.side));
      tr.appendChild(side);
      tr.appendChild(JTA.cell(String(t.quantity), "num"));
      tr.appendChild(JTA.cell(t.entry_price, "num"));
      tr.appendChild(JTA.cell(t.exit_price, "num"));
      tr.appendChild(JTA.cell(t.points, "num"));
      tr.appendChild(JTA.cell(JT.money(t.commission), "num muted"));
      tr.appendChild(JTA.moneyCell(t.net_pnl));
      tr.appendChild(JTA.cell(t.exit_reason.replace("_", " ")));
      tr.appendChild(JTA.cell(JTA.duration(t.duration_seconds), "num"));
      body.appendChild(tr);
    });
    const pageSize = 50;
    const pages = Math.max(1, Math.ceil(data.count / pageSize));
    $("#history-count").textContent = data.count + (data.count === 1 ? " trade" : " trades");
    $("#page-label").textContent = "Page " + state.page + " of " + pages;
    $("#page-prev").disabled = !data.previous;
    $("#page-next").disabled = !data.next;
    $("#csv-link").href = "/api/dashboard/trade-history/?" + historyQuery({ format: "csv" });
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(loadAll, 400);
  }

  function setRange(range) {
    state.range = range;
    const today = new Date();
    if (range === "all") { state.start = ""; state.end = ""; }
    else if (range === "ytd") { state.start = JT.localDay(today).slice(0, 4) + "-01-01"; state.end = ""; }
    else {
      const from = new Date(today.getTime() - (Number(range) - 1) * 86400000);
      state.start = JTA.isoDay(from);
      state.end = "";
    }
  }

  // Controls
  document.querySelectorAll("[data-source]").forEach(function (b) {
    b.addEventListener("click", function () {
      state.source = b.dataset.source;
      state.page = 1;
      state.filters.account = "";
      syncControls();
      loadAll();
    });
  });
  document.querySelectorAll("[data-range]").forEach(function (b) {
    b.addEventListener("click", function () {
      setRange(b.dataset.range);
      state.page = 1;
      syncControls();
      loadAll();
    });
  });
  ["#an-start", "#an-end"].forEach(function (sel) {
    $(sel).addEventListener("change", function () {
      state.start = $("#an-start").value;
      state.end = $("#an-end").value;
      state.range = "custom";
      state.page = 1;
      syncControls();
      loadAll();
    });
  });
  $("#an-capital").addEventListener("change", function () {
    const v = Number($("#an-capital").value);
    if (!(v >= 1)) { JT.toast("The starting capital must be at least $1", "error"); return; }
    state.capital = String(v);
    syncControls();
    loadAll();
  });
  [["#f-strategy", "strategy"], ["#f-account", "account"], ["#f-symbol", "symbol"], ["#f-side", "side"]].forEach(function (pair) {
    const node = $(pair[0]);
    if (!node) return;
    if (isStrategy && pair[1] === "strategy") { node.hidden = true; return; }
    node.addEventListener("change", function () {
      state.filters[pair[1]] = node.value;
      state.page = 1;
      loadHistory().catch(function (err) { JT.toast(err.message, "error"); });
    });
  });
  $("#page-prev").addEventListener("click", function () {
    if (state.page > 1) { state.page -= 1; loadHistory().catch(function (err) { JT.toast(err.message, "error"); }); }
  });
  $("#page-next").addEventListener("click", function () {
    state.page += 1;
    loadHistory().catch(function (err) { state.page -= 1; JT.toast(err.message, "error"); });
  });

  // The first-steps checklist ticks off live: an alert, a trader switched on, an account found.
  const STEP_TYPES = ["signal", "trader", "strategy", "account"];
  async function refreshFirstSteps() {
    const list = $("#first-steps");
    if (!list) return;
    const data = await JT.api("/api/dashboard/first-steps/");
    if (data.done) { list.remove(); return; }
    data.results.forEach(function (step, i) {
      const li = list.querySelector('[data-step="' + step.key + '"]');
      if (!li || (li.dataset.done === "1") === step.done) return;
      li.dataset.done = step.done ? "1" : "0";
      li.classList.toggle("done", step.done);
      li.querySelector(".check-mark").textContent = step.done ? "✓" : String(i + 1);
      const action = step.done
        ? JTA.el("span", { className: "muted" }, "done")
        : JTA.el("a", { className: "btn btn-sm", href: step.href }, step.action);
      li.lastElementChild.replaceWith(action);
    });
  }
  document.addEventListener("jt:event", function (event) {
    const detail = event.detail || {};
    if (STEP_TYPES.indexOf(detail.type) !== -1) refreshFirstSteps().catch(function () { /* the next event or a reload */ });
  });

  // Live: anything that can move a number re-fetches (debounced; the server caches the figures).
  const LIVE_TYPES = ["fill", "position", "recorder", "trade", "order", "log", "account"];
  document.addEventListener("jt:event", function (event) {
    const detail = event.detail || {};
    if (LIVE_TYPES.indexOf(detail.type) !== -1) scheduleRefresh();
  });
  document.addEventListener("jt:reconnected", scheduleRefresh);

  window.JTDashboard = {
    state: state,
    refresh: loadAll,
    charts: { equity: equityChart, daily: dailyChart },
  };
  syncControls();
  loadAll();
})();
