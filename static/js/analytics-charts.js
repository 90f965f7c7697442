/* Shared drawing for the dashboard and analytics pages: charts, calendar, tables, formats.
   Charts use TradingView's lightweight-charts (static/vendor/, installed by the set-up from npm).
   Without it (or without a chart box on the page) a chart is a stand-in that draws nothing, so
   the numbers, tables and calendar still fill in. */
(function () {
  "use strict";

  const LWC = window.LightweightCharts;
  const GREEN = "#22c55e";
  const RED = "#ef4444";
  const BLUE = "#3b82f6";
  const PALETTE = ["#3b82f6", "#22c55e", "#eab308", "#a855f7", "#f97316", "#06b6d4", "#ec4899", "#84cc16"];

  function num(x) { return x === null || x === undefined || x === "" ? null : Number(x); }
  function money(x) { return JT.money(x); }
  function signed(x) {
    const n = num(x);
    if (n === null) return "—";
    return (n > 0 ? "+" : "") + JT.money(n);
  }
  function pct(x, digits) {
    const n = num(x);
    if (n === null || !Number.isFinite(n)) return "—";
    const text = (n * 100).toFixed(digits === undefined ? 1 : digits);
    return (Number(text) === 0 ? text.replace("-", "") : text) + "%"; // no "-0.00%"
  }
  function ratio(x) {
    const n = num(x);
    return n === null ? "—" : n.toFixed(2);
  }
  function profitFactor(pf, grossProfit) {
    if (pf !== null && pf !== undefined) return ratio(pf);
    return num(grossProfit) > 0 ? "∞" : "—";
  }
  function duration(seconds) {
    const s = num(seconds);
    if (s === null) return "—";
    if (s < 60) return Math.round(s) + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + Math.round(s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.round((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.round((s % 86400) / 3600) + "h";
  }
  function dateOnly(iso) { return iso ? String(iso).slice(0, 10) : "—"; }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "className") node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function cell(text, cls) { return el("td", cls ? { className: cls } : null, text); }
  function moneyCell(x) {
    const td = cell(signed(x), "num " + JT.signClass(x));
    return td;
  }

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  // A chart time ("2025-01-09", a business day, or unix seconds) as [year, month, day].
  function dayParts(time) {
    if (typeof time === "string") return time.split("-").map(Number);
    if (typeof time === "number") {
      const d = new Date(time * 1000);
      return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    }
    return [time.year, time.month, time.day];
  }
  function dayTick(time) {
    const p = dayParts(time);
    return MONTHS[p[1] - 1] + " " + p[2];
  }
  function dayText(time) {
    const p = dayParts(time);
    return p[0] + "-" + String(p[1]).padStart(2, "0") + "-" + String(p[2]).padStart(2, "0");
  }
  function dayBefore(isoDay) {
    const p = isoDay.split("-").map(Number);
    return new Date(Date.UTC(p[0], p[1] - 1, p[2] - 1)).toISOString().slice(0, 10);
  }

  // A price axis at least `minimumSpan` dollars tall, so that one day of trades is not drawn
  // as a cliff across cents ($50,019.94–$50,020.06).
  function atLeastSpan(minimumSpan) {
    return function (original) {
      const res = original();
      if (res === null || !res.priceRange) return res;
      const range = res.priceRange;
      const missing = minimumSpan - (range.maxValue - range.minValue);
      if (missing > 0) {
        range.minValue -= missing / 2;
        range.maxValue += missing / 2;
      }
      return res;
    };
  }
  function equitySpan(value) { return Math.max(Math.abs(value) * 0.01, 100); }

  function chartOptions(container) {
    return {
      autoSize: true,
      layout: {
        background: { type: "solid", color: "transparent" },
        textColor: "#8b97b0",
        fontFamily: getComputedStyle(document.body).fontFamily,
        attributionLogo: true,
      },
      grid: { vertLines: { color: "rgba(34,48,77,.5)" }, horzLines: { color: "rgba(34,48,77,.5)" } },
      rightPriceScale: { borderColor: "#22304d" },
      // Days read as "Jan 9" on the axis and "2025-01-09" under the crosshair, however few.
      timeScale: { borderColor: "#22304d", timeVisible: false, tickMarkFormatter: dayTick },
      crosshair: { mode: 0 },
      localization: { priceFormatter: function (p) { return JT.money(p); }, timeFormatter: dayText },
      height: container.clientHeight || 300,
    };
  }

  function points(rows) {
    return (rows || []).map(function (r) { return { time: r.time, value: Number(r.value) }; });
  }

  function setEmpty(container, empty, message) {
    let box = container.querySelector(".empty");
    if (empty && !box) {
      box = el("div", { className: "empty" }, message || "No trades in this range yet.");
      container.appendChild(box);
    } else if (!empty && box) {
      box.remove();
    }
  }

  /* What a chart is when there is nothing to draw it with (or on). */
  function NoChart() {}
  NoChart.prototype.setData = function () {};
  NoChart.prototype.pointCount = function () { return 0; };
  NoChart.prototype.axisRange = function () { return null; };
  const drawable = function (container) { return Boolean(LWC && container); };

  /* Equity curve (pane 0) with its drawdown underneath (pane 1). */
  function EquityChart(container) {
    if (!drawable(container)) return new NoChart();
    this.container = container;
    this.chart = LWC.createChart(container, chartOptions(container));
    this.equity = this.chart.addSeries(LWC.AreaSeries, {
      lineColor: BLUE, topColor: "rgba(59,130,246,.35)", bottomColor: "rgba(59,130,246,.02)",
      lineWidth: 2, title: "Equity",
    }, 0);
    this.drawdown = this.chart.addSeries(LWC.AreaSeries, {
      lineColor: RED, topColor: "rgba(239,68,68,.05)", bottomColor: "rgba(239,68,68,.4)",
      lineWidth: 1, title: "Drawdown", invertFilledArea: true,
    }, 1);
    const panes = this.chart.panes();
    if (panes[1] && panes[1].setStretchFactor) {
      panes[0].setStretchFactor(3);
      panes[1].setStretchFactor(1);
    }
  }
  EquityChart.prototype.setData = function (charts) {
    const eq = points(charts.equity);
    const drawdown = points(charts.drawdown);
    const capital = num(charts.starting_capital);
    if (eq.length && capital !== null) {
      // The curve starts from the starting capital the day before the first trade day.
      const start = dayBefore(eq[0].time);
      eq.unshift({ time: start, value: capital });
      drawdown.unshift({ time: start, value: 0 });
    }
    const span = equitySpan(capital === null ? (eq.length ? eq[0].value : 0) : capital);
    this.equity.applyOptions({ autoscaleInfoProvider: atLeastSpan(span) });
    this.equity.setData(eq);
    this.drawdown.setData(drawdown);
    setEmpty(this.container, eq.length === 0);
    if (eq.length) this.chart.timeScale().fitContent();
  };
  EquityChart.prototype.pointCount = function () { return this.equity.data().length; };
  // What the price axis spans, in dollars: {from, to}.
  EquityChart.prototype.axisRange = function () { return this.equity.priceScale().getVisibleRange(); };

  /* Daily P&L bars, green up, red down. */
  function DailyChart(container) {
    if (!drawable(container)) return new NoChart();
    this.container = container;
    this.chart = LWC.createChart(container, chartOptions(container));
    this.bars = this.chart.addSeries(LWC.HistogramSeries, {
      title: "Daily P&L", base: 0, autoscaleInfoProvider: atLeastSpan(100),
    });
  }
  DailyChart.prototype.setData = function (charts) {
    const data = (charts.daily_pnl || []).map(function (r) {
      const v = Number(r.value);
      return { time: r.time, value: v, color: v >= 0 ? GREEN : RED };
    });
    this.bars.setData(data);
    setEmpty(this.container, data.length === 0);
    if (data.length) this.chart.timeScale().fitContent();
  };
  DailyChart.prototype.pointCount = function () { return this.bars.data().length; };
  DailyChart.prototype.axisRange = function () { return this.bars.priceScale().getVisibleRange(); };

  /* Several cumulative-P&L lines on one chart (strategy comparison). */
  function MultiLineChart(container, legend) {
    if (!drawable(container)) return new NoChart();
    this.container = container;
    this.legend = legend;
    this.chart = LWC.createChart(container, chartOptions(container));
    this.series = [];
  }
  MultiLineChart.prototype.setData = function (lines) {
    const chart = this.chart;
    this.series.forEach(function (s) { chart.removeSeries(s); });
    this.series = [];
    if (this.legend) this.legend.replaceChildren();
    let total = 0;
    lines.forEach(function (line, i) {
      const color = PALETTE[i % PALETTE.length];
      const series = chart.addSeries(LWC.LineSeries, {
        color: color, lineWidth: 2, title: line.name, autoscaleInfoProvider: atLeastSpan(100),
      });
      const data = points(line.points);
      total += data.length;
      series.setData(data);
      this.series.push(series);
      if (this.legend) {
        const item = el("span", null, line.name);
        const swatch = el("i");
        swatch.style.background = color;
        item.prepend(swatch);
        this.legend.appendChild(item);
      }
    }, this);
    setEmpty(this.container, total === 0);
    if (total) chart.timeScale().fitContent();
  };
  MultiLineChart.prototype.pointCount = function () {
    return this.series.reduce(function (n, s) { return n + s.data().length; }, 0);
  };

  /* A month grid of daily P&L; arrows move between months that have trades. */
  function Calendar(root) {
    this.grid = root.querySelector("#cal-grid");
    this.title = root.querySelector("#cal-title");
    this.total = root.querySelector("#cal-total");
    this.byDay = {};
    this.month = null;
    const self = this;
    root.querySelector("#cal-prev").addEventListener("click", function () { self.shift(-1); });
    root.querySelector("#cal-next").addEventListener("click", function () { self.shift(1); });
  }
  Calendar.prototype.setData = function (days, today) {
    const byDay = {};
    (days || []).forEach(function (d) { byDay[d.date] = d; });
    this.byDay = byDay;
    const last = days && days.length ? days[days.length - 1].date : today;
    if (!this.month || !this.keepMonth) this.month = last.slice(0, 7);
    this.keepMonth = false;
    this.render();
  };
  Calendar.prototype.shift = function (delta) {
    const parts = this.month.split("-").map(Number);
    const d = new Date(Date.UTC(parts[0], parts[1] - 1 + delta, 1));
    this.month = d.toISOString().slice(0, 7);
    this.keepMonth = true;
    this.render();
  };
  Calendar.prototype.render = function () {
    const parts = this.month.split("-").map(Number);
    const first = new Date(Date.UTC(parts[0], parts[1] - 1, 1));
    this.title.textContent = first.toLocaleDateString(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
    const grid = this.grid;
    grid.replaceChildren();
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].forEach(function (d) {
      grid.appendChild(el("div", { className: "cal-dow" }, d));
    });
    const offset = (first.getUTCDay() + 6) % 7;
    const start = new Date(first.getTime() - offset * 86400000);
    let monthTotal = 0;
    let monthTrades = 0;
    for (let i = 0; i < 42; i++) {
      const day = new Date(start.getTime() + i * 86400000);
      if (i >= 35 && day.getUTCMonth() !== first.getUTCMonth()) break;
      const key = day.toISOString().slice(0, 10);
      const row = this.byDay[key];
      const inMonth = day.getUTCMonth() === first.getUTCMonth();
      const box = el("div", { className: "cal-day" + (inMonth ? "" : " out"), "data-date": key });
      box.appendChild(el("div", { className: "d" }, String(day.getUTCDate())));
      if (row) {
        const v = Number(row.pnl);
        box.classList.add(v > 0 ? "up" : v < 0 ? "down" : "flat");
        box.appendChild(el("div", { className: "v " + JT.signClass(v) }, signed(v)));
        box.appendChild(el("div", { className: "muted" }, row.trades + (row.trades === 1 ? " trade" : " trades")));
        box.title = key + ": " + row.wins + " won, " + row.losses + " lost";
        if (inMonth) { monthTotal += v; monthTrades += row.trades; }
      }
      grid.appendChild(box);
    }
    this.total.replaceChildren();
    this.total.appendChild(document.createTextNode("Month: "));
    this.total.appendChild(el("span", { className: JT.signClass(monthTotal) }, signed(monthTotal)));
    this.total.appendChild(document.createTextNode(" · " + monthTrades + " trades"));
  };

  const STAT_ROWS = [
    ["Net P&L", function (s) { return signed(s.net_pnl); }, "net_pnl"],
    ["Gross profit", function (s) { return money(s.gross_profit); }],
    ["Gross loss", function (s) { return num(s.gross_loss) ? "−" + money(s.gross_loss) : money(0); }],
    ["Trades", function (s) { return s.trades + " (" + s.wins + " won, " + s.losses + " lost, " + s.breakeven + " flat)"; }],
    ["Win rate", function (s) { return pct(s.win_rate); }],
    ["Average win", function (s) { return money(s.average_win); }],
    ["Average loss", function (s) { return s.average_loss === null ? "—" : "−" + money(s.average_loss); }],
    ["Win/loss ratio", function (s) { return ratio(s.win_loss_ratio); }],
    ["Profit factor", function (s) { return profitFactor(s.profit_factor, s.gross_profit); }],
    ["Expectancy (per trade)", function (s) { return signed(s.expectancy); }, "expectancy"],
    ["Largest win", function (s) { return money(s.largest_win); }],
    ["Largest loss", function (s) { return s.largest_loss === null ? "—" : "−" + money(s.largest_loss); }],
    ["Max consecutive wins", function (s) { return String(s.max_consecutive_wins); }],
    ["Max consecutive losses", function (s) { return String(s.max_consecutive_losses); }],
    ["Average time in trade", function (s) { return duration(s.average_time_in_trade_seconds); }],
    ["Max drawdown", function (s) {
      if (!num(s.max_drawdown)) return money(0);
      return "−" + money(s.max_drawdown) + " (" + pct(s.max_drawdown_percent, 2) + " of " + money(s.max_drawdown_peak_equity) + ")";
    }],
    ["Drawdown dates", function (s) {
      if (!num(s.max_drawdown)) return "—";
      return "peak " + (s.max_drawdown_peak_at ? dateOnly(s.max_drawdown_peak_at) : "start") +
        " → low " + dateOnly(s.max_drawdown_trough_at) +
        " → " + (s.max_drawdown_recovered_at ? "recovered " + dateOnly(s.max_drawdown_recovered_at) : "not recovered");
    }],
    ["Current drawdown", function (s) { return num(s.current_drawdown) ? "−" + money(s.current_drawdown) : money(0); }],
    ["Recovery factor", function (s) { return ratio(s.recovery_factor); }],
    ["Sharpe (daily, annualised)", function (s) { return ratio(s.sharpe); }],
    ["Sortino (daily, annualised)", function (s) { return ratio(s.sortino); }],
    ["Cumulative return", function (s) { return pct(s.cumulative_return, 2); }],
    ["Best day", function (s) { return s.best_day ? s.best_day.date + "  " + signed(s.best_day.pnl) : "—"; }],
    ["Worst day", function (s) { return s.worst_day ? s.worst_day.date + "  " + signed(s.worst_day.pnl) : "—"; }],
    ["Trading days", function (s) { return String(s.trading_days); }],
  ];

  function statsTable(table, stats) {
    const body = table.tBodies[0];
    body.replaceChildren();
    STAT_ROWS.forEach(function (row) {
      const tr = el("tr");
      tr.appendChild(cell(row[0]));
      const td = cell(row[1](stats), "num");
      const cls = row[2] ? JT.signClass(stats[row[2]]) : "";
      if (cls) td.classList.add(cls);
      tr.appendChild(td);
      body.appendChild(tr);
    });
  }

  function groupTable(table, rows, linkFn) {
    const body = table.tBodies[0];
    body.replaceChildren();
    if (!rows || !rows.length) {
      const tr = el("tr");
      const td = cell("No trades", "empty");
      td.colSpan = 5;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (g) {
      const tr = el("tr");
      const name = cell("");
      const href = linkFn ? linkFn(g) : null;
      if (href) name.appendChild(el("a", { href: href }, g.label));
      else name.textContent = g.label;
      tr.appendChild(name);
      tr.appendChild(cell(String(g.trades), "num"));
      tr.appendChild(cell(pct(g.win_rate), "num"));
      tr.appendChild(cell(profitFactor(g.profit_factor, g.gross_profit), "num"));
      tr.appendChild(moneyCell(g.net_pnl));
      body.appendChild(tr);
    });
  }

  function isoDay(d) { return JT.localDay(d); }  // the day in the user's zone, as the server counts days

  window.JTA = {
    EquityChart: EquityChart, DailyChart: DailyChart, MultiLineChart: MultiLineChart,
    Calendar: Calendar, statsTable: statsTable, groupTable: groupTable, STAT_ROWS: STAT_ROWS,
    el: el, cell: cell, moneyCell: moneyCell, signed: signed, pct: pct, ratio: ratio,
    profitFactor: profitFactor, duration: duration, isoDay: isoDay, num: num,
    chartsAvailable: Boolean(LWC),
  };
})();
