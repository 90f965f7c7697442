/* The paper markets beside the paper accounts: source, bid/ask/last and the exchange session,
   refreshed every few seconds from /api/paper-markets/ (the rows are rendered by the server). */
(function () {
  "use strict";

  const REFRESH_MS = 5000;
  const script = document.currentScript;
  const card = document.getElementById("cc-paper-markets");
  const url = (card && card.dataset.url) || (script && script.dataset.url) || "/api/paper-markets/";

  function setText(row, selector, value) {
    const cell = row.querySelector(selector);
    if (cell) cell.textContent = value === null || value === undefined || value === "" ? "—" : value;
  }

  function badge(text, kind) {
    const span = document.createElement("span");
    span.className = "badge" + (kind ? " " + kind : "");
    span.textContent = text;
    return span;
  }

  function apply(markets) {
    for (const m of markets) {
      const row = document.querySelector('[data-market="' + m.account_id + ":" + m.symbol + '"]');
      if (!row) continue;
      setText(row, "[data-market-bid]", m.bid);
      setText(row, "[data-market-ask]", m.ask);
      setText(row, "[data-market-last]", m.last);
      const source = row.querySelector("[data-market-source]");
      if (source) {
        source.replaceChildren(
          m.error
            ? badge("paper broker not answering", "badge-red")
            : badge(m.source_label, m.source === "market data" ? "badge-green" : m.source === "alerts" ? "" : "badge-yellow")
        );
      }
      const session = row.querySelector("[data-market-session]");
      if (session) {
        const parts = [badge(m.open ? "Open" : "Closed", m.open ? "badge-green" : "badge-red")];
        if (!m.open) {
          const why = document.createElement("span");
          why.className = "muted";
          why.textContent = " " + m.session + (m.opens_at_local ? " · opens " + m.opens_at_local : "");
          parts.push(why);
        }
        session.replaceChildren(...parts);
      }
    }
  }

  async function refresh() {
    if (!document.querySelector("[data-paper-markets]") || document.hidden) return;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) apply(await response.json());
    } catch (e) {
      /* the next refresh tries again */
    }
  }

  setInterval(refresh, REFRESH_MS);
})();
