/* Strategies side by side (/analytics/compare/): one column per strategy, one row per figure. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("analytics-config").textContent);
  const chartBox = document.getElementById("compare-chart");
  const table = document.getElementById("compare-table");
  if (!table) return; // no strategies yet
  const params = new URLSearchParams(window.location.search);
  const state = {
    source: config.source || "recorded",  // the server reads ?source=, old names included
    capital: params.get("capital") || config.capital,
  };
  const chart = new JTA.MultiLineChart(chartBox, document.getElementById("compare-legend"));
  const capitalInput = document.getElementById("an-capital");

  function picked() {
    return Array.prototype.map.call(
      document.querySelectorAll("#compare-pick input:checked"),
      function (i) { return i.value; }
    );
  }

  function sync() {
    document.querySelectorAll("[data-source]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.source === state.source));
    });
    capitalInput.value = state.capital;
    document.getElementById("capital-note").textContent = JT.money(state.capital);
  }

  function render(rows) {
    chart.setData(rows.map(function (r) { return { name: r.strategy, points: r.equity }; }));
    const head = table.tHead;
    const body = table.tBodies[0];
    head.replaceChildren();
    body.replaceChildren();
    const hr = JTA.el("tr");
    hr.appendChild(JTA.el("th", null, "Figure"));
    rows.forEach(function (r) {
      const th = JTA.el("th", { className: "num" });
      th.appendChild(JTA.el("a", { href: "/analytics/strategies/" + r.strategy_id + "/?source=" + state.source }, r.strategy));
      hr.appendChild(th);
    });
    head.appendChild(hr);
    JTA.STAT_ROWS.forEach(function (def) {
      const tr = JTA.el("tr");
      tr.appendChild(JTA.cell(def[0], "muted"));
      rows.forEach(function (r) {
        const td = JTA.cell(def[1](r.statistics), "num");
        const cls = def[2] ? JT.signClass(r.statistics[def[2]]) : "";
        if (cls) td.classList.add(cls);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  async function load() {
    const ids = picked();
    const q = new URLSearchParams({ source: state.source, capital: state.capital });
    if (!ids.length) { render([]); return; }
    q.set("strategies", ids.join(","));
    try {
      const data = await JT.api("/api/analytics/compare/?" + q.toString());
      render(data.results);
    } catch (err) {
      JT.toast(err.message || "Could not load the comparison", "error");
    }
  }

  document.querySelectorAll("[data-source]").forEach(function (b) {
    b.addEventListener("click", function () { state.source = b.dataset.source; sync(); load(); });
  });
  capitalInput.addEventListener("change", function () {
    const v = Number(capitalInput.value);
    if (!(v >= 1)) { JT.toast("The starting capital must be at least $1", "error"); return; }
    state.capital = String(v);
    sync();
    load();
  });
  document.getElementById("compare-pick").addEventListener("change", load);
  let timer = null;
  document.addEventListener("jt:event", function (e) {
    const t = (e.detail || {}).type;
    if (t === "fill" || t === "position" || t === "recorder" || t === "trade") {
      clearTimeout(timer);
      timer = setTimeout(load, 800);
    }
  });
  document.addEventListener("jt:reconnected", load);
  window.JTCompare = { chart: chart, reload: load };
  sync();
  load();
})();
